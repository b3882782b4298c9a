package importer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// partSuffix names the file a filesystem import writes before it renames it onto the destination.
const partSuffix = ".importing"

// target is where the raw disk goes: a file written under a temporary name, or a block device written in place.
type target struct {
	dest     string   // final path
	f        *os.File // open for writing: dest+partSuffix for files, dest for block devices
	block    bool
	capacity int64 // bytes the image may occupy
	free     int64 // files: free bytes of the filesystem before the import, for messages
	overhead float64
	direct   bool   // converted images are written with O_DIRECT
	discard  bool   // block devices: zero ranges are discarded (punch-hole) rather than written
	zeros    []byte // a chunk of zeros for devices that cannot discard
	flush    *flusher
}

// openTarget prepares dest. Files: a stale destination and partial file are removed and the usable part
// of the space left on the filesystem (see usableSpace) is the capacity. Block devices: the device size is.
func openTarget(c *Config) (*target, error) {
	t, err := openPath(c.Dest, c.Size, c.FilesystemOverhead)
	if err != nil {
		return nil, err
	}
	t.direct, t.discard = c.DirectIO, !c.NoDiscard
	t.flush = startFlusher(flushFile(t.f), flushEvery)
	return t, nil
}

// openPath is openTarget for a destination path.
func openPath(dest string, size int64, overhead float64) (*target, error) {
	st, err := os.Stat(dest)
	if err == nil && st.Mode()&fs.ModeDevice != 0 {
		return openBlock(dest, size)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("inspect destination %s: %w", dest, err)
	}
	if err == nil && st.IsDir() {
		return nil, usageError{fmt.Errorf("destination %s is a directory; give a file path such as %s/disk.img", dest, dest)}
	}
	for _, stale := range []string{dest, dest + partSuffix} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale %s: %w", stale, err)
		}
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(dest), &sfs); err != nil {
		return nil, fmt.Errorf("inspect filesystem of %s: %w", dest, err)
	}
	free := int64(sfs.Bavail) * sfs.Bsize
	f, err := os.OpenFile(dest+partSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o660)
	if err != nil {
		return nil, fmt.Errorf("create destination: %w", err)
	}
	return &target{dest: dest, f: f, capacity: usableSpace(free, overhead), free: free, overhead: overhead}, nil
}

// usableSpace is what an image may fill of free bytes on a filesystem that keeps overhead (a fraction)
// for its own metadata, rounded down to whole 512-byte sectors, as CDI computes it.
func usableSpace(free int64, overhead float64) int64 {
	return int64((1-overhead)*float64(free)) &^ 511
}

// diskSize is the size a finished file image is grown to: the requested size when the usable space
// allows, else the usable space, and never less than the image. Block devices keep their size.
func (t *target) diskSize(virtual, requested int64) int64 {
	if t.block {
		return virtual
	}
	return max(virtual, min(requested, t.capacity))
}

// openBlock opens a block device; its size bounds the image and a requested size beyond it is an error.
func openBlock(dest string, size int64) (*target, error) {
	f, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open block device: %w", err)
	}
	capacity, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("size of block device %s: %w", dest, err)
	}
	if size > capacity {
		f.Close()
		return nil, fatalf("requested size %s exceeds block device %s of %s", human(size), dest, human(capacity))
	}
	return &target{dest: dest, f: f, block: true, capacity: capacity}, nil
}

// checkFits fails with a "needs at least" message when a virtual size does not fit the target.
func (t *target) checkFits(virtual, requested int64) error {
	if requested > 0 && virtual > requested {
		return fatalf("image needs at least %s (virtual size %d bytes) but the requested size is %s", human(virtual), virtual, human(requested))
	}
	if virtual > t.capacity {
		return fatalf("image needs at least %s (virtual size %d bytes) but %s has only %s", human(virtual), virtual, t.dest, t.describeCapacity())
	}
	return nil
}

// describeLimit names a stream's byte limit: the requested size or the target's capacity.
func (t *target) describeLimit(limit int64) string {
	if limit < t.capacity {
		return human(limit) + " (the requested size)"
	}
	return t.describeCapacity()
}

// describeCapacity says how much the image may use and, for files with overhead, why.
func (t *target) describeCapacity() string {
	if t.block || t.overhead == 0 {
		return human(t.capacity)
	}
	return fmt.Sprintf("%s usable (%s free less %.1f%% filesystem overhead)", human(t.capacity), human(t.free), 100*t.overhead)
}

// zero makes [off, off+n) read as zeros: a no-op on a fresh file; on a device a discard when enabled
// and supported (punch-hole reads back as zeros), else written zeros.
func (t *target) zero(off, n int64) error {
	if !t.block || n == 0 {
		return nil
	}
	if t.discard && unix.Fallocate(int(t.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n) == nil {
		return nil
	}
	if t.zeros == nil {
		t.zeros = make([]byte, chunk)
	}
	for n > 0 {
		k := min(n, int64(len(t.zeros)))
		if _, err := t.f.WriteAt(t.zeros[:k], off); err != nil {
			return fmt.Errorf("zero %s at %d: %w", t.dest, off, err)
		}
		off, n = off+k, n-k
	}
	return nil
}

// finish sizes and syncs the image and, for files, renames it onto the destination; only then is the import complete.
func (t *target) finish(size int64, prealloc bool) error {
	if !t.block {
		if err := t.f.Truncate(size); err != nil {
			return fmt.Errorf("resize %s to %d bytes: %w", t.dest, size, err)
		}
	}
	if prealloc {
		if err := t.preallocate(size); err != nil {
			return err
		}
	}
	if err := t.flush.Stop(); err != nil {
		return fmt.Errorf("sync %s: %w", t.dest, err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", t.dest, err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.dest, err)
	}
	t.f = nil
	if t.block {
		return nil
	}
	if err := os.Rename(t.dest+partSuffix, t.dest); err != nil {
		return fmt.Errorf("move finished image into place: %w", err)
	}
	return syncDir(filepath.Dir(t.dest))
}

// preallocate reserves every block of the first size bytes (files) or writes zeros over holes (devices).
func (t *target) preallocate(size int64) error {
	if t.block {
		return nil // a device has no holes to fill; zero() wrote or discarded every range
	}
	if err := unix.Fallocate(int(t.f.Fd()), 0, 0, size); err != nil {
		return fmt.Errorf("preallocate %s: %w", t.dest, err)
	}
	return nil
}

// abort closes the target and removes a partial file.
func (t *target) abort() {
	if t.f == nil {
		return
	}
	_ = t.flush.Stop()
	t.f.Close()
	t.f = nil
	if !t.block {
		os.Remove(t.dest + partSuffix)
	}
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// human formats bytes with a binary unit.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
