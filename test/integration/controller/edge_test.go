package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestCronBadInput checks that specs no retry can fix stall with InvalidSpec and that an unreachable image is
// reported as PollFailed, each with a message naming the cause and a Warning event.
func TestCronBadInput(t *testing.T) {
	ns := namespace(t, "bad-input")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	for _, tc := range []struct {
		name   string
		edit   func(*cdiv1.DataImportCron)
		reason string
		cause  string
	}{
		{"bad schedule", func(c *cdiv1.DataImportCron) { c.Spec.Schedule = "every day" }, cdiconst.ReasonInvalidSpec, "every day"},
		{"s3 source", func(c *cdiv1.DataImportCron) {
			c.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{S3: &cdiv1.DataVolumeSourceS3{URL: "s3://bucket/disk.img"}}
		}, cdiconst.ReasonInvalidSpec, "neither registry nor http"},
		{"unreachable http source", func(c *cdiv1.DataImportCron) {
			c.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "http://example.invalid/disk.img"}}
		}, cdiconst.ReasonPollFailed, "example.invalid/disk.img"},
		{"no scheme", func(c *cdiv1.DataImportCron) { c.Spec.Template.Spec.Source.Registry.URL = ptr.To(reg.Ref("os/x:1")) }, cdiconst.ReasonInvalidSpec, "docker://"},
		{"missing image", func(*cdiv1.DataImportCron) {}, cdiconst.ReasonPollFailed, "os/missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source := strings.ReplaceAll(tc.name, " ", "-")
			c := newCron(ns, source, "docker://"+reg.Ref("os/missing:latest"), 3)
			tc.edit(c)
			create(t, c)
			got := waitCron(t, ns, c.Name, tc.reason, func(c *cdiv1.DataImportCron) bool {
				return cronCondition(c, cdiv1.DataImportCronUpToDate).Reason == tc.reason
			})
			if msg := cronCondition(got, cdiv1.DataImportCronUpToDate).Message; !strings.Contains(msg, tc.cause) {
				t.Errorf("UpToDate message %q does not name %q", msg, tc.cause)
			}
			waitEvent(t, ns, "DataImportCron", c.Name, corev1.EventTypeWarning, tc.cause)
			var dvs cdiv1.DataVolumeList
			if err := k8s.List(context.Background(), &dvs, client.InNamespace(ns), client.MatchingLabels{cdiconst.LabelDataImportCron: c.Name}); err != nil || len(dvs.Items) > 0 {
				t.Errorf("DataVolumes of a cron that cannot poll: %d (err %v)", len(dvs.Items), err)
			}
		})
	}
}

// TestForeignDataSource checks that a DataSource managed by another cron is left alone, with a Warning event.
func TestForeignDataSource(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "foreign")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	ds := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns,
		Labels: map[string]string{cdiconst.LabelDataImportCron: "someone-else"}},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: ns, Name: "theirs"}}}}
	create(t, ds)
	d := pushDisk(t, reg, "os/shared:1")
	c := newCron(ns, "shared", "docker://"+reg.Ref("os/shared:1"), 3)
	create(t, c)
	importOK(t, ns, dvName("shared", d))
	waitEvent(t, ns, "DataImportCron", c.Name, corev1.EventTypeWarning, "someone-else")
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
		t.Fatal(err)
	}
	if ds.Spec.Source.PVC.Name != "theirs" || ds.Labels[cdiconst.LabelDataImportCron] != "someone-else" {
		t.Errorf("foreign DataSource changed: source %+v labels %v", ds.Spec.Source.PVC, ds.Labels)
	}
}

// TestRetentionNone checks that deleting a cron with retentionPolicy None deletes its imports and DataSource.
func TestRetentionNone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "retention")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	d := pushDisk(t, reg, "os/gone:1")
	c := newCron(ns, "gone", "docker://"+reg.Ref("os/gone:1"), 3)
	c.Spec.RetentionPolicy = ptr.To(cdiv1.DataImportCronRetainNone)
	create(t, c)
	name := dvName("gone", d)
	importOK(t, ns, name)
	waitDataSource(t, ns, "gone", name)
	if err := k8s.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&cdiv1.DataImportCron{}, &cdiv1.DataVolume{}, &cdiv1.DataSource{}} {
		key := map[string]string{"*v1beta1.DataImportCron": c.Name, "*v1beta1.DataVolume": name, "*v1beta1.DataSource": "gone"}[fmt.Sprintf("%T", obj)]
		eventually(t, fmt.Sprintf("%T %s deleted", obj, key), func() (bool, string) {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: key}, obj)
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	}
}

// TestDataVolumeImport drives a stand-alone http DataVolume through a running pod, a retryable failure that
// restarts the importer, and success.
func TestDataVolumeImport(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "dv")
	block := corev1.PersistentVolumeBlock
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "disk", Namespace: ns},
		Spec: cdiv1.DataVolumeSpec{
			Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://example.invalid/disk.qcow2", CertConfigMap: "ca"}},
			Storage: &cdiv1.StorageSpec{VolumeMode: &block, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}}
	create(t, dv)
	pod := waitPod(t, ns, "disk")
	ctr := pod.Spec.Containers[0]
	if len(ctr.VolumeDevices) != 1 || ctr.VolumeDevices[0].DevicePath != contract.BlockTarget {
		t.Errorf("block PVC not attached as a device: %+v", ctr.VolumeDevices)
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	if env[contract.EnvSource] != "http" || env[contract.EnvDestination] != contract.BlockTarget || env[contract.EnvCertDir] != contract.CertDir {
		t.Errorf("importer env %v", env)
	}
	waitPhase(t, ns, "disk", cdiv1.ImportScheduled)
	pod.Status.Phase = corev1.PodPending
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: cdiconst.ImporterContainer, Image: importerImage,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied"}}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "image pull failure reported", func() (bool, string) {
		got := &cdiv1.DataVolume{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "disk"}, got); err != nil {
			return false, err.Error()
		}
		c := dvCondition(got, cdiv1.DataVolumeRunning)
		return c.Reason == "ErrImagePull" && strings.Contains(c.Message, "pull access denied"), fmt.Sprintf("%+v", c)
	})
	runPod(t, pod)
	running := waitPhase(t, ns, "disk", cdiv1.ImportInProgress)
	if c := dvCondition(running, cdiv1.DataVolumeRunning); c.Status != corev1.ConditionTrue {
		t.Errorf("Running condition %+v while the pod runs", c)
	}
	finishPod(t, pod, contract.ExitRetryable, contract.Termination{Result: contract.ResultFailure, Retryable: true, Message: "connection reset by peer"})
	eventually(t, "importer restarted", func() (bool, string) {
		got := &cdiv1.DataVolume{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "disk"}, got); err != nil {
			return false, err.Error()
		}
		return got.Status.RestartCount == 1, fmt.Sprintf("restarts %d phase %s", got.Status.RestartCount, got.Status.Phase)
	})
	waitEvent(t, ns, "DataVolume", "disk", corev1.EventTypeWarning, "connection reset by peer")
	var again *corev1.Pod
	eventually(t, "a new importer pod", func() (bool, string) {
		again = waitPod(t, ns, "disk")
		return again.UID != pod.UID, "old pod still there"
	})
	finishPod(t, again, 0, contract.Termination{Result: contract.ResultSuccess})
	done := waitPhase(t, ns, "disk", cdiv1.Succeeded)
	if done.Status.Progress != "100.0%" || dvCondition(done, cdiv1.DataVolumeReady).Status != corev1.ConditionTrue {
		t.Errorf("succeeded DataVolume status %+v", done.Status)
	}
	if _, ok := done.Annotations[cdiconst.AnnImportTime]; !ok {
		t.Errorf("no %s annotation on the succeeded DataVolume", cdiconst.AnnImportTime)
	}
}

// TestDataVolumeUnsupported checks that each CDI source goldimage does not import fails at once with a
// condition and a Warning event that name the source and say it is not supported, and no importer pod.
func TestDataVolumeUnsupported(t *testing.T) {
	ns := namespace(t, "unsupported")
	for name, src := range map[string]*cdiv1.DataVolumeSource{
		"upload":  {Upload: &cdiv1.DataVolumeSourceUpload{}},
		"imageio": {Imageio: &cdiv1.DataVolumeSourceImageIO{URL: "https://engine.example/ovirt-engine/api", DiskID: "d"}},
		"vddk":    {VDDK: &cdiv1.DataVolumeSourceVDDK{URL: "https://vcenter.example", UUID: "u", BackingFile: "[ds] vm.vmdk"}},
		"gcs":     {GCS: &cdiv1.DataVolumeSourceGCS{URL: "gs://bucket/disk.img"}},
	} {
		t.Run(name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: cdiv1.DataVolumeSpec{Source: src, Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
			create(t, dv)
			got := waitPhase(t, ns, name, cdiv1.Failed)
			want := "spec.source." + name + " is not supported"
			if c := dvCondition(got, cdiv1.DataVolumeReady); c.Reason != cdiconst.ReasonUnsupported || !strings.Contains(c.Message, want) {
				t.Errorf("Ready condition %+v, want reason %s and %q", c, cdiconst.ReasonUnsupported, want)
			}
			waitEvent(t, ns, "DataVolume", name, corev1.EventTypeWarning, want)
			err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + name}, &corev1.Pod{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("importer pod for an unsupported source: %v", err)
			}
		})
	}
}

// TestDataSourceReady follows a DataSource from a missing PVC to a present one.
func TestDataSourceReady(t *testing.T) {
	ns := namespace(t, "datasource")
	ds := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: ns},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: ns, Name: "disk"}}}}
	create(t, ds)
	waitReady := func(status corev1.ConditionStatus, reason string) {
		t.Helper()
		eventually(t, "DataSource Ready "+string(status)+" "+reason, func() (bool, string) {
			got := &cdiv1.DataSource{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ds), got); err != nil {
				return false, err.Error()
			}
			for _, c := range got.Status.Conditions {
				if c.Type == cdiv1.DataSourceReady && c.Status == status && c.Reason == reason {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%+v", got.Status.Conditions)
		})
	}
	waitReady(corev1.ConditionFalse, cdiconst.ReasonNotFound)
	create(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "disk", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
	waitReady(corev1.ConditionTrue, cdiconst.ReasonDataSourceReady)
}

func dvCondition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType) cdiv1.DataVolumeCondition {
	for _, c := range dv.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return cdiv1.DataVolumeCondition{}
}

// TestDataVolumeScratchBySource: the importer pods the controller creates on the API server get a
// scratch emptyDir only for sources whose stream may need a spill (VHDX here); a qcow2 over http
// and a containerDisk, which the importer streams in one pass, get none.
func TestDataVolumeScratchBySource(t *testing.T) {
	ns := namespace(t, "scratch")
	url := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		source  cdiv1.DataVolumeSource
		scratch string // the emptyDir's sizeLimit, "" for no scratch
	}{
		{"registry", cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: url("docker://registry.invalid/disk:v1")}}, ""},
		{"qcow2-gz", cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://example.invalid/disk.qcow2.gz"}}, ""},
		{"vhdx", cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://example.invalid/disk.vhdx"}}, "1216Mi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: ns},
				Spec: cdiv1.DataVolumeSpec{Source: &tc.source, Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
			create(t, dv)
			pod := waitPod(t, ns, tc.name)
			var limit string
			for _, v := range pod.Spec.Volumes {
				if v.EmptyDir != nil {
					limit = "unlimited"
					if v.EmptyDir.SizeLimit != nil {
						limit = v.EmptyDir.SizeLimit.String()
					}
				}
			}
			env := ""
			for _, e := range pod.Spec.Containers[0].Env {
				if e.Name == contract.EnvScratchDir {
					env = e.Value
				}
			}
			if limit != tc.scratch || (env != "") != (tc.scratch != "") {
				t.Errorf("scratch emptyDir %q, %s %q; want %q", limit, contract.EnvScratchDir, env, tc.scratch)
			}
		})
	}
}
