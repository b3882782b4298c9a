package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
)

// readOnlyMode reports whether an access mode only allows reading.
func readOnlyMode(m csi.VolumeCapability_AccessMode_Mode) bool {
	return m == csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY ||
		m == csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY
}

// NodePublishVolume bind-mounts a filesystem volume's directory, or a loop
// device backed by a block volume's file, at the target path.
func (d *Driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	if req.GetTargetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "target_path is missing")
	}
	if !filepath.IsAbs(req.GetTargetPath()) {
		return nil, status.Errorf(codes.InvalidArgument, "target_path %q is not absolute", req.GetTargetPath())
	}
	if req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume_capability is missing")
	}
	access, err := accessTypeOf([]*csi.VolumeCapability{req.GetVolumeCapability()})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	target := filepath.Clean(req.GetTargetPath())
	readOnly := req.GetReadonly() || readOnlyMode(req.GetVolumeCapability().GetAccessMode().GetMode())

	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.store.volume(req.GetVolumeId())
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	if access != v.AccessType {
		return nil, status.Errorf(codes.InvalidArgument, "volume %s has %s access, capability asks for %s", v.ID, v.AccessType, access)
	}
	data := d.store.volumeData(v.ID)

	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "check target %s: %v", target, err)
	}
	if p, ok := v.Published[target]; ok {
		if mounted {
			if p.ReadOnly != readOnly {
				return nil, status.Errorf(codes.AlreadyExists, "volume %s is already published at %s with readonly=%t", v.ID, target, p.ReadOnly)
			}
			return &csi.NodePublishVolumeResponse{}, nil
		}
		// Recorded but gone (a reboot, or someone unmounted it): publish afresh.
		if p.LoopDevice != "" {
			if err := detachLoop(p.LoopDevice, data); err != nil {
				klog.ErrorS(err, "Detaching stale loop device", "device", p.LoopDevice)
			}
		}
		delete(v.Published, target)
	} else if mounted {
		return nil, status.Errorf(codes.AlreadyExists, "target %s is already a mount point not made for volume %s", target, v.ID)
	}

	pub := Publication{ReadOnly: readOnly}
	if access == accessMount {
		if err := os.MkdirAll(target, 0o750); err != nil {
			return nil, status.Errorf(codes.Internal, "create target directory %s: %v", target, err)
		}
		if err := bindMount(data, target, readOnly); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return nil, status.Errorf(codes.Internal, "create target parent %s: %v", filepath.Dir(target), err)
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o660)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "create target file %s: %v", target, err)
		}
		f.Close()
		dev, err := attachLoop(data, readOnly)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "attach volume %s to a loop device: %v", v.ID, err)
		}
		if err := bindMount(dev, target, readOnly); err != nil {
			_ = detachLoop(dev, data)
			return nil, status.Error(codes.Internal, err.Error())
		}
		pub.LoopDevice = dev
	}
	if v.Published == nil {
		v.Published = map[string]Publication{}
	}
	v.Published[target] = pub
	if err := d.store.saveVolume(v); err != nil {
		delete(v.Published, target)
		_ = unmountAll(target)
		if pub.LoopDevice != "" {
			_ = detachLoop(pub.LoopDevice, data)
		}
		return nil, status.Errorf(codes.Internal, "save volume %s: %v", v.ID, err)
	}
	klog.InfoS("Published volume", "id", v.ID, "target", target, "readOnly", readOnly, "loopDevice", pub.LoopDevice)
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts and removes the target path and detaches the
// loop device of a block volume. Repeating it succeeds.
func (d *Driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	if req.GetTargetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "target_path is missing")
	}
	target := filepath.Clean(req.GetTargetPath())
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.store.volume(req.GetVolumeId())
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	if err := unmountAll(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Errorf(codes.Internal, "remove target %s: %v", target, err)
	}
	p, ok := v.Published[target]
	if !ok {
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if p.LoopDevice != "" {
		if err := detachLoop(p.LoopDevice, d.store.volumeData(v.ID)); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	delete(v.Published, target)
	if err := d.store.saveVolume(v); err != nil {
		return nil, status.Errorf(codes.Internal, "save volume %s: %v", v.ID, err)
	}
	klog.InfoS("Unpublished volume", "id", v.ID, "target", target, "loopDevice", p.LoopDevice)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetVolumeStats reports usage of a published volume: the statfs of the
// data directory's filesystem for filesystem volumes (capacity is not
// enforced), the size for block volumes.
func (d *Driver) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	if req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_path is missing")
	}
	path := filepath.Clean(req.GetVolumePath())
	d.mu.Lock()
	v := d.store.volume(req.GetVolumeId())
	var published bool
	var access string
	var capacity int64
	if v != nil {
		_, published = v.Published[path]
		access, capacity = v.AccessType, v.CapacityBytes
	}
	d.mu.Unlock()
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	if _, err := os.Stat(path); err != nil || !published {
		return nil, status.Errorf(codes.NotFound, "volume %s is not published at %s", req.GetVolumeId(), path)
	}
	if access == accessBlock {
		return &csi.NodeGetVolumeStatsResponse{Usage: []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: capacity}}}, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, status.Errorf(codes.Internal, "statfs %s: %v", path, err)
	}
	bs := int64(st.Bsize)
	return &csi.NodeGetVolumeStatsResponse{Usage: []*csi.VolumeUsage{
		{Unit: csi.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: int64(st.Blocks-st.Bfree) * bs},
		{Unit: csi.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: int64(st.Files - st.Ffree)},
	}}, nil
}

// NodeGetCapabilities reports volume stats; there is no staging.
func (d *Driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{
		Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: csi.NodeServiceCapability_RPC_GET_VOLUME_STATS}},
	}}}, nil
}

// NodeGetInfo reports the node id and its topology; there is no volume limit.
func (d *Driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.cfg.NodeID, AccessibleTopology: d.topology(), MaxVolumesPerNode: 0}, nil
}
