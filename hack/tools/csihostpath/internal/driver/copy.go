package driver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyChunk is the unit in which data extents are copied and checked for zeros.
const copyChunk = 1 << 20

// zeroBlock is the granularity at which all-zero data is turned into holes.
const zeroBlock = 64 << 10

// extent is a byte range [off, off+n) of a file.
type extent struct{ off, n int64 }

// dataExtents lists the data extents of f (size bytes long) using SEEK_DATA
// and SEEK_HOLE. When the filesystem does not support them, the whole file is
// one extent (zero detection in copySparse still keeps the copy sparse).
func dataExtents(f *os.File, size int64) ([]extent, error) {
	var out []extent
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return []extent{{off, size - off}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("seek data from %d: %w", off, err)
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("seek hole from %d: %w", start, err)
		}
		end = min(end, size)
		if end > start {
			out = append(out, extent{start, end - start})
		}
		off = end
	}
	return out, nil
}

// isZero reports whether b is all zero bytes.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// copySparse copies src to dst (which must be empty) and gives dst src's
// size. Holes in src stay holes in dst and
// zero-filled blocks become holes.
func copySparse(dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	exts, err := dataExtents(src, size)
	if err != nil {
		return err
	}
	buf := make([]byte, copyChunk)
	for _, e := range exts {
		for off := e.off; off < e.off+e.n; {
			n := min(int64(len(buf)), e.off+e.n-off)
			b := buf[:n]
			if _, err := src.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read at %d: %w", off, err)
			}
			for i := int64(0); i < n; i += zeroBlock {
				blk := b[i:min(i+zeroBlock, n)]
				if isZero(blk) {
					continue
				}
				if _, err := dst.WriteAt(blk, off+i); err != nil {
					return fmt.Errorf("write at %d: %w", off+i, err)
				}
			}
			off += n
		}
	}
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("set size: %w", err)
	}
	return nil
}

// copyFileSparse copies the regular file src to a new file dst with mode perm,
// then grows dst to size bytes if size is larger than src.
func copyFileSparse(dst, src string, perm fs.FileMode, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := copySparse(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if fi, err := out.Stat(); err == nil && size > fi.Size() {
		if err := out.Truncate(size); err != nil {
			out.Close()
			return fmt.Errorf("grow %s: %w", dst, err)
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the directory tree src to dst (which must not exist),
// keeping modes, ownership and times. Regular files are copied
// sparsely; symlinks, FIFOs and device nodes are recreated; sockets are
// skipped; hard links become separate files.
func copyTree(dst, src string) error {
	type dirAttrs struct {
		path string
		mode fs.FileMode
		ts   []unix.Timespec
	}
	var dirs []dirAttrs // applied last, deepest first, so copying is not hindered
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*unix.Stat_t)
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := copyFileSparse(target, p, 0o600, 0); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case mode&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice) != 0 && st != nil:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("mknod %s: %w", target, err)
			}
		default:
			return nil // sockets and anything else cannot be copied meaningfully
		}
		if st != nil {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		perm := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		var ts []unix.Timespec
		if st != nil {
			ts = []unix.Timespec{st.Atim, st.Mtim}
		}
		if mode.IsDir() {
			dirs = append(dirs, dirAttrs{target, perm, ts})
			return nil
		}
		return setAttrs(target, mode&fs.ModeSymlink == 0, perm, ts)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setAttrs(dirs[i].path, true, dirs[i].mode, dirs[i].ts); err != nil {
			return err
		}
	}
	return nil
}

// setAttrs sets the permission bits (unless chmod is false, for symlinks) and
// the access and modification times (when ts is not nil) of path.
func setAttrs(path string, chmod bool, perm fs.FileMode, ts []unix.Timespec) error {
	if chmod {
		if err := os.Chmod(path, perm); err != nil {
			return err
		}
	}
	if ts != nil {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set times of %s: %w", path, err)
		}
	}
	return nil
}
