package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/goldimage/goldimage/pkg/contract"
)

// install copies this executable into dir (the init container of a node-pull importer pod), so the
// containerDisk image, which has no importer of its own, can run it from the shared volume.
func install(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: importer install DIR (copies the importer into DIR for pullMethod node)")
		return contract.ExitUsage
	}
	if err := installInto(args[0]); err != nil {
		fmt.Fprintf(stderr, "importer install: %v\n", err)
		return contract.ExitRetryable
	}
	return contract.ExitOK
}

func installInto(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	dest := filepath.Join(dir, contract.NodePullBinary)
	tmp := dest + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", self, dest, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// nodeDiskSource is the file:// source of the containerDisk this container runs as (pullMethod node): the
// single regular file under dir, as KubeVirt's containerDisk convention puts it.
func nodeDiskSource(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("pullMethod node: the image has no %s directory; is it a containerDisk?", dir)
	}
	if err != nil {
		return "", fmt.Errorf("pullMethod node: read %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(dir, e.Name())) // follows a link to a file inside the image
		if err == nil && info.Mode().IsRegular() {
			files = append(files, e.Name())
		}
	}
	switch len(files) {
	case 0:
		return "", fmt.Errorf("pullMethod node: no disk image file under %s in the containerDisk", dir)
	case 1:
		return "file://" + filepath.Join(dir, files[0]), nil
	}
	return "", fmt.Errorf("pullMethod node: %d files under %s in the containerDisk (%s, ...); want exactly one", len(files), dir, files[0])
}
