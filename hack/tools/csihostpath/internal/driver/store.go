package driver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// Access types a volume can have.
const (
	accessMount = "mount"
	accessBlock = "block"
)

// Id prefixes; an id is a prefix followed by idHexLen lower-case hex digits.
const (
	volumePrefix   = "vol-"
	snapshotPrefix = "snap-"
	idHexLen       = 32
)

// Layout below the data directory. Only ids (never names) become path elements.
const (
	volumesDir   = "volumes"
	snapshotsDir = "snapshots"
	metaFile     = "meta.json"
	dataFile     = "data"
	tmpPrefix    = ".tmp-"
)

// Volume is the persisted metadata of one volume.
type Volume struct {
	ID               string                 `json:"id"`
	Name             string                 `json:"name"`
	CapacityBytes    int64                  `json:"capacityBytes"`
	AccessType       string                 `json:"accessType"`
	SourceSnapshotID string                 `json:"sourceSnapshotID,omitempty"`
	SourceVolumeID   string                 `json:"sourceVolumeID,omitempty"`
	CreatedAt        time.Time              `json:"createdAt"`
	Published        map[string]Publication `json:"published,omitempty"`
}

// Publication records one NodePublishVolume target of a volume.
type Publication struct {
	ReadOnly   bool   `json:"readOnly,omitempty"`
	LoopDevice string `json:"loopDevice,omitempty"`
}

// Snapshot is the persisted metadata of one snapshot.
type Snapshot struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	SourceVolumeID string    `json:"sourceVolumeID"`
	SizeBytes      int64     `json:"sizeBytes"`
	AccessType     string    `json:"accessType"`
	CreatedAt      time.Time `json:"createdAt"`
}

// store keeps volume and snapshot metadata in memory and as JSON under root.
// It is not safe for concurrent use; the driver serialises access.
type store struct {
	root      string
	volumes   map[string]*Volume
	snapshots map[string]*Snapshot
}

// newID returns a fresh random id with the given prefix.
func newID(prefix string) string {
	b := make([]byte, idHexLen/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}

// validID reports whether id has the given prefix followed by exactly idHexLen
// lower-case hex digits, so it is safe to use as a single path element.
func validID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != idHexLen {
		return false
	}
	for _, c := range rest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// volumeDir is the directory holding a volume's metadata and data; id must be valid.
func (s *store) volumeDir(id string) string { return filepath.Join(s.root, volumesDir, id) }

// volumeData is a volume's data: a directory (mount) or a sparse file (block).
func (s *store) volumeData(id string) string { return filepath.Join(s.volumeDir(id), dataFile) }

// snapshotDir is the directory holding a snapshot's metadata and data; id must be valid.
func (s *store) snapshotDir(id string) string { return filepath.Join(s.root, snapshotsDir, id) }

// snapshotData is a snapshot's copy of its source volume's data.
func (s *store) snapshotData(id string) string { return filepath.Join(s.snapshotDir(id), dataFile) }

// openStore creates the layout under root if needed, removes leftovers of
// interrupted creations and loads all metadata.
func openStore(root string) (*store, error) {
	s := &store{root: root, volumes: map[string]*Volume{}, snapshots: map[string]*Snapshot{}}
	for _, kind := range []struct {
		dir    string
		prefix string
		load   func(id string, b []byte) error
	}{
		{volumesDir, volumePrefix, func(id string, b []byte) error {
			v := &Volume{}
			if err := json.Unmarshal(b, v); err != nil {
				return err
			}
			if v.ID != id {
				return fmt.Errorf("metadata names id %q", v.ID)
			}
			s.volumes[id] = v
			return nil
		}},
		{snapshotsDir, snapshotPrefix, func(id string, b []byte) error {
			sn := &Snapshot{}
			if err := json.Unmarshal(b, sn); err != nil {
				return err
			}
			if sn.ID != id {
				return fmt.Errorf("metadata names id %q", sn.ID)
			}
			s.snapshots[id] = sn
			return nil
		}},
	} {
		dir := filepath.Join(root, kind.dir)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				klog.InfoS("Removing leftover of an interrupted creation", "path", p)
				if err := os.RemoveAll(p); err != nil {
					return nil, fmt.Errorf("remove %s: %w", p, err)
				}
				continue
			}
			if !validID(kind.prefix, e.Name()) {
				klog.InfoS("Ignoring unexpected entry in data directory", "path", p)
				continue
			}
			b, err := os.ReadFile(filepath.Join(p, metaFile))
			if errors.Is(err, os.ErrNotExist) {
				// An interrupted deletion removed the metadata first.
				klog.InfoS("Removing entry without metadata", "path", p)
				if err := os.RemoveAll(p); err != nil {
					return nil, fmt.Errorf("remove %s: %w", p, err)
				}
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read metadata of %s: %w", e.Name(), err)
			}
			if err := kind.load(e.Name(), b); err != nil {
				return nil, fmt.Errorf("load metadata of %s: %w", e.Name(), err)
			}
		}
	}
	return s, nil
}

// writeJSON writes v as JSON to path atomically (temporary file, fsync, rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// stageDir returns a fresh temporary directory next to final, to be filled and
// then committed with commitDir.
func stageDir(final string) (string, error) {
	tmp := filepath.Join(filepath.Dir(final), tmpPrefix+filepath.Base(final))
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	return tmp, os.Mkdir(tmp, 0o750)
}

// commitDir writes meta into tmp and renames tmp to final, making the entry visible.
func commitDir(tmp, final string, meta any) error {
	if err := writeJSON(filepath.Join(tmp, metaFile), meta); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// removeDir deletes an entry: metadata first, so an interrupted removal is
// cleaned up by openStore instead of leaving a half-deleted entry visible.
func removeDir(dir string) error {
	if err := os.Remove(filepath.Join(dir, metaFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(dir)
}

// saveVolume persists v's metadata.
func (s *store) saveVolume(v *Volume) error {
	return writeJSON(filepath.Join(s.volumeDir(v.ID), metaFile), v)
}

// volumeByName returns the volume with the given name, or nil.
func (s *store) volumeByName(name string) *Volume {
	for _, v := range s.volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// snapshotByName returns the snapshot with the given name, or nil.
func (s *store) snapshotByName(name string) *Snapshot {
	for _, sn := range s.snapshots {
		if sn.Name == name {
			return sn
		}
	}
	return nil
}

// volume returns the volume with the given id, or nil (also for malformed ids).
func (s *store) volume(id string) *Volume {
	if !validID(volumePrefix, id) {
		return nil
	}
	return s.volumes[id]
}

// snapshot returns the snapshot with the given id, or nil (also for malformed ids).
func (s *store) snapshot(id string) *Snapshot {
	if !validID(snapshotPrefix, id) {
		return nil
	}
	return s.snapshots[id]
}

// sortedSnapshots returns all snapshots ordered by creation time, then id,
// the stable order ListSnapshots pages through.
func (s *store) sortedSnapshots() []*Snapshot {
	out := make([]*Snapshot, 0, len(s.snapshots))
	for _, sn := range s.snapshots {
		out = append(out, sn)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
