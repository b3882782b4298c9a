//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// importTimeout bounds one poll-and-import cycle: up to one schedule period plus pod start and copy.
var importTimeout = 4 * time.Minute

// schedule is the DataImportCron schedule; every minute is the shortest standard cron period.
var schedule = envOr("GOLDIMAGE_E2E_SCHEDULE", "* * * * *")

// TestDataImportCron follows a containerDisk through its life: first import, update, garbage collection and a
// broken push, on a filesystem volume; and a first import on a block volume; each on the no-provisioner class's
// pre-created PVs and on volumes the CSI driver provisions.
func TestDataImportCron(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	for _, class := range []struct{ prefix, name string }{{"", c.StorageClass}, {"csi-", csiClass}} {
		t.Run(class.prefix+"filesystem", func(t *testing.T) {
			t.Parallel()
			testCronLifecycle(t, c, reg, class.name)
		})
		t.Run(class.prefix+"block", func(t *testing.T) {
			t.Parallel()
			testBlockImport(t, c, reg, class.name)
		})
	}
}

func testCronLifecycle(t *testing.T, c *cluster, reg *testRegistry, class string) {
	ns := c.namespace(t, "e2e-fs")
	ctx := context.Background()
	const source = "fedora"
	repo := "e2e/fedora-" + class // one repository per class: the subtests run in parallel
	createCAConfigMap(t, c, ns, reg)

	raw1 := rawDisk(t, 1)
	d1 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw1), "disk.qcow2"))
	cron := newCron(ns, source, reg.URL(repo, "latest"), corev1.PersistentVolumeFilesystem, class)
	if err := c.Client.Create(ctx, cron); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	dv1 := expectImport(t, c, ns, source, d1, raw1)

	raw2 := rawDisk(t, 2)
	d2 := reg.Push(t, repo, "latest", containerDisk(t, raw2, "disk.img"))
	dv2 := expectImport(t, c, ns, source, d2, raw2) // found by the scheduled poll
	expectPresent(t, c, ns, dv1)

	raw3 := rawDisk(t, 3)
	d3 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw3), "disk.qcow2"))
	triggerPoll(t, c, cron) // from here on, CDI's trigger instead of waiting for the next minute
	dv3 := expectImport(t, c, ns, source, d3, raw3)
	expectGone(t, c, ns, dv1) // importsToKeep 2: v2 and v3 stay, v1 goes
	expectPresent(t, c, ns, dv2)
	expectOutdated(t, c, ns, "0")

	broken := imageWithFile(t, raw1, "data/not-a-disk.img") // a containerDisk with nothing under /disk/
	dBroken := reg.Push(t, repo, "latest", broken)
	triggerPoll(t, c, cron)
	expectFailureExplained(t, c, ns, source, dBroken)
	expectDataSource(t, c, ns, source, dv3)
	expectOutdated(t, c, ns, "1")
}

func testBlockImport(t *testing.T, c *cluster, reg *testRegistry, class string) {
	ns := c.namespace(t, "e2e-block")
	const source = "debian"
	repo := "e2e/debian-" + class
	createCAConfigMap(t, c, ns, reg)
	raw := rawDisk(t, 11)
	d := reg.Push(t, repo, "v1", containerDisk(t, qcow2Of(t, raw), "disk.qcow2"))
	cron := newCron(ns, source, reg.URL(repo, "v1"), corev1.PersistentVolumeBlock, class)
	cron.Spec.RetentionPolicy = ptr.To(cdiv1.DataImportCronRetainNone)
	if err := c.Client.Create(context.Background(), cron); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	dv := expectImport(t, c, ns, source, d, raw)

	// retentionPolicy None: deleting the cron deletes its imports and its DataSource.
	if err := c.Client.Delete(context.Background(), cron); err != nil {
		t.Fatalf("delete DataImportCron: %v", err)
	}
	expectGone(t, c, ns, dv)
	waitFor(t, "deletion of DataSource "+source, time.Minute, func() (bool, string, error) {
		err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source}, &cdiv1.DataSource{})
		return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err), client.IgnoreNotFound(err)
	})
}

// triggerPoll forces a poll now the way CDI's poller does: by changing the cron's lastCronTime annotation.
func triggerPoll(t *testing.T, c *cluster, cron *cdiv1.DataImportCron) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, cdiconst.AnnLastCronTime, time.Now().UTC().Format(time.RFC3339Nano))
	if err := c.Client.Patch(context.Background(), cron, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("trigger a poll of DataImportCron %s: %v", cron.Name, err)
	}
}

const caConfigMap = "registry-ca"

// createCAConfigMap stores the registry's CA where CDI's certConfigMap points.
func createCAConfigMap(t *testing.T, c *cluster, ns string, reg *testRegistry) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caConfigMap, Namespace: ns},
		Data: map[string]string{"ca.pem": string(reg.CAPEM)}}
	if err := c.Client.Create(context.Background(), cm); err != nil {
		t.Fatalf("create CA ConfigMap: %v", err)
	}
}

// newCron is a DataImportCron keeping two imports of url in a DataSource named source.
func newCron(ns, source, url string, mode corev1.PersistentVolumeMode, class string) *cdiv1.DataImportCron {
	return &cdiv1.DataImportCron{
		ObjectMeta: metav1.ObjectMeta{Name: source + "-cron", Namespace: ns},
		Spec: cdiv1.DataImportCronSpec{
			Schedule:          schedule,
			ManagedDataSource: source,
			ImportsToKeep:     ptr.To[int32](2),
			GarbageCollect:    ptr.To(cdiv1.DataImportCronGarbageCollectOutdated),
			Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{
					URL: &url, CertConfigMap: ptr.To(caConfigMap)}},
				Storage: &cdiv1.StorageSpec{
					VolumeMode:       &mode,
					StorageClassName: &class,
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: *resource.NewQuantity(diskSize*2, resource.BinarySI)}},
				},
			}},
		},
	}
}

// dvName is CDI's DataVolume name for an import of digest d: the DataSource name and 12 hex digits.
func dvName(source string, d v1.Hash) string {
	return source + "-" + d.Hex[:12]
}

// expectImport waits for the cron to import digest d, checks the volume's bytes against raw and that the
// DataSource and the cron's status point at the new import. It returns the DataVolume name.
func expectImport(t *testing.T, c *cluster, ns, source string, d v1.Hash, raw string) string {
	t.Helper()
	name := dvName(source, d)
	ctx := context.Background()
	dv := &cdiv1.DataVolume{}
	waitFor(t, "DataVolume "+name+" to succeed", importTimeout, func() (bool, string, error) {
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			if apierrors.IsNotFound(err) {
				return false, "not created yet; " + cronState(c, ns, source), nil
			}
			return false, "", err
		}
		if dv.Status.Phase == cdiv1.Failed {
			return false, "", fmt.Errorf("DataVolume %s failed: %s", name, dvConditions(dv))
		}
		return dv.Status.Phase == cdiv1.Succeeded, fmt.Sprintf("phase %q %s", dv.Status.Phase, dvConditions(dv)), nil
	})
	var url *string
	if dv.Spec.Source != nil && dv.Spec.Source.Registry != nil {
		url = dv.Spec.Source.Registry.URL
	}
	if url == nil || !strings.HasSuffix(*url, "@"+d.String()) {
		t.Errorf("DataVolume %s source URL = %v, want it pinned to %s", name, ptr.Deref(url, "<nil>"), d)
	}
	verifyTarget(t, volumeTarget(t, c, ns, name), raw)
	expectDataSource(t, c, ns, source, name)
	expectCronStatus(t, c, ns, source, name)
	t.Logf("imported %s into %s/%s; DataSource %s points at it", d, ns, name, source)
	return name
}

// volumeTarget returns the host path of the volume bound to PVC name: disk.img in a hostPath PV, the loop
// device of a local PV, or the test CSI driver's data of a CSI PV.
func volumeTarget(t *testing.T, c *cluster, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc); err != nil {
		t.Fatalf("PVC of DataVolume %s: %v", name, err)
	}
	pv := &corev1.PersistentVolume{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
		t.Fatalf("PV %q bound to PVC %s: %v", pvc.Spec.VolumeName, name, err)
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path + "/disk.img"
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path
	case pv.Spec.CSI != nil:
		return csiVolumePath(t, pv)
	}
	t.Fatalf("PV %s is neither hostPath, local nor CSI", pv.Name)
	return ""
}

// expectDataSource waits for DataSource source to be Ready and point at PVC pvc.
func expectDataSource(t *testing.T, c *cluster, ns, source, pvc string) {
	t.Helper()
	ds := &cdiv1.DataSource{}
	waitFor(t, "DataSource "+source+" Ready on "+pvc, time.Minute, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source}, ds); err != nil {
			return false, err.Error(), client.IgnoreNotFound(err)
		}
		ready := false
		for _, cond := range ds.Status.Conditions {
			ready = ready || (cond.Type == cdiv1.DataSourceReady && cond.Status == corev1.ConditionTrue)
		}
		src := ds.Spec.Source.PVC
		on := src != nil && src.Name == pvc && src.Namespace == ns
		return ready && on, fmt.Sprintf("spec.source.pvc %+v, conditions %+v", src, ds.Status.Conditions), nil
	})
}

// expectCronStatus checks that the cron reports pvc as its last import and is UpToDate.
func expectCronStatus(t *testing.T, c *cluster, ns, source, pvc string) {
	t.Helper()
	cron := &cdiv1.DataImportCron{}
	waitFor(t, "DataImportCron status naming "+pvc, time.Minute, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source + "-cron"}, cron); err != nil {
			return false, "", err
		}
		last := cron.Status.LastImportedPVC
		upToDate := cronCondition(cron, cdiv1.DataImportCronUpToDate)
		ok := last != nil && last.Name == pvc && upToDate != nil && upToDate.Status == corev1.ConditionTrue
		return ok, fmt.Sprintf("lastImportedPVC %+v, conditions %+v", last, cron.Status.Conditions), nil
	})
}

// expectFailureExplained waits until the import of the broken digest d is reported with a cause naming the
// missing disk, both in a condition (of the cron or its DataVolume) and in a Warning event.
func expectFailureExplained(t *testing.T, c *cluster, ns, source string, d v1.Hash) {
	t.Helper()
	name := dvName(source, d)
	// The importer's cause for this image is "invalid containerDisk: no regular file under /disk/"; a generic failure does not name it.
	explains := func(msg string) bool { return strings.Contains(msg, "disk/") }
	waitFor(t, "a condition explaining why "+name+" failed", importTimeout, func() (bool, string, error) {
		var msgs []string
		cron := &cdiv1.DataImportCron{}
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source + "-cron"}, cron); err != nil {
			return false, "", err
		}
		for _, cond := range cron.Status.Conditions {
			msgs = append(msgs, cond.Message)
		}
		dv := &cdiv1.DataVolume{}
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err == nil {
			for _, cond := range dv.Status.Conditions {
				msgs = append(msgs, cond.Message)
			}
		}
		for _, m := range msgs {
			if explains(m) {
				t.Logf("condition: %s", m)
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("condition messages %q", msgs), nil
	})
	waitFor(t, "an event explaining why "+name+" failed", time.Minute, func() (bool, string, error) {
		msgs, err := c.eventsAbout(ns, "DataImportCron", "DataVolume", "PersistentVolumeClaim")
		for _, m := range msgs {
			if strings.HasPrefix(m, corev1.EventTypeWarning) && explains(m) {
				t.Logf("event: %s", m)
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("events %q", msgs), err
	})
}

func expectGone(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	waitFor(t, "garbage collection of "+name, time.Minute, func() (bool, string, error) {
		dvErr := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &cdiv1.DataVolume{})
		pvcErr := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.PersistentVolumeClaim{})
		gone := apierrors.IsNotFound(dvErr) && apierrors.IsNotFound(pvcErr)
		return gone, fmt.Sprintf("DataVolume: %v, PVC: %v", dvErr, pvcErr), nil
	})
}

func expectPresent(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &cdiv1.DataVolume{}); err != nil {
		t.Errorf("DataVolume %s should be kept: %v", name, err)
	}
}

func cronCondition(cron *cdiv1.DataImportCron, typ cdiv1.DataImportCronConditionType) *cdiv1.DataImportCronCondition {
	for i := range cron.Status.Conditions {
		if cron.Status.Conditions[i].Type == typ {
			return &cron.Status.Conditions[i]
		}
	}
	return nil
}

// cronState summarizes the cron's status for wait messages.
func cronState(c *cluster, ns, source string) string {
	cron := &cdiv1.DataImportCron{}
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source + "-cron"}, cron); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("cron currentImports %+v conditions %+v", cron.Status.CurrentImports, cron.Status.Conditions)
}

func dvConditions(dv *cdiv1.DataVolume) string {
	var parts []string
	for _, c := range dv.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, " ")
}
