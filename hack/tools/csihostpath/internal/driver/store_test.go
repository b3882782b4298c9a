package driver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	good := "vol-" + strings.Repeat("0123456789abcdef", 2)
	for _, tc := range []struct {
		prefix, id string
		want       bool
	}{
		{volumePrefix, good, true},
		{volumePrefix, newID(volumePrefix), true},
		{snapshotPrefix, newID(snapshotPrefix), true},
		{snapshotPrefix, good, false},
		{volumePrefix, "", false},
		{volumePrefix, "vol-", false},
		{volumePrefix, good[:len(good)-1], false},
		{volumePrefix, good + "0", false},
		{volumePrefix, strings.ToUpper(good[:4]) + good[4:], false},
		{volumePrefix, "vol-" + strings.Repeat("0123456789ABCDEF", 2), false},
		{volumePrefix, "vol-../../../../etc/passwd" + strings.Repeat("0", 6), false},
		{volumePrefix, "vol-" + strings.Repeat("/", 32), false},
		{volumePrefix, "vol-" + strings.Repeat("a", 31) + "\x00", false},
		{volumePrefix, "my-pvc-name", false},
	} {
		if got := validID(tc.prefix, tc.id); got != tc.want {
			t.Errorf("validID(%q, %q) = %t, want %t", tc.prefix, tc.id, got, tc.want)
		}
	}
}

func TestStorePathsStayUnderRoot(t *testing.T) {
	s := &store{root: "/csi-data-dir"}
	for range 100 {
		for _, p := range []string{
			s.volumeData(newID(volumePrefix)),
			s.snapshotData(newID(snapshotPrefix)),
		} {
			rel, err := filepath.Rel(s.root, p)
			if err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, "/") != 2 {
				t.Fatalf("path %s escapes or misses the layout under %s", p, s.root)
			}
		}
	}
	// Lookups never touch the maps, let alone the filesystem, for malformed ids.
	s.volumes = map[string]*Volume{"../x": {ID: "../x"}}
	if s.volume("../x") != nil {
		t.Error("volume() returned an entry for a malformed id")
	}
}

func TestOpenStore(t *testing.T) {
	root := t.TempDir()
	s, err := openStore(root)
	if err != nil {
		t.Fatal(err)
	}
	v := &Volume{ID: newID(volumePrefix), Name: "pvc-1", CapacityBytes: 1 << 20, AccessType: accessBlock, CreatedAt: time.Now().UTC()}
	tmp, err := stageDir(s.volumeDir(v.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := commitDir(tmp, s.volumeDir(v.ID), v); err != nil {
		t.Fatal(err)
	}
	v.Published = map[string]Publication{"/target": {LoopDevice: "/dev/loop9"}}
	if err := s.saveVolume(v); err != nil {
		t.Fatal(err)
	}
	// Leftovers of crashes: a staged creation and an entry whose metadata is gone.
	if _, err := stageDir(s.volumeDir(newID(volumePrefix))); err != nil {
		t.Fatal(err)
	}
	orphan := s.snapshotDir(newID(snapshotPrefix))
	if err := os.MkdirAll(filepath.Join(orphan, dataFile), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, volumesDir, "not-an-id"), 0o750); err != nil {
		t.Fatal(err)
	}

	s2, err := openStore(root)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.volume(v.ID)
	if got == nil || got.Name != "pvc-1" || got.Published["/target"].LoopDevice != "/dev/loop9" {
		t.Fatalf("reloaded volume %+v, want %+v", got, v)
	}
	if s2.volumeByName("pvc-1") != got {
		t.Error("volumeByName did not find the reloaded volume")
	}
	if len(s2.snapshots) != 0 {
		t.Errorf("loaded %d snapshots, want 0", len(s2.snapshots))
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("entry without metadata was not removed: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, volumesDir))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("staged leftover %s was not removed", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(root, volumesDir, "not-an-id")); err != nil {
		t.Errorf("unrelated entry was touched: %v", err)
	}
}
