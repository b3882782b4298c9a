package driver

import (
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestVolumeCapacity(t *testing.T) {
	const gi = 1 << 30
	cr := func(req, lim int64) *csi.CapacityRange {
		return &csi.CapacityRange{RequiredBytes: req, LimitBytes: lim}
	}
	for _, tc := range []struct {
		name    string
		cr      *csi.CapacityRange
		src     int64
		access  string
		max     int64
		want    int64
		wantErr codes.Code
	}{
		{name: "no range: default", cr: nil, access: accessMount, max: 1 << 40, want: DefaultVolumeSize},
		{name: "required", cr: cr(5*gi, 0), access: accessMount, max: 1 << 40, want: 5 * gi},
		{name: "limit below default", cr: cr(0, 1<<20), access: accessMount, max: 1 << 40, want: 1 << 20},
		{name: "block rounds up to sectors", cr: cr(1000, 0), access: accessBlock, max: 1 << 40, want: 1024},
		{name: "block rounding past limit", cr: cr(1000, 1000), access: accessBlock, max: 1 << 40, wantErr: codes.OutOfRange},
		{name: "mount keeps odd sizes", cr: cr(1000, 1000), access: accessMount, max: 1 << 40, want: 1000},
		{name: "source larger than request", cr: cr(gi, 0), src: 2 * gi, access: accessBlock, max: 1 << 40, want: 2 * gi},
		{name: "source larger than limit", cr: cr(gi, gi), src: 2 * gi, access: accessMount, max: 1 << 40, wantErr: codes.OutOfRange},
		{name: "source without range", cr: nil, src: 3 * gi, access: accessMount, max: 1 << 40, want: 3 * gi},
		{name: "small source without range", cr: nil, src: 8 << 20, access: accessBlock, max: 1 << 40, want: 8 << 20},
		{name: "over maximum", cr: cr(2<<40, 0), access: accessMount, max: 1 << 40, wantErr: codes.OutOfRange},
		{name: "at maximum", cr: cr(1<<40, 0), access: accessBlock, max: 1 << 40, want: 1 << 40},
		{name: "required above limit", cr: cr(2*gi, gi), access: accessMount, max: 1 << 40, wantErr: codes.InvalidArgument},
		{name: "negative", cr: cr(-1, 0), access: accessMount, max: 1 << 40, wantErr: codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := volumeCapacity(tc.cr, tc.src, tc.access, tc.max)
			if code := status.Code(err); code != tc.wantErr {
				t.Fatalf("error %v, want code %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("capacity %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCapacityFits(t *testing.T) {
	for _, tc := range []struct {
		capacity, req, lim int64
		want               bool
	}{
		{100, 0, 0, true},
		{100, 100, 0, true},
		{100, 101, 0, false},
		{100, 50, 100, true},
		{100, 50, 99, false},
	} {
		if got := capacityFits(tc.capacity, &csi.CapacityRange{RequiredBytes: tc.req, LimitBytes: tc.lim}); got != tc.want {
			t.Errorf("capacityFits(%d, %d..%d) = %t, want %t", tc.capacity, tc.req, tc.lim, got, tc.want)
		}
	}
}

func TestTopologyAllowed(t *testing.T) {
	ours := map[string]string{TopologyKey: "node-a"}
	topo := func(kv ...string) *csi.Topology {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &csi.Topology{Segments: m}
	}
	for _, tc := range []struct {
		name string
		req  *csi.TopologyRequirement
		want bool
	}{
		{"none", nil, true},
		{"preferred only, other node", &csi.TopologyRequirement{Preferred: []*csi.Topology{topo(TopologyKey, "node-b")}}, true},
		{"requisite this node", &csi.TopologyRequirement{Requisite: []*csi.Topology{topo(TopologyKey, "node-a")}}, true},
		{"requisite other node", &csi.TopologyRequirement{Requisite: []*csi.Topology{topo(TopologyKey, "node-b")}}, false},
		{"requisite among others", &csi.TopologyRequirement{Requisite: []*csi.Topology{topo(TopologyKey, "node-b"), topo(TopologyKey, "node-a")}}, true},
		{"requisite unknown key", &csi.TopologyRequirement{Requisite: []*csi.Topology{topo("zone", "z1")}}, false},
		{"requisite empty segments", &csi.TopologyRequirement{Requisite: []*csi.Topology{topo()}}, true},
	} {
		if got := topologyAllowed(tc.req, ours); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestPaginate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int
		token      string
		max        int32
		start, end int
		next       string
		wantErr    codes.Code
	}{
		{name: "all", n: 5, start: 0, end: 5},
		{name: "first page", n: 5, max: 2, start: 0, end: 2, next: "2"},
		{name: "middle page", n: 5, token: "2", max: 2, start: 2, end: 4, next: "4"},
		{name: "last page exact", n: 4, token: "2", max: 2, start: 2, end: 4},
		{name: "last page short", n: 5, token: "4", max: 2, start: 4, end: 5},
		{name: "token at end", n: 5, token: "5", start: 5, end: 5},
		{name: "empty", n: 0, max: 3},
		{name: "token past end", n: 5, token: "6", wantErr: codes.Aborted},
		{name: "token garbage", n: 5, token: "x", wantErr: codes.Aborted},
		{name: "token negative", n: 5, token: "-1", wantErr: codes.Aborted},
		{name: "max negative", n: 5, max: -1, wantErr: codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, next, err := paginate(tc.n, tc.token, tc.max)
			if code := status.Code(err); code != tc.wantErr {
				t.Fatalf("error %v, want code %v", err, tc.wantErr)
			}
			if err == nil && (start != tc.start || end != tc.end || next != tc.next) {
				t.Errorf("got [%d,%d) next %q, want [%d,%d) next %q", start, end, next, tc.start, tc.end, tc.next)
			}
		})
	}
}

func TestAccessTypeOf(t *testing.T) {
	mount := func(m csi.VolumeCapability_AccessMode_Mode) *csi.VolumeCapability {
		return &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: m}}
	}
	block := func(m csi.VolumeCapability_AccessMode_Mode) *csi.VolumeCapability {
		return &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
			AccessMode: &csi.VolumeCapability_AccessMode{Mode: m}}
	}
	const rwo = csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER
	for _, tc := range []struct {
		name    string
		caps    []*csi.VolumeCapability
		want    string
		wantErr bool
	}{
		{name: "mount", caps: []*csi.VolumeCapability{mount(rwo)}, want: accessMount},
		{name: "block", caps: []*csi.VolumeCapability{block(csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY)}, want: accessBlock},
		{name: "none", wantErr: true},
		{name: "mixed", caps: []*csi.VolumeCapability{mount(rwo), block(rwo)}, wantErr: true},
		{name: "no access type", caps: []*csi.VolumeCapability{{AccessMode: &csi.VolumeCapability_AccessMode{Mode: rwo}}}, wantErr: true},
		{name: "no access mode", caps: []*csi.VolumeCapability{mount(csi.VolumeCapability_AccessMode_UNKNOWN)}, wantErr: true},
		{name: "multi node", caps: []*csi.VolumeCapability{mount(csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER)}, wantErr: true},
	} {
		got, err := accessTypeOf(tc.caps)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{
		{in: "unix:///csi/csi.sock", want: "/csi/csi.sock"},
		{in: "unix:/csi/csi.sock", want: "/csi/csi.sock"},
		{in: "/csi//csi.sock", want: "/csi/csi.sock"},
		{in: "unix://csi.sock", wantErr: true},
		{in: "tcp://127.0.0.1:10000", wantErr: true},
		{in: "", wantErr: true},
	} {
		got, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %q, %v; want %q, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestMountPoints(t *testing.T) {
	info := `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
97 22 0:5 /loop3 /var/lib/kubelet/pods/x/volumeDevices/kubernetes.io~csi/pvc-1/abc rw - devtmpfs udev rw
98 22 253:1 /csi-data-dir/volumes/vol-1/data /var/lib/kubelet/pods/y/volumes/kubernetes.io~csi/pvc\0402/mount ro - ext4 /dev/vda1 rw
`
	mp := mountPoints(info)
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/var/lib/kubelet/pods/x/volumeDevices/kubernetes.io~csi/pvc-1/abc", true},
		{"/var/lib/kubelet/pods/y/volumes/kubernetes.io~csi/pvc 2/mount", true},
		{`/var/lib/kubelet/pods/y/volumes/kubernetes.io~csi/pvc\0402/mount`, false},
		{"/var/lib/kubelet", false},
	} {
		if mp[tc.path] != tc.want {
			t.Errorf("mount point %q: %t, want %t", tc.path, mp[tc.path], tc.want)
		}
	}
	for in, want := range map[string]string{`a\040b`: "a b", `a\011b\134`: "a\tb\\", `tail\04`: `tail\04`, "plain": "plain"} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}
