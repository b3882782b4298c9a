package driver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// capability returns a single-node-writer capability of the given access type.
func capability(access string) *csi.VolumeCapability {
	c := &csi.VolumeCapability{AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}
	if access == accessBlock {
		c.AccessType = &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}}
	} else {
		c.AccessType = &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}}
	}
	return c
}

// newTestDriver returns a driver keeping its data in a temporary directory.
func newTestDriver(t *testing.T) *Driver {
	t.Helper()
	d, err := New(Config{Name: "hostpath.csi.goldimage.io", NodeID: "node-a", DataDir: filepath.Join(t.TempDir(), "data"), MaxVolumeSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCreateVolumeErrors(t *testing.T) {
	d := newTestDriver(t)
	ctx := context.Background()
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "a", VolumeCapabilities: []*csi.VolumeCapability{capability(accessBlock)},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 20}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  *csi.CreateVolumeRequest
		want codes.Code
	}{
		{"name reused with another size", &csi.CreateVolumeRequest{Name: "a", VolumeCapabilities: []*csi.VolumeCapability{capability(accessBlock)},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 20}}, codes.AlreadyExists},
		{"name reused with another access type", &csi.CreateVolumeRequest{Name: "a", VolumeCapabilities: []*csi.VolumeCapability{capability(accessMount)}}, codes.AlreadyExists},
		{"name reused with a source", &csi.CreateVolumeRequest{Name: "a", VolumeCapabilities: []*csi.VolumeCapability{capability(accessBlock)},
			VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: "vol-x"}}}}, codes.NotFound},
		{"too large", &csi.CreateVolumeRequest{Name: "b", VolumeCapabilities: []*csi.VolumeCapability{capability(accessMount)},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 30}}, codes.OutOfRange},
		{"other node", &csi.CreateVolumeRequest{Name: "c", VolumeCapabilities: []*csi.VolumeCapability{capability(accessMount)},
			AccessibilityRequirements: &csi.TopologyRequirement{Requisite: []*csi.Topology{{Segments: map[string]string{TopologyKey: "node-b"}}}}}, codes.ResourceExhausted},
		{"no capabilities", &csi.CreateVolumeRequest{Name: "d"}, codes.InvalidArgument},
		{"missing snapshot", &csi.CreateVolumeRequest{Name: "e", VolumeCapabilities: []*csi.VolumeCapability{capability(accessMount)},
			VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: "../../etc"}}}}, codes.NotFound},
	} {
		_, err := d.CreateVolume(ctx, tc.req)
		if status.Code(err) != tc.want {
			t.Errorf("%s: %v, want code %v", tc.name, err, tc.want)
		}
	}
	resp, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "a", VolumeCapabilities: []*csi.VolumeCapability{capability(accessBlock)}})
	if err != nil || resp.GetVolume().GetCapacityBytes() != 1<<20 {
		t.Errorf("repeating CreateVolume: %v, %v", resp, err)
	}
	if got := resp.GetVolume().GetAccessibleTopology(); len(got) != 1 || got[0].GetSegments()[TopologyKey] != "node-a" {
		t.Errorf("accessible topology %v", got)
	}
}

// TestDataRoundTrip writes through published volumes and reads the data back
// from a snapshot restore and a clone, for both access types.
func TestDataRoundTrip(t *testing.T) {
	skipUnlessRoot(t)
	ctx := context.Background()
	pattern := bytes.Repeat([]byte("goldimage"), 1000)
	const off = 3 << 20

	for _, access := range []string{accessBlock, accessMount} {
		t.Run(access, func(t *testing.T) {
			d := newTestDriver(t)
			targets := t.TempDir()
			create := func(name string, size int64, src *csi.VolumeContentSource) *csi.Volume {
				t.Helper()
				resp, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: []*csi.VolumeCapability{capability(access)},
					CapacityRange: &csi.CapacityRange{RequiredBytes: size}, VolumeContentSource: src})
				if err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
				return resp.GetVolume()
			}
			publish := func(v *csi.Volume, target string, ro bool) {
				t.Helper()
				if _, err := d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: v.GetVolumeId(), TargetPath: target,
					VolumeCapability: capability(access), Readonly: ro}); err != nil {
					t.Fatalf("publish %s: %v", v.GetVolumeId(), err)
				}
			}
			unpublish := func(v *csi.Volume, target string) {
				t.Helper()
				if _, err := d.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.GetVolumeId(), TargetPath: target}); err != nil {
					t.Fatalf("unpublish %s: %v", v.GetVolumeId(), err)
				}
				if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("target %s still exists after unpublish: %v", target, err)
				}
			}
			// file is where the pattern lives inside a published target.
			file := func(target string) (string, int64) {
				if access == accessBlock {
					return target, off
				}
				return filepath.Join(target, "disk.img"), off
			}

			src := create("src", 8<<20, nil)
			target := filepath.Join(targets, "src")
			publish(src, target, false)
			p, o := file(target)
			f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(pattern, o); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			unpublish(src, target)
			unpublish(src, target) // idempotent

			snap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: src.GetVolumeId()})
			if err != nil || !snap.GetSnapshot().GetReadyToUse() || snap.GetSnapshot().GetSizeBytes() != 8<<20 {
				t.Fatalf("create snapshot: %v, %v", snap, err)
			}
			restored := create("restored", 16<<20, &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
				Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap.GetSnapshot().GetSnapshotId()}}})
			clone := create("clone", 0, &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
				Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: src.GetVolumeId()}}})
			if clone.GetCapacityBytes() != 8<<20 {
				t.Errorf("clone capacity %d, want the source's %d", clone.GetCapacityBytes(), 8<<20)
			}

			for _, v := range []*csi.Volume{restored, clone} {
				target := filepath.Join(targets, v.GetVolumeId())
				publish(v, target, true)
				publish(v, target, true) // idempotent
				if _, err := d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: v.GetVolumeId(), TargetPath: target,
					VolumeCapability: capability(access)}); status.Code(err) != codes.AlreadyExists {
					t.Errorf("republish read-write over read-only: %v, want AlreadyExists", err)
				}
				if access == accessBlock {
					f, err := os.Open(target)
					if err != nil {
						t.Fatal(err)
					}
					size, err := f.Seek(0, io.SeekEnd) // a block device's end is its size
					f.Close()
					if err != nil || size != v.GetCapacityBytes() {
						t.Errorf("device size %d (%v), want %d", size, err, v.GetCapacityBytes())
					}
				}
				p, o := file(target)
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(pattern))
				if _, err := f.ReadAt(got, o); err != nil {
					t.Fatal(err)
				}
				f.Close()
				if !bytes.Equal(got, pattern) {
					t.Errorf("%s: data differs from what was written to the source", v.GetVolumeId())
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) {
					t.Errorf("write to read-only publication: %v, want EROFS/EPERM", err)
				}
				if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.GetVolumeId()}); status.Code(err) != codes.FailedPrecondition {
					t.Errorf("delete while published: %v, want FailedPrecondition", err)
				}
				unpublish(v, target)
			}
			for _, v := range []*csi.Volume{src, restored, clone} {
				if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.GetVolumeId()}); err != nil {
					t.Error(err)
				}
			}
			if _, err := d.DeleteSnapshot(ctx, &csi.DeleteSnapshotRequest{SnapshotId: snap.GetSnapshot().GetSnapshotId()}); err != nil {
				t.Error(err)
			}
			for _, sub := range []string{volumesDir, snapshotsDir} {
				if entries, _ := os.ReadDir(filepath.Join(d.cfg.DataDir, sub)); len(entries) != 0 {
					t.Errorf("%s not empty after deleting everything: %v", sub, entries)
				}
			}
		})
	}
}
