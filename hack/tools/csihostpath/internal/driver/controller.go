package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/klog/v2"
)

// blockAlign is the granularity of block volume sizes (loop devices use whole sectors).
const blockAlign = 512

// accessTypeOf returns the access type ("mount" or "block") the capabilities
// ask for, rejecting missing or mixed access types and multi-node access modes.
func accessTypeOf(caps []*csi.VolumeCapability) (string, error) {
	if len(caps) == 0 {
		return "", errors.New("volume_capabilities is missing")
	}
	var access string
	for _, c := range caps {
		var t string
		switch {
		case c.GetBlock() != nil:
			t = accessBlock
		case c.GetMount() != nil:
			t = accessMount
		default:
			return "", errors.New("volume capability has no access type")
		}
		if access != "" && access != t {
			return "", errors.New("volume capabilities mix block and mount access")
		}
		access = t
		if err := checkAccessMode(c.GetAccessMode()); err != nil {
			return "", err
		}
	}
	return access, nil
}

// checkAccessMode accepts the single-node access modes a hostpath volume can offer.
func checkAccessMode(m *csi.VolumeCapability_AccessMode) error {
	switch m.GetMode() {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:
		return nil
	case csi.VolumeCapability_AccessMode_UNKNOWN:
		return errors.New("volume capability has no access mode")
	default:
		return fmt.Errorf("access mode %s is not supported: hostpath volumes live on one node", m.GetMode())
	}
}

// volumeCapacity decides the capacity of a new volume from the requested
// range, the size of its content source (0 for none), the access type and
// the maximum volume size: the required bytes, at least the source's size;
// without required bytes the source's size, or DefaultVolumeSize (capped at
// the limit) when there is no source. The returned error carries the gRPC code.
func volumeCapacity(cr *csi.CapacityRange, srcSize int64, access string, maxSize int64) (int64, error) {
	required, limit := cr.GetRequiredBytes(), cr.GetLimitBytes()
	if required < 0 || limit < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "capacity_range is negative (required %d, limit %d)", required, limit)
	}
	if limit > 0 && required > limit {
		return 0, status.Errorf(codes.InvalidArgument, "required_bytes %d exceeds limit_bytes %d", required, limit)
	}
	size := required
	if size == 0 && srcSize == 0 {
		size = DefaultVolumeSize
		if limit > 0 {
			size = min(size, limit)
		}
	}
	if srcSize > size {
		size = srcSize
	}
	if access == accessBlock && size%blockAlign != 0 {
		size += blockAlign - size%blockAlign
	}
	if limit > 0 && size > limit {
		return 0, status.Errorf(codes.OutOfRange, "volume needs %d bytes (content source %d bytes, %d-byte blocks), more than limit_bytes %d", size, srcSize, blockAlign, limit)
	}
	if size > maxSize {
		return 0, status.Errorf(codes.OutOfRange, "volume size %d exceeds the maximum %d", size, maxSize)
	}
	return size, nil
}

// capacityFits reports whether an existing capacity satisfies a requested range.
func capacityFits(capacity int64, cr *csi.CapacityRange) bool {
	if capacity < cr.GetRequiredBytes() {
		return false
	}
	return cr.GetLimitBytes() == 0 || capacity <= cr.GetLimitBytes()
}

// topologyAllowed reports whether a volume on a node with the given segments
// may be provisioned under req: one requisite topology must be a subset of
// ours. Without requisite topologies any node is acceptable.
func topologyAllowed(req *csi.TopologyRequirement, ours map[string]string) bool {
	if len(req.GetRequisite()) == 0 {
		return true
	}
	for _, t := range req.GetRequisite() {
		match := true
		for k, v := range t.GetSegments() {
			if ours[k] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// paginate returns the page of n items starting at the index encoded in
// token, and the token of the next page ("" when none). maxEntries 0 means all.
func paginate(n int, token string, maxEntries int32) (start, end int, next string, err error) {
	if maxEntries < 0 {
		return 0, 0, "", status.Errorf(codes.InvalidArgument, "max_entries %d is negative", maxEntries)
	}
	if token != "" {
		i, perr := strconv.Atoi(token)
		if perr != nil || i < 0 || i > n {
			return 0, 0, "", status.Errorf(codes.Aborted, "starting_token %q is not valid", token)
		}
		start = i
	}
	end = n
	if maxEntries > 0 && start+int(maxEntries) < n {
		end = start + int(maxEntries)
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

// csiVolume converts v to its CSI representation.
func (d *Driver) csiVolume(v *Volume) *csi.Volume {
	out := &csi.Volume{
		VolumeId:           v.ID,
		CapacityBytes:      v.CapacityBytes,
		AccessibleTopology: []*csi.Topology{d.topology()},
	}
	switch {
	case v.SourceSnapshotID != "":
		out.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: v.SourceSnapshotID}}}
	case v.SourceVolumeID != "":
		out.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
			Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: v.SourceVolumeID}}}
	}
	return out
}

// csiSnapshot converts s to its CSI representation; snapshots are complete when created.
func csiSnapshot(s *Snapshot) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     s.ID,
		SourceVolumeId: s.SourceVolumeID,
		SizeBytes:      s.SizeBytes,
		CreationTime:   timestamppb.New(s.CreatedAt),
		ReadyToUse:     true,
	}
}

// populate fills the data path of a new volume: empty, or a copy of srcData
// (a directory for mount volumes, a file copied sparsely for block volumes).
func populate(data, srcData, access string, capacity int64) error {
	switch {
	case access == accessMount && srcData == "":
		if err := os.Mkdir(data, 0o777); err != nil {
			return err
		}
		return os.Chmod(data, 0o777) // not subject to the umask: pods run as any user
	case access == accessMount:
		return copyTree(data, srcData)
	case srcData == "":
		f, err := os.OpenFile(data, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o660)
		if err != nil {
			return err
		}
		if err := f.Truncate(capacity); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	default:
		return copyFileSparse(data, srcData, 0o660, capacity)
	}
}

// CreateVolume creates (or returns the existing same-named) volume, empty or
// copied from a snapshot or another volume.
func (d *Driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is missing")
	}
	access, err := accessTypeOf(req.GetVolumeCapabilities())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !topologyAllowed(req.GetAccessibilityRequirements(), d.topology().Segments) {
		return nil, status.Errorf(codes.ResourceExhausted, "no requisite topology names this node (%s=%s)", TopologyKey, d.cfg.NodeID)
	}
	srcSnap := req.GetVolumeContentSource().GetSnapshot().GetSnapshotId()
	srcVol := req.GetVolumeContentSource().GetVolume().GetVolumeId()
	if req.GetVolumeContentSource() != nil && srcSnap == "" && srcVol == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_content_source names neither a snapshot nor a volume")
	}

	d.mu.Lock()
	defer d.mu.Unlock()

	var srcData, srcAccess string
	var srcSize int64
	switch {
	case srcSnap != "":
		s := d.store.snapshot(srcSnap)
		if s == nil {
			return nil, status.Errorf(codes.NotFound, "source snapshot %s does not exist", srcSnap)
		}
		srcData, srcAccess, srcSize = d.store.snapshotData(s.ID), s.AccessType, s.SizeBytes
	case srcVol != "":
		v := d.store.volume(srcVol)
		if v == nil {
			return nil, status.Errorf(codes.NotFound, "source volume %s does not exist", srcVol)
		}
		srcData, srcAccess, srcSize = d.store.volumeData(v.ID), v.AccessType, v.CapacityBytes
	}
	if srcData != "" && srcAccess != access {
		return nil, status.Errorf(codes.InvalidArgument, "content source has %s access, request asks for %s", srcAccess, access)
	}

	if v := d.store.volumeByName(req.GetName()); v != nil {
		if v.AccessType != access || !capacityFits(v.CapacityBytes, req.GetCapacityRange()) ||
			v.SourceSnapshotID != srcSnap || v.SourceVolumeID != srcVol {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists as %s with %d bytes %s access and another size, access or source", req.GetName(), v.ID, v.CapacityBytes, v.AccessType)
		}
		return &csi.CreateVolumeResponse{Volume: d.csiVolume(v)}, nil
	}

	capacity, err := volumeCapacity(req.GetCapacityRange(), srcSize, access, d.cfg.MaxVolumeSize)
	if err != nil {
		return nil, err
	}
	v := &Volume{
		ID:               newID(volumePrefix),
		Name:             req.GetName(),
		CapacityBytes:    capacity,
		AccessType:       access,
		SourceSnapshotID: srcSnap,
		SourceVolumeID:   srcVol,
		CreatedAt:        time.Now().UTC(),
	}
	final := d.store.volumeDir(v.ID)
	tmp, err := stageDir(final)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create volume directory: %v", err)
	}
	if err := populate(filepath.Join(tmp, dataFile), srcData, access, capacity); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, status.Errorf(codes.Internal, "populate volume %s: %v", v.ID, err)
	}
	if err := commitDir(tmp, final, v); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, status.Errorf(codes.Internal, "commit volume %s: %v", v.ID, err)
	}
	d.store.volumes[v.ID] = v
	klog.InfoS("Created volume", "name", v.Name, "id", v.ID, "bytes", v.CapacityBytes, "access", access, "sourceSnapshot", srcSnap, "sourceVolume", srcVol)
	return &csi.CreateVolumeResponse{Volume: d.csiVolume(v)}, nil
}

// DeleteVolume deletes a volume; unknown ids succeed, published volumes are refused.
func (d *Driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.store.volume(req.GetVolumeId())
	if v == nil {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if len(v.Published) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is still published at %d target(s)", v.ID, len(v.Published))
	}
	if err := removeDir(d.store.volumeDir(v.ID)); err != nil {
		return nil, status.Errorf(codes.Internal, "delete volume %s: %v", v.ID, err)
	}
	delete(d.store.volumes, v.ID)
	klog.InfoS("Deleted volume", "name", v.Name, "id", v.ID)
	return &csi.DeleteVolumeResponse{}, nil
}

// ValidateVolumeCapabilities confirms capabilities matching the volume's access type.
func (d *Driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume_capabilities is missing")
	}
	d.mu.Lock()
	v := d.store.volume(req.GetVolumeId())
	d.mu.Unlock()
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	access, err := accessTypeOf(req.GetVolumeCapabilities())
	if err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	if access != v.AccessType {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: fmt.Sprintf("volume has %s access, not %s", v.AccessType, access)}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

// ControllerGetCapabilities lists the controller RPCs implemented here.
func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// CreateSnapshot copies a volume's data into a new (or returns the existing same-named) snapshot.
func (d *Driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is missing")
	}
	if req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "source_volume_id is missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.store.snapshotByName(req.GetName()); s != nil {
		if s.SourceVolumeID != req.GetSourceVolumeId() {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists as %s of volume %s, not %s", req.GetName(), s.ID, s.SourceVolumeID, req.GetSourceVolumeId())
		}
		return &csi.CreateSnapshotResponse{Snapshot: csiSnapshot(s)}, nil
	}
	v := d.store.volume(req.GetSourceVolumeId())
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "source volume %s does not exist", req.GetSourceVolumeId())
	}
	s := &Snapshot{
		ID:             newID(snapshotPrefix),
		Name:           req.GetName(),
		SourceVolumeID: v.ID,
		SizeBytes:      v.CapacityBytes,
		AccessType:     v.AccessType,
		CreatedAt:      time.Now().UTC(),
	}
	final := d.store.snapshotDir(s.ID)
	tmp, err := stageDir(final)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create snapshot directory: %v", err)
	}
	if err := populate(filepath.Join(tmp, dataFile), d.store.volumeData(v.ID), v.AccessType, v.CapacityBytes); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, status.Errorf(codes.Internal, "copy volume %s into snapshot %s: %v", v.ID, s.ID, err)
	}
	if err := commitDir(tmp, final, s); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, status.Errorf(codes.Internal, "commit snapshot %s: %v", s.ID, err)
	}
	d.store.snapshots[s.ID] = s
	klog.InfoS("Created snapshot", "name", s.Name, "id", s.ID, "sourceVolume", v.ID, "bytes", s.SizeBytes)
	return &csi.CreateSnapshotResponse{Snapshot: csiSnapshot(s)}, nil
}

// DeleteSnapshot deletes a snapshot; unknown ids succeed.
func (d *Driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot_id is missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.store.snapshot(req.GetSnapshotId())
	if s == nil {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	if err := removeDir(d.store.snapshotDir(s.ID)); err != nil {
		return nil, status.Errorf(codes.Internal, "delete snapshot %s: %v", s.ID, err)
	}
	delete(d.store.snapshots, s.ID)
	klog.InfoS("Deleted snapshot", "name", s.Name, "id", s.ID)
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots lists snapshots, optionally filtered by snapshot or source
// volume id, in pages of max_entries.
func (d *Driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	all := d.store.sortedSnapshots()
	d.mu.Unlock()
	var matched []*Snapshot
	for _, s := range all {
		if req.GetSnapshotId() != "" && s.ID != req.GetSnapshotId() {
			continue
		}
		if req.GetSourceVolumeId() != "" && s.SourceVolumeID != req.GetSourceVolumeId() {
			continue
		}
		matched = append(matched, s)
	}
	start, end, next, err := paginate(len(matched), req.GetStartingToken(), req.GetMaxEntries())
	if err != nil {
		return nil, err
	}
	resp := &csi.ListSnapshotsResponse{NextToken: next}
	for _, s := range matched[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: csiSnapshot(s)})
	}
	return resp, nil
}

// ControllerExpandVolume grows a volume: block files are extended (and loop
// devices publishing them refreshed), filesystem volumes record the capacity.
func (d *Driver) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id is missing")
	}
	if req.GetCapacityRange() == nil {
		return nil, status.Error(codes.InvalidArgument, "capacity_range is missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.store.volume(req.GetVolumeId())
	if v == nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	size, err := volumeCapacity(req.GetCapacityRange(), v.CapacityBytes, v.AccessType, d.cfg.MaxVolumeSize)
	if err != nil {
		return nil, err
	}
	if size > v.CapacityBytes {
		if v.AccessType == accessBlock {
			data := d.store.volumeData(v.ID)
			if err := os.Truncate(data, size); err != nil {
				return nil, status.Errorf(codes.Internal, "grow volume %s: %v", v.ID, err)
			}
			for target, p := range v.Published {
				if p.LoopDevice == "" {
					continue
				}
				if err := refreshLoopCapacity(p.LoopDevice, data); err != nil {
					return nil, status.Errorf(codes.Internal, "refresh %s published at %s: %v", p.LoopDevice, target, err)
				}
			}
		}
		old := v.CapacityBytes
		v.CapacityBytes = size
		if err := d.store.saveVolume(v); err != nil {
			v.CapacityBytes = old
			return nil, status.Errorf(codes.Internal, "save volume %s: %v", v.ID, err)
		}
		klog.InfoS("Expanded volume", "id", v.ID, "from", old, "to", size)
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: v.CapacityBytes, NodeExpansionRequired: false}, nil
}
