package iso

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// File is a regular file found in an image's file tree.
type File struct {
	Path string // slash-separated path from the root, as recorded in the image
	LBA  uint32 // first 2048-byte sector of the file's data
	Size int64  // bytes
}

// maxTreeEntries bounds a whole-tree walk so that a looping or huge directory tree cannot run forever.
const maxTreeEntries = 1 << 18

// dirEntry is one name in a directory, independent of the file system that recorded it.
type dirEntry struct {
	name string
	dir  bool
	lba  uint32 // data start for files; an opaque location the tree understands for directories
	size int64
}

// fileTree lists directories of one file system inside the image.
type fileTree interface {
	root() (dirEntry, error)
	list(d dirEntry) ([]dirEntry, error)
}

// trees returns the file systems found in the image, ISO 9660 first.
func trees(r io.ReaderAt) []fileTree {
	var ts []fileTree
	if t, err := newISO9660(r); err == nil {
		ts = append(ts, t)
	}
	if t, err := newUDF(r); err == nil {
		ts = append(ts, t)
	}
	return ts
}

// Lookup finds a regular file by path, comparing names case-insensitively, in the ISO 9660 tree
// (Rock Ridge names when present) and then in the UDF tree.
func Lookup(r io.ReaderAt, name string) (File, error) {
	ts := trees(r)
	if len(ts) == 0 {
		return File{}, errors.New("no ISO 9660 or UDF file system found")
	}
	var errs []error
	for _, t := range ts {
		f, err := lookupIn(t, name)
		if err == nil {
			return f, nil
		}
		errs = append(errs, err)
	}
	return File{}, fmt.Errorf("look up %s: %w", name, errors.Join(errs...))
}

func lookupIn(t fileTree, name string) (File, error) {
	cur, err := t.root()
	if err != nil {
		return File{}, err
	}
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '/' })
	for i, part := range parts {
		entries, err := t.list(cur)
		if err != nil {
			return File{}, err
		}
		found := false
		for _, e := range entries {
			if strings.EqualFold(e.name, part) && (e.dir || i == len(parts)-1) {
				cur, found = e, true
				break
			}
		}
		if !found {
			return File{}, fmt.Errorf("%s not found", path.Join(parts[:i+1]...))
		}
	}
	if cur.dir {
		return File{}, fmt.Errorf("%s is a directory", name)
	}
	return File{Path: "/" + strings.Join(parts, "/"), LBA: cur.lba, Size: cur.size}, nil
}

// FileAt finds the regular file whose data starts at sector lba, searching every file tree.
func FileAt(r io.ReaderAt, lba uint32) (File, error) {
	for _, t := range trees(r) {
		if f, ok := fileAtIn(t, lba); ok {
			return f, nil
		}
	}
	return File{}, fmt.Errorf("no file starts at sector %d", lba)
}

func fileAtIn(t fileTree, lba uint32) (File, bool) {
	root, err := t.root()
	if err != nil {
		return File{}, false
	}
	type item struct {
		d    dirEntry
		path string
	}
	queue := []item{{root, ""}}
	seen := map[uint32]bool{root.lba: true}
	visited := 0
	for len(queue) > 0 && visited < maxTreeEntries {
		it := queue[0]
		queue = queue[1:]
		entries, err := t.list(it.d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			visited++
			p := it.path + "/" + e.name
			switch {
			case !e.dir && e.lba == lba:
				return File{Path: p, LBA: e.lba, Size: e.size}, true
			case e.dir && !seen[e.lba]:
				seen[e.lba] = true
				queue = append(queue, item{e, p})
			}
		}
	}
	return File{}, false
}
