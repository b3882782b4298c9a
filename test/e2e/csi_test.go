//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// The CSI storage hack/e2e.sh deploys (test/e2e/manifests/csi-hostpath.yaml).
const (
	csiDriver    = "hostpath.csi.goldimage.io"
	csiClass     = "csi-hostpath"      // Immediate binding
	csiWFFCClass = "csi-hostpath-wffc" // WaitForFirstConsumer
)

// TestCSIProvisioningAndClone imports a golden disk into a dynamically provisioned CSI volume and clones it three
// ways: in the same namespace and class (the CSI driver clones: a PVC with dataSource, no clone pods), into
// another namespace and into the no-provisioner class (host-assisted); every copy holds the golden bytes.
func TestCSIProvisioningAndClone(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	ctx := context.Background()
	golden, vms := c.namespace(t, "e2e-csi-golden"), c.namespace(t, "e2e-csi-vms")
	createCAConfigMap(t, c, golden, reg)
	allowCloneFrom(t, c, golden, vms)
	raw := rawDisk(t, 31)
	url := reg.URL("e2e/csi-golden", "v1")
	reg.Push(t, "e2e/csi-golden", "v1", containerDisk(t, qcow2Of(t, raw), "disk.qcow2"))
	src := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: golden}, Spec: cdiv1.DataVolumeSpec{
		Source:  &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url, CertConfigMap: ptr.To(caConfigMap)}},
		Storage: diskStorage(csiClass, corev1.PersistentVolumeBlock)}}
	ds := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: golden},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: golden, Name: "golden"}}}}
	for _, obj := range []client.Object{src, ds} {
		if err := c.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	waitSucceeded(t, c, golden, "golden")
	expectCSIVolume(t, c, golden, "golden")
	verifyTarget(t, volumeTarget(t, c, golden, "golden"), raw)

	for _, tc := range []struct {
		name, ns, class string
		csi             bool
	}{
		{"csi-clone", golden, csiClass, true},
		{"other-namespace", vms, csiClass, false},
		{"other-class", golden, c.StorageClass, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: tc.ns}, Spec: cdiv1.DataVolumeSpec{
				SourceRef: &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: ptr.To(golden), Name: "golden"},
				Storage:   diskStorage(tc.class, corev1.PersistentVolumeBlock)}}
			pods := watchPods(t, c, golden, cdiconst.CloneSourcePrefix)
			if err := c.Client.Create(ctx, dv); err != nil {
				t.Fatalf("create DataVolume: %v", err)
			}
			waitSucceeded(t, c, tc.ns, tc.name)
			started := slices.Collect(maps.Keys(pods.stop()))
			expectCloneStrategy(t, c, tc.ns, tc.name, "PersistentVolumeClaim", "golden", tc.csi, started)
			verifyTarget(t, volumeTarget(t, c, tc.ns, tc.name), raw)
		})
	}
}

// TestCSIWaitForFirstConsumer imports into a WaitForFirstConsumer class: without CDI's immediate-binding
// annotation the DataVolume waits in phase WaitForFirstConsumer with no importer pod until a pod uses its PVC,
// then imports; with the annotation it imports at once.
func TestCSIWaitForFirstConsumer(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	ctx := context.Background()
	ns := c.namespace(t, "e2e-csi-wffc")
	createCAConfigMap(t, c, ns, reg)
	raw := rawDisk(t, 32)
	url := reg.URL("e2e/csi-wffc", "v1")
	reg.Push(t, "e2e/csi-wffc", "v1", containerDisk(t, qcow2Of(t, raw), "disk.qcow2"))
	newDV := func(name string) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cdiv1.DataVolumeSpec{
			Source:  &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url, CertConfigMap: ptr.To(caConfigMap)}},
			Storage: diskStorage(csiWFFCClass, corev1.PersistentVolumeFilesystem)}}
	}
	eager := newDV("eager")
	eager.Annotations = map[string]string{cdiconst.AnnImmediateBinding: "true"}
	late := newDV("late")
	for _, dv := range []*cdiv1.DataVolume{eager, late} {
		if err := c.Client.Create(ctx, dv); err != nil {
			t.Fatalf("create DataVolume %s: %v", dv.Name, err)
		}
	}
	waitSucceeded(t, c, ns, "eager")
	verifyTarget(t, volumeTarget(t, c, ns, "eager"), raw)

	waitFor(t, "DataVolume late in phase WaitForFirstConsumer", time.Minute, func() (bool, string, error) {
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(late), late)
		return late.Status.Phase == cdiv1.WaitForFirstConsumer, fmt.Sprintf("phase %q %s", late.Status.Phase, dvConditions(late)), err
	})
	time.Sleep(5 * time.Second) // a wrong controller would start the importer now
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + "late"}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
		t.Fatalf("importer pod of a DataVolume waiting for its first consumer: err %v", err)
	}
	consumer := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "consumer", Namespace: ns}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "pause", Image: envOr("GOLDIMAGE_PAUSE_IMAGE", "goldimage.local/pause:e2e"),
			ImagePullPolicy: corev1.PullNever, VolumeMounts: []corev1.VolumeMount{{Name: "disk", MountPath: "/disk", ReadOnly: true}}}},
		Volumes: []corev1.Volume{{Name: "disk", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "late"}}}}}}
	if err := c.Client.Create(ctx, consumer); err != nil {
		t.Fatalf("create consumer pod: %v", err)
	}
	waitSucceeded(t, c, ns, "late")
	expectCSIVolume(t, c, ns, "late")
	verifyTarget(t, volumeTarget(t, c, ns, "late"), raw)
}

// TestCSISnapshotGoldenImages follows a DataImportCron in a class whose StorageProfile says
// dataImportCronSourceFormat snapshot: each import becomes a VolumeSnapshot cut by the real snapshotter, the
// DataSource points at it, the import's PVC goes; a VM disk in the same namespace and class is restored by the
// CSI driver, one in another namespace is copied host-assisted through a temporary restored PVC; a new build
// moves the DataSource and garbage collection deletes the old snapshot.
func TestCSISnapshotGoldenImages(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	ctx := context.Background()
	golden, vms := c.namespace(t, "e2e-snap-golden"), c.namespace(t, "e2e-snap-vms")
	createCAConfigMap(t, c, golden, reg)
	allowCloneFrom(t, c, golden, vms)
	class := snapshotClass(t, c, golden)
	const repo, source = "e2e/snap", "snapdisk"

	raw1 := rawDisk(t, 33)
	d1 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw1), "disk.qcow2"))
	cron := newCron(golden, source, reg.URL(repo, "latest"), corev1.PersistentVolumeBlock, class)
	cron.Spec.ImportsToKeep = ptr.To[int32](1)
	if err := c.Client.Create(ctx, cron); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	snap1 := expectSnapshotImport(t, c, golden, source, dvName(source, d1))

	for _, tc := range []struct {
		name, ns string
		csi      bool
	}{{"restore", golden, true}, {"other-namespace", vms, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: tc.ns}, Spec: cdiv1.DataVolumeSpec{
				SourceRef: &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: ptr.To(golden), Name: source},
				Storage:   diskStorage(class, corev1.PersistentVolumeBlock)}}
			pods := watchPods(t, c, golden, cdiconst.CloneSourcePrefix)
			if err := c.Client.Create(ctx, dv); err != nil {
				t.Fatalf("create DataVolume: %v", err)
			}
			waitSucceeded(t, c, tc.ns, tc.name)
			started := slices.Collect(maps.Keys(pods.stop()))
			expectCloneStrategy(t, c, tc.ns, tc.name, "VolumeSnapshot", snap1, tc.csi, started)
			verifyTarget(t, volumeTarget(t, c, tc.ns, tc.name), raw1)
			if err := c.Client.Get(ctx, client.ObjectKeyFromObject(dv), dv); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "temporary restored PVC removed", time.Minute, func() (bool, string, error) {
				err := c.Client.Get(ctx, client.ObjectKey{Namespace: golden, Name: cdiconst.RestoreSourcePrefix + string(dv.UID)}, &corev1.PersistentVolumeClaim{})
				return apierrors.IsNotFound(err), fmt.Sprint(err), client.IgnoreNotFound(err)
			})
		})
	}

	raw2 := rawDisk(t, 34)
	d2 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw2), "disk.qcow2"))
	triggerPoll(t, c, cron)
	expectSnapshotImport(t, c, golden, source, dvName(source, d2))
	waitFor(t, "garbage collection of VolumeSnapshot "+snap1, time.Minute, func() (bool, string, error) {
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: golden, Name: snap1}, &snapshotv1.VolumeSnapshot{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), client.IgnoreNotFound(err)
	})
}

// snapshotClass creates a StorageClass of the CSI driver (named after the test namespace, so that runs never
// share it) whose StorageProfile an admin sets to dataImportCronSourceFormat snapshot, and waits until the
// profile's status says so with the driver's VolumeSnapshotClass.
func snapshotClass(t *testing.T, c *cluster, ns string) string {
	t.Helper()
	ctx := context.Background()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ns}, Provisioner: csiDriver,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	if err := c.Client.Create(ctx, sc); err != nil {
		t.Fatalf("create StorageClass: %v", err)
	}
	t.Cleanup(func() { _ = c.Client.Delete(context.Background(), sc) })
	p := &cdiv1.StorageProfile{}
	waitFor(t, "StorageProfile "+sc.Name, time.Minute, func() (bool, string, error) {
		err := c.Client.Get(ctx, client.ObjectKey{Name: sc.Name}, p)
		return err == nil, fmt.Sprint(err), client.IgnoreNotFound(err)
	})
	patch := `{"spec":{"dataImportCronSourceFormat":"snapshot"}}`
	if err := c.Client.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("set StorageProfile %s to snapshot: %v", sc.Name, err)
	}
	waitFor(t, "StorageProfile "+sc.Name+" status snapshot", time.Minute, func() (bool, string, error) {
		err := c.Client.Get(ctx, client.ObjectKey{Name: sc.Name}, p)
		ok := ptr.Deref(p.Status.DataImportCronSourceFormat, "") == cdiv1.DataImportCronSourceFormatSnapshot && ptr.Deref(p.Status.SnapshotClass, "") != ""
		return ok, fmt.Sprintf("%+v", p.Status), err
	})
	return sc.Name
}

// expectSnapshotImport waits until import name is kept as a ready VolumeSnapshot that the cron's DataSource
// points at, its DataVolume and PVC gone, and the cron's status.sourceFormat snapshot. It returns the name.
func expectSnapshotImport(t *testing.T, c *cluster, ns, source, name string) string {
	t.Helper()
	ctx := context.Background()
	vs := &snapshotv1.VolumeSnapshot{}
	waitFor(t, "VolumeSnapshot "+name+" ready", importTimeout, func() (bool, string, error) {
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vs); err != nil {
			return false, "not yet: " + cronState(c, ns, source), client.IgnoreNotFound(err)
		}
		if st := vs.Status; st != nil && st.Error != nil && st.Error.Message != nil {
			return false, "", fmt.Errorf("VolumeSnapshot %s: %s", name, *st.Error.Message)
		}
		return vs.Status != nil && ptr.Deref(vs.Status.ReadyToUse, false), fmt.Sprintf("status %+v", vs.Status), nil
	})
	ds := &cdiv1.DataSource{}
	waitFor(t, "DataSource "+source+" Ready on VolumeSnapshot "+name, time.Minute, func() (bool, string, error) {
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: source}, ds); err != nil {
			return false, err.Error(), client.IgnoreNotFound(err)
		}
		ready := false
		for _, cond := range ds.Status.Conditions {
			ready = ready || (cond.Type == cdiv1.DataSourceReady && cond.Status == corev1.ConditionTrue)
		}
		on := ds.Spec.Source.Snapshot != nil && ds.Spec.Source.Snapshot.Name == name
		return ready && on, fmt.Sprintf("spec %+v conditions %+v", ds.Spec.Source, ds.Status.Conditions), nil
	})
	expectGone(t, c, ns, name)
	waitFor(t, "DataImportCron "+source+" status.sourceFormat snapshot", time.Minute, func() (bool, string, error) {
		cron := &cdiv1.DataImportCron{}
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: source + "-cron"}, cron)
		return ptr.Deref(cron.Status.SourceFormat, "") == cdiv1.DataImportCronSourceFormatSnapshot, fmt.Sprintf("%v", cron.Status.SourceFormat), err
	})
	t.Logf("import %s kept as VolumeSnapshot %s/%s", name, ns, name)
	return name
}

// expectCloneStrategy checks how target ns/name was made: by the CSI driver (its PVC's dataSource is the source
// of kind, and no clone source pod ran) or host-assisted (no dataSource, and a clone source pod ran).
func expectCloneStrategy(t *testing.T, c *cluster, ns, name, kind, source string, csi bool, sourcePods []string) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pvc); err != nil {
		t.Fatal(err)
	}
	ds := pvc.Spec.DataSource
	switch {
	case csi && (ds == nil || ds.Kind != kind || ds.Name != source):
		t.Errorf("PVC %s dataSource %+v, want the CSI driver to copy %s %s", name, ds, kind, source)
	case csi && len(sourcePods) > 0:
		t.Errorf("a CSI copy ran clone source pods %v", sourcePods)
	case !csi && ds != nil:
		t.Errorf("host-assisted PVC %s has dataSource %+v", name, ds)
	case !csi && len(sourcePods) == 0:
		t.Errorf("host-assisted copy into %s ran no clone source pod", name)
	}
	expectCSIVolume(t, c, ns, name)
}

// expectCSIVolume checks that PVC ns/name is bound to a volume the CSI driver provisioned, unless it is in
// the no-provisioner class.
func expectCSIVolume(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	ctx := context.Background()
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(pvc.Spec.StorageClassName, "") == c.StorageClass {
		return
	}
	pv := &corev1.PersistentVolume{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
		t.Fatalf("PV of PVC %s: %v", name, err)
	}
	if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != csiDriver || pv.Annotations["pv.kubernetes.io/provisioned-by"] != csiDriver {
		t.Errorf("PV %s of PVC %s was not provisioned by %s: csi %+v annotations %v", pv.Name, name, csiDriver, pv.Spec.CSI, pv.Annotations)
	}
}

// csiVolumePath is where the test driver keeps the data of volume handle (its --datadir on the host):
// volumes/<handle>/data, a directory for a filesystem volume and a sparse file for a block volume.
func csiVolumePath(t *testing.T, pv *corev1.PersistentVolume) string {
	t.Helper()
	dir := os.Getenv("GOLDIMAGE_E2E_CSI_DATA")
	if dir == "" {
		t.Fatal("GOLDIMAGE_E2E_CSI_DATA unset: run the e2e tests with `make e2e`")
	}
	p := filepath.Join(dir, "volumes", pv.Spec.CSI.VolumeHandle, "data")
	if ptr.Deref(pv.Spec.VolumeMode, corev1.PersistentVolumeFilesystem) == corev1.PersistentVolumeFilesystem {
		p = filepath.Join(p, "disk.img")
	}
	return p
}

// diskStorage is the storage of a test DataVolume in class: twice the test disk's size, ReadWriteOnce.
func diskStorage(class string, mode corev1.PersistentVolumeMode) *cdiv1.StorageSpec {
	return &cdiv1.StorageSpec{VolumeMode: &mode, StorageClassName: ptr.To(class),
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceStorage: *resource.NewQuantity(diskSize*2, resource.BinarySI)}}}
}

// allowCloneFrom lets the default service account of vms clone from golden, as CDI's RBAC recipe does.
func allowCloneFrom(t *testing.T, c *cluster, golden, vms string) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cloner", Namespace: golden},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"cdi.kubevirt.io"}, Resources: []string{"datavolumes/source"}, Verbs: []string{"create"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cloner", Namespace: golden},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cloner"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: vms}}}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
}
