package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/goldimage/goldimage/test/bench/benchfile"

	"github.com/klauspost/compress/gzip"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/goldimage/goldimage/pkg/registry"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "importer-bench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("importer-bench", flag.ExitOnError)
	importer := fs.String("importer", "", "path of the importer binary (required)")
	dir := fs.String("dir", "", "work directory (default: a new temporary directory, removed afterwards)")
	size := fs.String("size", "4G", "virtual size of the disk")
	data := fs.String("data", "1G", "bytes of data in the disk")
	repeat := fs.Int("repeat", 1, "runs per side; the fastest counts")
	_ = fs.Parse(args)
	vsize, err1 := benchfile.ParseSize(*size)
	dsize, err2 := benchfile.ParseSize(*data)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if *importer == "" {
		return errors.New("-importer is required")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "goldimage-importer-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	b := &bench{dir: *dir, importer: *importer, repeat: max(*repeat, 1), src: filepath.Join(*dir, "source.raw")}
	fmt.Printf("generating %s virtual / %s data in %s\n", *size, *data, *dir)
	if err := b.prepare(vsize, dsize); err != nil {
		return err
	}
	fmt.Println("time: wall clock of the fastest run; cpu: user+system; speedup: their time / our time;")
	fmt.Println("durability: the importer fsyncs its output, so the curl pipelines end in `sync FILE` (but in the no-sync row); qemu-img convert")
	fmt.Println("(cache=unsafe by default) does not sync, which favours the skopeo rows;")
	fmt.Println("RSS: peak of the largest process (in a pipeline or across the steps), from GNU time;")
	fmt.Println("scratch: bytes written besides the output (theirs: skopeo's dir and the extracted file; ours: as the importer reports)")
	fmt.Printf("%-26s %9s %9s %8s %9s %9s %8s %9s %9s %9s %9s  %s\n", "case", "theirs", "ours", "speedup",
		"their cpu", "our cpu", "cpu x", "their RSS", "our RSS", "their scr", "our scr", "output")
	return b.compareAll()
}

// bench holds the prepared inputs and the servers.
type bench struct {
	dir, importer, src string
	repeat             int
	regHost, httpURL   string
	qcowC              string // qcow2 with compressed clusters, pushed as bench/disk-c:v1
}

// prepare writes the source disk, its qcow2, compressed copies, pushes the containerDisk and starts the servers.
func (b *bench) prepare(vsize, dsize int64) error {
	if err := benchfile.Generate(b.src, vsize, dsize); err != nil {
		return err
	}
	qcow := filepath.Join(b.dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", b.src, qcow).CombinedOutput(); err != nil {
		return fmt.Errorf("make qcow2: %v: %s", err, out)
	}
	web := filepath.Join(b.dir, "web")
	if err := os.MkdirAll(web, 0o755); err != nil {
		return err
	}
	if err := gzipFile(b.src, filepath.Join(web, "disk.raw.gz")); err != nil {
		return err
	}
	// The zstd command at its default level, as users make their .raw.zst (it stores zeros as RLE blocks).
	if out, err := exec.Command("zstd", "-q", "-f", "-3", b.src, "-o", filepath.Join(web, "disk.raw.zst")).CombinedOutput(); err != nil {
		return fmt.Errorf("zstd: %v: %s", err, out)
	}
	blobs := filepath.Join(b.dir, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	blobHost, err := serve(http.FileServer(http.Dir(blobs)))
	if err != nil {
		return err
	}
	if b.regHost, err = serve(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)),
		ggcr.WithBlobHandler(newRedirectingBlobs(blobs, "http://"+blobHost)))); err != nil {
		return err
	}
	host, err := serve(http.FileServer(http.Dir(web)))
	if err != nil {
		return err
	}
	b.httpURL = "http://" + host
	c, err := registry.New()
	if err != nil {
		return err
	}
	// gzip level 6: what docker/buildah/skopeo write by default, so both sides decompress the same kind of layer.
	_, err = c.Push(context.Background(), b.regHost+"/bench/disk:v1", qcow, registry.WithCompressionLevel(6))
	if err != nil {
		return fmt.Errorf("push containerDisk: %w", err)
	}
	// Compressed clusters, as every quay.io/containerdisks image has; kept for the file-to-file row.
	b.qcowC = filepath.Join(b.dir, "disk-c.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", b.src, b.qcowC).CombinedOutput(); err != nil {
		return fmt.Errorf("make compressed qcow2: %v: %s", err, out)
	}
	if _, err = c.Push(context.Background(), b.regHost+"/bench/disk-c:v1", b.qcowC, registry.WithCompressionLevel(6)); err != nil {
		return fmt.Errorf("push compressed containerDisk: %w", err)
	}
	return os.Remove(qcow)
}

// serve runs h on a loopback port for the life of the process and returns host:port.
func serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, h) //nolint:errcheck // lives until the process exits
	return ln.Addr().String(), nil
}

// gzipFile writes src compressed as gzip (default level).
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	w := gzip.NewWriter(out)
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("compress %s: %w", dst, err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Close()
}
