package registry

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"
)

// diskDir is the directory of a containerDisk that holds the disk image.
const diskDir = "disk"

// maxTracked bounds how many paths under /disk/ the overlay remembers, keeping memory independent of
// what a hostile image puts into its layers.
const maxTracked = 10000

// overlay applies layers from the top down and decides which tar entries are visible in the merged
// filesystem, looking only at /disk and what lies beneath it. Whiteouts and opaque markers of a
// layer hide entries of the layers below it, not of their own layer.
type overlay struct {
	deleted map[string]bool // whited-out paths: they and everything below them are gone
	opaque  map[string]bool // opaque directories: everything below them in lower layers is gone
	upper   map[string]bool // paths present in upper layers: true for non-directories
	pending overlayLayer
	found   string // the visible regular file under /disk/, once seen
}

// overlayLayer collects what the current layer adds; it takes effect for the layers below.
type overlayLayer struct {
	deleted, opaque, present map[string]bool
}

func newOverlay() *overlay {
	o := &overlay{deleted: map[string]bool{}, opaque: map[string]bool{}, upper: map[string]bool{}}
	o.pending = overlayLayer{deleted: map[string]bool{}, opaque: map[string]bool{}, present: map[string]bool{}}
	return o
}

// cleanName normalises a tar entry name to a relative slash path; it rejects traversal outside the root.
func cleanName(n string) (string, error) {
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: tar entry %q escapes the image root", ErrInvalidDisk, n)
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+n), "/")
	if c == "" {
		c = "."
	}
	return c, nil
}

// relevant reports whether p can affect what is visible under /disk/.
func relevant(p string) bool {
	return p == "." || p == diskDir || strings.HasPrefix(p, diskDir+"/")
}

// visit looks at one entry of the current layer and reports whether it is the visible disk file.
func (o *overlay) visit(h *tar.Header) (bool, error) {
	p, err := cleanName(h.Name)
	if err != nil {
		return false, err
	}
	dir, base := path.Dir(p), path.Base(p)
	switch {
	case base == ".wh..wh..opq":
		return false, o.track(o.pending.opaque, dir, true)
	case strings.HasPrefix(base, ".wh."):
		return false, o.track(o.pending.deleted, path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
	case !relevant(p) || o.hidden(p):
		return false, nil
	}
	if err := o.track(o.pending.present, p, h.Typeflag != tar.TypeDir); err != nil {
		return false, err
	}
	return o.classify(p, h)
}

// classify checks a visible entry at /disk or below it.
func (o *overlay) classify(p string, h *tar.Header) (bool, error) {
	switch h.Typeflag {
	case tar.TypeDir:
		return false, nil
	case tar.TypeSymlink:
		return false, fmt.Errorf("%w: /%s is a symlink (to %q); the disk must be a regular file", ErrInvalidDisk, p, h.Linkname)
	case tar.TypeLink:
		return false, fmt.Errorf("%w: /%s is a hardlink (to %q); the disk must be a regular file", ErrInvalidDisk, p, h.Linkname)
	case tar.TypeReg, tar.TypeGNUSparse:
		if p == diskDir {
			return false, nil // a file named /disk hides lower /disk/ contents and is not a disk
		}
	default:
		if p == diskDir {
			return false, nil
		}
		return false, fmt.Errorf("%w: /%s has unsupported tar type %q", ErrInvalidDisk, p, h.Typeflag)
	}
	if o.found != "" && o.found != p {
		return false, fmt.Errorf("%w: several files under /disk/: /%s and /%s", ErrInvalidDisk, o.found, p)
	}
	o.found = p
	return true, nil
}

func (o *overlay) track(m map[string]bool, p string, v bool) error {
	if !relevant(p) {
		return nil
	}
	if len(o.deleted)+len(o.opaque)+len(o.upper)+len(o.pending.deleted)+len(o.pending.opaque)+len(o.pending.present) >= maxTracked {
		return fmt.Errorf("%w: more than %d entries under /disk/", ErrInvalidDisk, maxTracked)
	}
	m[p] = m[p] || v
	return nil
}

// hidden reports whether an upper layer deleted, replaced or made opaque p or one of its parents.
func (o *overlay) hidden(p string) bool {
	// A directory in an upper layer merges with lower entries at its path; anything else replaces them.
	for q := p; ; q = path.Dir(q) {
		if o.deleted[q] || o.upper[q] || (q != p && o.opaque[q]) {
			return true
		}
		if q == "." {
			return false
		}
	}
}

// endLayer makes the current layer's whiteouts and entries apply to the layers below.
func (o *overlay) endLayer() {
	for p := range o.pending.deleted {
		o.deleted[p] = true
	}
	for p := range o.pending.opaque {
		o.opaque[p] = true
	}
	for p, nonDir := range o.pending.present {
		o.upper[p] = o.upper[p] || nonDir
	}
	o.pending = overlayLayer{deleted: map[string]bool{}, opaque: map[string]bool{}, present: map[string]bool{}}
}
