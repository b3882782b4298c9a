package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/goldimage/goldimage/pkg/convert"
)

const (
	diskSize   = 256 << 20 // virtual size of the generated disk
	extentSize = 4 << 20   // each written extent
	extents    = 6         // written extents; the rest of the disk is a hole
)

// generateDisk writes a sparse raw disk that differs per version, and the same disk as zstd-compressed qcow2.
func generateDisk(ctx context.Context, raw, qcow string, version int) error {
	f, err := os.Create(raw)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(diskSize); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(version), 42))
	buf := make([]byte, extentSize)
	for i := 0; i < extents; i++ {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		copy(buf, fmt.Sprintf("goldimage demo disk v%d extent %d\n", version, i))
		off := int64(i) * (diskSize / extents) &^ (extentSize - 1)
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	img, _, err := convert.Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("open generated disk: %w", err)
	}
	defer img.Close()
	if _, err := convert.WriteQcow2(ctx, img, qcow, convert.WithQcow2Compression(convert.QcowZstd)); err != nil {
		return fmt.Errorf("write qcow2: %w", err)
	}
	return nil
}

// verifyStore checks that the DataSource's current link names an import of this version whose
// bytes equal raw, and that garbage collection left at most keep imports.
func verifyStore(sourceDir, raw string, version int) error {
	current, err := filepath.EvalSymlinks(filepath.Join(sourceDir, "current"))
	if err != nil {
		return fmt.Errorf("DataSource %s has no current import: %w", dataSource, err)
	}
	want, err := fileSum(raw)
	if err != nil {
		return err
	}
	got, err := fileSum(current)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("current import %s has sha256 %x, want %x (the v%d disk)", current, got, want, version)
	}
	imports, err := filepath.Glob(filepath.Join(sourceDir, "*.img"))
	if err != nil {
		return err
	}
	if len(imports) > keep || len(imports) > version {
		return fmt.Errorf("store holds %d imports after v%d, want at most %d", len(imports), version, min(keep, version))
	}
	fmt.Printf("   current -> %s: sha256 %x matches v%d; imports kept: %s\n", filepath.Base(current), got[:8], version, names(imports))
	return nil
}

func fileSum(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return h.Sum(nil), nil
}

func names(paths []string) string {
	if len(paths) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, p := range paths {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(filepath.Base(p))
	}
	return b.String()
}
