// Command disk-push publishes an installed disk (raw, or any format pkg/convert reads) as a KubeVirt
// containerDisk, converting it to compressed qcow2 first, and writes the digest and the pinned
// reference to Tekton result files. A DataImportCron polling the repository picks the push up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/goldimage/goldimage/internal/taskresult"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/tasks/diskpush"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskresult.Exit("disk-push", run(ctx, os.Args[1:], os.Stdout))
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("disk-push", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	disk := fs.String("disk", "", "disk to push: a file or block device (required)")
	image := fs.String("image", "", "image reference to push to (required)")
	format := fs.String("format", "qcow2", "qcow2 (convert first unless it is qcow2) or as-is")
	scratch := fs.String("scratch-dir", os.TempDir(), "where the qcow2 copy is written")
	insecure := fs.Bool("insecure", false, "allow plain HTTP and unverified TLS to the image's registry")
	dockerConfig := fs.String("docker-config", "", "directory with .dockerconfigjson or config.json credentials (empty: anonymous)")
	digestFile := fs.String("digest-file", "", "write the pushed digest here")
	urlFile := fs.String("url-file", "", "write the reference pinned to the digest here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *disk == "" || *image == "" || fs.NArg() > 0 {
		return errors.New("usage: disk-push --disk PATH --image REF [--format qcow2|as-is] [--insecure] [--docker-config DIR]")
	}
	if *format != "qcow2" && *format != "as-is" {
		return fmt.Errorf("format %q: want qcow2 or as-is", *format)
	}
	opts, err := clientOptions(*image, *insecure, *dockerConfig)
	if err != nil {
		return err
	}
	client, err := registry.New(opts...)
	if err != nil {
		return fmt.Errorf("registry client: %w", err)
	}
	res, err := diskpush.Publish(ctx, client, *image, *disk, diskpush.WithQcow2(*format == "qcow2"), diskpush.WithScratchDir(*scratch))
	if err != nil {
		return err
	}
	for file, value := range map[string]string{*digestFile: res.Digest, *urlFile: res.URL} {
		if file == "" {
			continue
		}
		if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	fmt.Fprintf(out, "pushed %s as %s\n", *disk, res.URL)
	return nil
}

// clientOptions turns the flags into registry client options.
func clientOptions(image string, insecure bool, dockerConfig string) ([]registry.Option, error) {
	var opts []registry.Option
	if insecure {
		ref, err := name.ParseReference(image)
		if err != nil {
			return nil, fmt.Errorf("image reference %q: %w", image, err)
		}
		opts = append(opts, registry.WithInsecureRegistries(ref.Context().RegistryStr()))
	}
	if dockerConfig == "" {
		return opts, nil
	}
	for _, f := range []string{".dockerconfigjson", "config.json", ".dockercfg"} {
		b, err := os.ReadFile(filepath.Join(dockerConfig, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read registry credentials: %w", err)
		}
		return append(opts, registry.WithPullSecret(b)), nil
	}
	return nil, fmt.Errorf("no .dockerconfigjson, config.json or .dockercfg in %s", dockerConfig)
}
