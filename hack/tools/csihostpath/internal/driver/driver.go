package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
)

// TopologyKey is the topology segment key under which volumes and the node
// report the node id.
const TopologyKey = "topology.hostpath.csi.goldimage.io/node"

// DefaultVolumeSize is the capacity of a volume created without a capacity range.
const DefaultVolumeSize int64 = 1 << 30

// Config configures a Driver.
type Config struct {
	// Name is the CSI driver name reported by GetPluginInfo.
	Name string
	// Version is the vendor version reported by GetPluginInfo.
	Version string
	// NodeID is this node's id; it is also the value of TopologyKey.
	NodeID string
	// DataDir holds all volumes, snapshots and their metadata.
	DataDir string
	// MaxVolumeSize bounds volume capacities; larger requests get OutOfRange.
	MaxVolumeSize int64
}

// Driver implements the CSI identity, controller and node services for
// volumes kept under Config.DataDir on one node.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	cfg Config

	// mu serialises every RPC that reads or changes state: simple, and
	// plenty for a test cluster.
	mu    sync.Mutex
	store *store
}

// New validates cfg, opens (or initialises) the data directory and returns a Driver.
func New(cfg Config) (*Driver, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("driver name is empty")
	case cfg.NodeID == "":
		return nil, errors.New("node id is empty")
	case cfg.DataDir == "" || !filepath.IsAbs(cfg.DataDir):
		return nil, fmt.Errorf("data directory %q is not an absolute path", cfg.DataDir)
	case cfg.MaxVolumeSize <= 0:
		return nil, fmt.Errorf("max volume size %d is not positive", cfg.MaxVolumeSize)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	// Resolve symlinks once: loop devices report their backing file by its
	// real path, and detachLoop compares that with the volume's data path.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	dir, err := filepath.EvalSymlinks(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory: %w", err)
	}
	cfg.DataDir = dir
	s, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open data directory %s: %w", cfg.DataDir, err)
	}
	klog.InfoS("Loaded data directory", "path", cfg.DataDir, "volumes", len(s.volumes), "snapshots", len(s.snapshots))
	return &Driver{cfg: cfg, store: s}, nil
}

// ParseEndpoint returns the socket path of a unix:// (or unix:) endpoint or
// of a plain absolute path.
func ParseEndpoint(ep string) (string, error) {
	var p string
	switch {
	case strings.HasPrefix(ep, "unix://"):
		p = strings.TrimPrefix(ep, "unix://")
	case strings.HasPrefix(ep, "unix:"):
		p = strings.TrimPrefix(ep, "unix:")
	case strings.Contains(ep, "://"):
		return "", fmt.Errorf("endpoint %q: only unix sockets are supported", ep)
	default:
		p = ep
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("endpoint %q: socket path is not absolute", ep)
	}
	return filepath.Clean(p), nil
}

// ListenUnix removes a stale socket at path, creates its directory and listens on it.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

// NewGRPCServer returns a gRPC server serving d's CSI services, logging one
// line per RPC.
func (d *Driver) NewGRPCServer() *grpc.Server {
	srv := grpc.NewServer(grpc.UnaryInterceptor(LogRPC))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	return srv
}

// LogRPC is a unary interceptor logging each RPC's method, outcome and duration.
func LogRPC(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	st := status.Convert(err)
	if err != nil {
		klog.ErrorS(nil, "RPC failed", "method", info.FullMethod, "code", st.Code().String(), "message", st.Message(), "duration", time.Since(start))
	} else {
		klog.InfoS("RPC", "method", info.FullMethod, "code", st.Code().String(), "duration", time.Since(start))
	}
	return resp, err
}

// topology is the single topology segment of this node.
func (d *Driver) topology() *csi.Topology {
	return &csi.Topology{Segments: map[string]string{TopologyKey: d.cfg.NodeID}}
}
