package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

const serveUsage = `importer serve streams a disk file or block device to one clone importer over TLS.

Usage:
  importer serve [--file PATH] [--listen ADDR] [--cert-dir DIR] [--once=false]

The certificate and key are DIR/tls.crt and DIR/tls.key; clients must present the token from env
IMPORTER_SECRET_KEY as "Authorization: Bearer". The disk goes out as sparse frames (pkg/clone); with
--once (the default) the server exits 0 after the first complete transfer.

Flags:
`

// serveFlags is the parsed "importer serve" command line.
type serveFlags struct {
	file, listen, certDir string
	once                  bool
}

// serve runs the clone source server and returns the exit code.
func serve(args []string, getenv func(string) string, stderr io.Writer) int {
	f, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return contract.ExitOK
	}
	if err == nil && getenv(contract.EnvSecretKey) == "" {
		err = fmt.Errorf("no token: set env %s", contract.EnvSecretKey)
	}
	if err != nil {
		fmt.Fprintf(stderr, "importer serve: %v\n", err)
		return contract.ExitUsage
	}
	cfg, err := loadServerTLS(f.certDir)
	if err != nil {
		fmt.Fprintf(stderr, "importer serve: %v\n", err)
		return contract.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []clone.ServerOption{clone.WithLogf(func(format string, a ...any) { fmt.Fprintf(stderr, "importer serve: "+format+"\n", a...) })}
	if f.once {
		opts = append(opts, clone.WithOnServed(cancel))
	}
	fmt.Fprintf(stderr, "importer serve: serving %s on %s\n", f.file, f.listen)
	if err := clone.ListenAndServe(served, f.listen, clone.NewServer(f.file, getenv(contract.EnvSecretKey), opts...), cfg); err != nil {
		fmt.Fprintf(stderr, "importer serve: %v\n", err)
		return contract.ExitRetryable
	}
	if ctx.Err() != nil {
		return contract.ExitRetryable // stopped before a complete transfer
	}
	return contract.ExitOK
}

// parseServeFlags reads the serve flags; the default file is the filesystem target if present, else the block device.
func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("importer serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); fs.PrintDefaults() }
	def := contract.FilesystemTarget
	if _, err := os.Stat(def); err != nil {
		def = contract.BlockTarget
	}
	fs.StringVar(&f.file, "file", def, "disk file or block device to serve")
	fs.StringVar(&f.listen, "listen", ":"+strconv.Itoa(contract.ClonePort), "address to listen on")
	fs.StringVar(&f.certDir, "cert-dir", contract.CloneCertDir, "directory with tls.crt and tls.key")
	fs.BoolVar(&f.once, "once", true, "exit after the first complete transfer")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q; every option is a --flag", fs.Arg(0))
	}
	return f, nil
}

// loadServerTLS reads the certificate and key of the clone.
func loadServerTLS(dir string) (*tls.Config, error) {
	cert, err := os.ReadFile(filepath.Join(dir, clone.KeyCert))
	if err != nil {
		return nil, fmt.Errorf("read clone certificate: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, clone.KeyKey))
	if err != nil {
		return nil, fmt.Errorf("read clone key: %w", err)
	}
	return clone.TLSConfig(cert, key)
}
