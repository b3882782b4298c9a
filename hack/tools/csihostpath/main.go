package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"k8s.io/klog/v2"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	"github.com/goldimage/goldimage/hack/tools/csihostpath/internal/driver"
)

// version is the vendor version reported by GetPluginInfo; set with -ldflags -X main.version=...
var version = "dev"

// sizeSuffixes maps the accepted size suffixes to their multipliers.
var sizeSuffixes = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
}

// parseSize parses a positive byte count with an optional Kubernetes-style
// suffix (Ki, Mi, Gi, Ti, Pi or k/K, M, G, T, P), such as "1Ti" or "500M".
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, x := range sizeSuffixes {
		if n, ok := strings.CutSuffix(s, x.suffix); ok {
			num, mult = n, x.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q is not a positive integer with an optional suffix (Ki, Mi, Gi, Ti, Pi, k, M, G, T, P)", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q overflows int64", s)
	}
	return n * mult, nil
}

func main() {
	klog.InitFlags(nil)
	endpoint := flag.String("endpoint", "unix:///csi/csi.sock", "CSI endpoint the sidecars and the kubelet connect to")
	name := flag.String("drivername", "hostpath.csi.goldimage.io", "CSI driver name")
	nodeID := flag.String("nodeid", "", "node id, also the topology value (required)")
	dataDir := flag.String("datadir", "/csi-data-dir", "directory holding volumes, snapshots and their metadata")
	regDir := flag.String("registration-dir", "", "kubelet plugin registration directory (e.g. /registration mounting /var/lib/kubelet/plugins_registry); empty: do not register")
	regPath := flag.String("kubelet-registration-path", "", "path of the CSI socket on the host, as the kubelet reaches it (required with --registration-dir)")
	maxSize := flag.String("max-volume-size", "1Ti", "largest volume size; larger requests get OutOfRange")
	flag.Parse()
	if err := run(*endpoint, *name, *nodeID, *dataDir, *regDir, *regPath, *maxSize); err != nil {
		klog.ErrorS(err, "csi-hostpath failed")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

// run starts the CSI server and, when asked, the kubelet registration server,
// and serves until SIGINT or SIGTERM or until the kubelet refuses registration.
func run(endpoint, name, nodeID, dataDir, regDir, regPath, maxSizeFlag string) error {
	if nodeID == "" {
		return errors.New("--nodeid is required")
	}
	if regDir != "" && regPath == "" {
		return errors.New("--kubelet-registration-path is required with --registration-dir")
	}
	maxSize, err := parseSize(maxSizeFlag)
	if err != nil {
		return fmt.Errorf("--max-volume-size: %w", err)
	}
	sock, err := driver.ParseEndpoint(endpoint)
	if err != nil {
		return err
	}
	d, err := driver.New(driver.Config{Name: name, Version: version, NodeID: nodeID, DataDir: dataDir, MaxVolumeSize: maxSize})
	if err != nil {
		return err
	}
	lis, err := driver.ListenUnix(sock)
	if err != nil {
		return err
	}
	srv := d.NewGRPCServer()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lis) }()
	klog.InfoS("Serving CSI", "driver", name, "version", version, "node", nodeID, "endpoint", sock, "datadir", dataDir, "maxVolumeSize", maxSize)

	if regDir != "" {
		regSock := filepath.Join(regDir, name+"-reg.sock")
		rl, err := driver.ListenUnix(regSock)
		if err != nil {
			return err
		}
		defer os.Remove(regSock)
		rs := grpc.NewServer(grpc.UnaryInterceptor(driver.LogRPC))
		registerapi.RegisterRegistrationServer(rs, &driver.Registrar{
			Name:     name,
			Endpoint: regPath,
			OnStatus: func(err error) {
				// Like node-driver-registrar: exit so the container restarts and registers afresh.
				if err != nil {
					errc <- err
				}
			},
		})
		go func() { errc <- rs.Serve(rl) }()
		defer rs.Stop()
		klog.InfoS("Serving kubelet plugin registration", "socket", regSock, "kubeletRegistrationPath", regPath)
	}

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sigc:
		klog.InfoS("Stopping", "signal", s.String())
		srv.GracefulStop()
		return nil
	case err := <-errc:
		srv.Stop()
		return err
	}
}
