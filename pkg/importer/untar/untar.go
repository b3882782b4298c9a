package untar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Stats counts what Extract unpacked.
type Stats struct {
	Files int   // regular files written
	Dirs  int   // directories created
	Bytes int64 // content bytes of the regular files
}

// ErrRefused marks archives Extract will not unpack (unsafe or unsupported entries, too large, not a tar).
var ErrRefused = errors.New("archive refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Extract unpacks the tar stream r into the existing directory dir: directories and regular files only,
// permission bits kept (set-id and sticky bits dropped), ownership and times ignored. Files already in dir
// under an entry's name are replaced. The regular files may total at most limit bytes (0: no limit). Each
// file is synced before the next entry; dir is synced at the end. A refused entry stops the extraction with
// an error wrapping ErrRefused that names it; what was unpacked before stays.
func Extract(ctx context.Context, r io.Reader, dir string, limit int64) (Stats, error) {
	var st Stats
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("open archive destination: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for entries := 0; ; entries++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if entries == 0 {
				return st, refuse("the source is empty or not a tar archive")
			}
			break
		}
		if err != nil {
			if entries == 0 {
				return st, refuse("the source is not a tar archive (%v)", err)
			}
			return st, fmt.Errorf("%w: read entry %d: %v", ErrRefused, entries+1, err)
		}
		if err := extractEntry(root, tr, h, limit, &st); err != nil {
			return st, err
		}
	}
	if err := syncDir(root); err != nil {
		return st, err
	}
	return st, nil
}

// entryName checks a tar entry name and returns it cleaned and relative ("" for the archive root itself).
func entryName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", refuse("entry %q has an empty or invalid name", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", refuse("entry %q has an absolute path", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", refuse("entry %q climbs out of the archive with ..", name)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

func extractEntry(root *os.Root, tr *tar.Reader, h *tar.Header, limit int64, st *Stats) error {
	name, err := entryName(h.Name)
	if err != nil {
		return err
	}
	perm := fs.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		if name == "" {
			return nil
		}
		if err := root.MkdirAll(name, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", name, err)
		}
		st.Dirs++
		return root.Chmod(name, perm|0o700)
	case tar.TypeReg: // the reader reports old tars' TypeRegA as TypeReg
		if name == "" {
			return refuse("entry %q names the archive root as a file", h.Name)
		}
		return writeFile(root, tr, name, perm, limit, st)
	case tar.TypeSymlink:
		return refuse("entry %q is a symbolic link (to %q); archives with links are not unpacked", h.Name, h.Linkname)
	case tar.TypeLink:
		return refuse("entry %q is a hard link (to %q); archives with links are not unpacked", h.Name, h.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return refuse("entry %q is a device node", h.Name)
	case tar.TypeFifo:
		return refuse("entry %q is a FIFO", h.Name)
	}
	return refuse("entry %q has unsupported type %q", h.Name, h.Typeflag)
}

// writeFile writes one regular file through root, replacing what is there.
func writeFile(root *os.Root, r io.Reader, name string, perm fs.FileMode, limit int64, st *Stats) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer f.Close()
	var src io.Reader = r
	if limit > 0 {
		src = io.LimitReader(r, limit-st.Bytes+1)
	}
	n, err := io.Copy(f, src)
	st.Bytes += n
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if limit > 0 && st.Bytes > limit {
		return refuse("its files hold more than the %d bytes the target can take (at %s)", limit, name)
	}
	if err := f.Chmod(perm | 0o600); err != nil {
		return fmt.Errorf("set mode of %s: %w", name, err)
	}
	if err := sync(f); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	st.Files++
	return f.Close()
}

// sync makes a file durable; the fuzz test replaces it, fsync being the slowest part of an extraction.
var sync = (*os.File).Sync

func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("sync archive destination: %w", err)
	}
	defer d.Close()
	if err := sync(d); err != nil {
		return fmt.Errorf("sync archive destination: %w", err)
	}
	return nil
}
