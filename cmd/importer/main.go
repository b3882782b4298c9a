package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer"
)

const usage = `importer streams a disk image into a file or block device as sparse raw.

Usage:
  importer --source URL --dest PATH [--size N] [--scratch DIR] [--output json]
  importer serve --file PATH [--listen ADDR] [--cert-dir DIR]   (clone source; see importer serve --help)
  importer install DIR                                          (copies itself into DIR for pullMethod node)

Sources:
  docker://REGISTRY/IMAGE:TAG   containerDisk from a registry (the file under /disk/)
  oci-archive:FILE[:TAG]        containerDisk in an OCI archive (skopeo copy ... oci-archive:FILE)
  oci:DIR[:TAG]                 containerDisk in an OCI layout directory (skopeo copy ... oci:DIR)
  http(s)://HOST/PATH           qcow2/VMDK/VHD(X) read in place with range requests; .gz/.xz/.zst streamed
  s3://HOST/BUCKET/KEY          any S3-compatible endpoint (https; --s3 with http:// for plain http)
  file:///PATH                  local file
  blank:                        empty disk of --size
  clone+https://HOST:PORT/disk  host-assisted clone from "importer serve" (--cert-dir holds its certificate,
                                env IMPORTER_SECRET_KEY its token)

Examples:
  importer --source https://example.com/fedora.qcow2 --dest /data/disk.img --size 20Gi
  importer --source docker://quay.io/containerdisks/fedora:41 --dest /dev/vdb --scratch /scratch
  importer --source http://mirror/img.raw.zst --checksum sha256:ab12... --dest disk.img --output json
  importer --source blank: --size 10Gi --dest /data/disk.img
  importer --source https://example.com/files.tar.gz --content-type archive --dest /data

In a pod the IMPORTER_* environment (pkg/contract) supplies defaults; flags win. Exit codes:
0 success, 1 retryable failure, 2 bad input, 3 bad flags. The result (JSON) goes to --termination-log.

Flags:
`

// flags is the parsed command line.
type flags struct {
	cfg            importer.Config
	size           string
	output         string
	terminationLog string
	metricsAddr    string
	diskID         string
	progress       string
	overhead       string
	contentType    string
	nodePull       bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses arguments, imports, reports, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return serve(args[1:], os.Getenv, stderr)
	}
	if len(args) > 0 && args[0] == "install" {
		return install(args[1:], stderr)
	}
	f, err := parseFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return contract.ExitOK
	}
	if err == nil && f.nodePull {
		f.cfg.Source, err = nodeDiskSource(contract.NodePullDiskDir)
		if err != nil {
			fmt.Fprintf(stderr, "importer: %v\n", err)
			writeTermination(f.terminationLog, contract.Termination{Result: contract.ResultFailure, Message: err.Error()}, stderr)
			return contract.ExitFatal
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "importer: %v\n", err)
		writeTermination(f.terminationLog, contract.Termination{Result: contract.ResultFailure, Message: err.Error()}, stderr)
		return contract.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := newReporter(f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "importer: %v\n", err)
		return contract.ExitUsage
	}
	defer rep.close()
	f.cfg.Progress = rep.progress
	f.cfg.Log = func(line string) { fmt.Fprintf(stderr, "importer: %s\n", line) }
	term, err := importer.Run(ctx, f.cfg)
	rep.done(err == nil)
	writeTermination(f.terminationLog, term, stderr)
	printResult(stdout, stderr, f, term, err)
	return importer.ExitCode(err)
}

// printResult tells a person (or a script, with --output json) how the import went.
func printResult(stdout, stderr io.Writer, f *flags, term contract.Termination, err error) {
	if f.output == "json" {
		b, _ := json.Marshal(term)
		fmt.Fprintln(stdout, string(b))
		return
	}
	if err != nil {
		fmt.Fprintf(stderr, "importer: %s\n", term.Message)
		return
	}
	fmt.Fprintf(stdout, "imported %s into %s: %s, %d bytes virtual", f.cfg.Source, f.cfg.Dest, term.Format, term.VirtualSize)
	if term.Digest != "" {
		fmt.Fprintf(stdout, ", %s", term.Digest)
	}
	fmt.Fprintln(stdout)
}

// writeTermination writes the termination message last; a failure to write it is logged, not fatal.
func writeTermination(path string, term contract.Termination, stderr io.Writer) {
	if path == "" {
		return
	}
	b, err := term.Marshal()
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "importer: write termination message: %v\n", err)
	}
}

// parseFlags reads the environment defaults, then the flags.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	inPod := getenv(contract.EnvEndpoint) != ""
	fs := flag.NewFlagSet("importer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	c := &f.cfg
	fs.StringVar(&c.Source, "source", getenv(contract.EnvEndpoint), "source URL (env "+contract.EnvEndpoint+")")
	fs.StringVar(&c.Dest, "dest", envOr(getenv, contract.EnvDestination, podDefault(inPod, contract.FilesystemTarget)), "destination file or block device (env "+contract.EnvDestination+")")
	fs.StringVar(&f.size, "size", getenv(contract.EnvImageSize), "requested disk size, bytes or a quantity like 20Gi (env "+contract.EnvImageSize+")")
	fs.StringVar(&c.Format, "format", importer.FormatRaw, "destination format: raw, the only one (sparse raw file or block device)")
	fs.StringVar(&c.ScratchDir, "scratch", getenv(contract.EnvScratchDir), "scratch directory for VHD(X)/VMDK streams, and for qcow2 streams whose clusters come before their tables (default: beside --dest; env "+contract.EnvScratchDir+")")
	fs.StringVar(&c.Checksum, "checksum", getenv(contract.EnvChecksum), "expected sha256:<hex> of the source bytes (env "+contract.EnvChecksum+")")
	fs.StringVar(&c.User, "user", getenv(contract.EnvAccessKeyID), "user or S3 access key (env "+contract.EnvAccessKeyID+"); the password or secret key comes only from env "+contract.EnvSecretKey)
	fs.StringVar(&c.CertDir, "cert-dir", getenv(contract.EnvCertDir), "directory of extra CA certificates in PEM (env "+contract.EnvCertDir+")")
	fs.BoolVar(&c.InsecureTLS, "insecure-tls", getenv(contract.EnvInsecureTLS) == "true", "skip TLS verification of the source (env "+contract.EnvInsecureTLS+")")
	fs.StringVar(&c.Platform, "platform", envPlatform(getenv), "os/arch[/variant] of the containerDisk to pick from an image index (env "+
		contract.EnvPlatformOS+", "+contract.EnvPlatformArch+"; default linux/"+runtime.GOARCH+")")
	fs.BoolVar(&c.S3, "s3", getenv(contract.EnvSource) == "s3", "treat an http(s):// source as an S3 endpoint (env "+contract.EnvSource+"=s3)")
	fs.BoolVar(&c.Preallocate, "preallocate", getenv(contract.EnvPreallocation) == "true", "allocate every block of the destination (env "+contract.EnvPreallocation+")")
	fs.StringVar(&f.overhead, "filesystem-overhead", envOr(getenv, contract.EnvFilesystemOverhead, contract.DefaultFilesystemOverhead),
		"share of a filesystem destination's free space kept for the filesystem; the disk gets min(size, free*(1-overhead)) (env "+
			contract.EnvFilesystemOverhead+")")
	fs.BoolVar(&c.DirectIO, "direct-io", getenv(contract.EnvDirectIO) == "true",
		"write images converted from qcow2/VMDK/VHD(X) or read in place with O_DIRECT, bypassing the page cache (env "+contract.EnvDirectIO+")")
	discard := fs.Bool("discard", getenv(contract.EnvDiscard) != "false",
		"block devices: discard zero ranges (punch-hole, reads back as zeros) instead of writing zeros (env "+contract.EnvDiscard+")")
	fs.Func("header", "extra HTTP header \"Name: value\", repeatable (env "+contract.EnvExtraHeaderPrefix+"N)", func(v string) error {
		c.Headers = append(c.Headers, v)
		return nil
	})
	fs.StringVar(&f.contentType, "content-type", envOr(getenv, contract.EnvContentType, "kubevirt"),
		"kubevirt (a disk image) or archive (a tar, optionally compressed, unpacked into the directory --dest) (env "+contract.EnvContentType+")")
	fs.BoolVar(&f.nodePull, "node-pull", getenv(contract.EnvPullMethod) == "node",
		"read the disk from "+contract.NodePullDiskDir+" of this container, which runs the containerDisk image itself, instead of --source (env "+contract.EnvPullMethod+"=node)")
	fs.StringVar(&f.output, "output", "text", "result format on stdout: text or json")
	fs.StringVar(&f.terminationLog, "termination-log", podDefault(inPod, contract.TerminationLogPath), "file for the JSON termination message (default "+contract.TerminationLogPath+" in a pod)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", podDefault(inPod, ":"+strconv.Itoa(contract.ProgressPort)), "address serving /metrics with the progress gauge (default :8443 in a pod, off otherwise)")
	fs.StringVar(&f.diskID, "disk-id", getenv(contract.EnvDiskID), "ownerUID label of the progress metric (env "+contract.EnvDiskID+")")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	c.Password = getenv(contract.EnvSecretKey)
	c.Headers = append(c.Headers, envHeaders(getenv)...)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	c.NoDiscard = !*discard
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q; every option is a --flag", fs.Arg(0))
	}
	return f, f.finish(getenv)
}

// finish validates values that need parsing.
func (f *flags) finish(getenv func(string) string) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: want text or json", f.output)
	}
	if f.progress != "auto" && f.progress != "always" && f.progress != "never" {
		return fmt.Errorf("--progress %q: want auto, always or never", f.progress)
	}
	switch f.contentType {
	case "kubevirt":
	case "archive":
		f.cfg.Archive = true
	default:
		return fmt.Errorf("--content-type %q: want kubevirt (a disk image) or archive (a tar unpacked into --dest DIR)", f.contentType)
	}
	if f.size != "" {
		q, err := resource.ParseQuantity(f.size)
		if err != nil {
			return fmt.Errorf("--size %q: %w", f.size, err)
		}
		f.cfg.Size = q.Value()
	}
	o, err := strconv.ParseFloat(f.overhead, 64)
	if err != nil || !(o >= 0 && o < 1) {
		return fmt.Errorf("--filesystem-overhead %q: want a decimal in [0, 1) such as %s", f.overhead, contract.DefaultFilesystemOverhead)
	}
	f.cfg.FilesystemOverhead = o
	if f.cfg.Source == "" || f.cfg.Dest == "" {
		return errors.New("--source and --dest are required (see --help)")
	}
	return nil
}

// envHeaders collects IMPORTER_EXTRA_HEADER_0, _1, ... until the first missing one.
func envHeaders(getenv func(string) string) []string {
	var hs []string
	for i := 0; ; i++ {
		h := getenv(contract.EnvExtraHeaderPrefix + strconv.Itoa(i))
		if h == "" {
			return hs
		}
		hs = append(hs, h)
	}
}

// envPlatform returns "os/arch" from IMPORTER_PLATFORM_OS and _ARCH, filling a missing half with
// linux or this binary's architecture; "" when neither is set.
func envPlatform(getenv func(string) string) string {
	goos, arch := getenv(contract.EnvPlatformOS), getenv(contract.EnvPlatformArch)
	if goos == "" && arch == "" {
		return ""
	}
	if goos == "" {
		goos = "linux"
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	return goos + "/" + arch
}

// envOr returns the variable's value or def.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// podDefault returns v inside an importer pod and "" when run by hand.
func podDefault(inPod bool, v string) string {
	if inPod {
		return v
	}
	return ""
}
