package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/convert"
)

// isClone reports whether the source is a host-assisted clone stream.
func isClone(src string) bool { return strings.HasPrefix(src, clone.Scheme+"://") }

// cloneInto copies a clone stream (clone+https://) into t: the server is trusted only if its certificate is
// one in c.CertDir, c.Password is the bearer token; data frames are written, holes stay holes.
func cloneInto(ctx context.Context, c *Config, t *target, progress progressFunc) (contract.Termination, error) {
	s, err := openClone(ctx, c)
	if err != nil {
		return contract.Termination{}, err
	}
	defer s.Close()
	size := s.Size()
	if err := t.checkFits(size, c.Size); err != nil {
		return contract.Termination{}, err
	}
	if err := copyFrames(ctx, t, s.Reader, progress); err != nil {
		return contract.Termination{}, err
	}
	final := t.diskSize(size, c.Size)
	if err := t.finish(final, c.Preallocate); err != nil {
		return contract.Termination{}, err
	}
	return contract.Termination{Result: contract.ResultSuccess, VirtualSize: final, Format: string(convert.FormatRaw)}, nil
}

// openClone reads the trusted certificates and connects.
func openClone(ctx context.Context, c *Config) (*clone.Stream, error) {
	if c.CertDir == "" || c.Password == "" {
		return nil, Usagef("a %s:// source needs the clone certificate (--cert-dir) and token (env %s)", clone.Scheme, contract.EnvSecretKey)
	}
	pem, err := readPEMDir(c.CertDir)
	if err != nil {
		return nil, err
	}
	roots, err := clone.RootPool(pem)
	if err != nil {
		return nil, fatalf("%s: %w", c.CertDir, err)
	}
	s, err := clone.Fetch(ctx, c.Source, c.Password, roots)
	if errors.Is(err, clone.ErrRefused) || errors.Is(err, clone.ErrCertificate) {
		return nil, fatalf("%w", err)
	}
	return s, err
}

// copyFrames writes every frame of r to t, reporting progress over the announced size.
func copyFrames(ctx context.Context, t *target, r *clone.Reader, progress progressFunc) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive clone: %w", err)
		}
		if f.Hole {
			err = t.zero(f.Off, f.Len)
		} else {
			err = t.writeChunk(f.Data, f.Off)
		}
		if err != nil {
			return err
		}
		progress(f.Off+f.Len, r.Size())
	}
}

// readPEMDir concatenates the regular files of dir (Secret volume keys).
func readPEMDir(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fatalf("read clone certificate directory: %w", err)
	}
	var out []byte
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue // Secret volumes hold ..data symlinks and timestamped directories
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fatalf("read clone certificate: %w", err)
		}
		out = append(append(out, b...), '\n')
	}
	return out, nil
}
