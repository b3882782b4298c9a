package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/controller/datavolume"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestCronLifecycle follows a cron through first import, two updates with garbage collection, a failed
// import that leaves the DataSource alone, and a forced poll that replaces the failed import.
func TestCronLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "lifecycle")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Basic))
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "registry-auth", Namespace: ns},
		Data: map[string][]byte{"accessKeyId": []byte(reg.Username), "secretKey": []byte(reg.Password)}})
	const source, repo = "fedora", "os/fedora:latest"
	d1 := pushDisk(t, reg, repo)
	c := newCron(ns, source, "docker://"+reg.Ref(repo), 2)
	c.Spec.Template.Spec.Source.Registry.SecretRef = ptr.To("registry-auth")
	create(t, c)

	dv1 := dvName(source, d1)
	dv := waitDataVolume(t, ns, dv1)
	if got, want := ptr.Deref(dv.Spec.Source.Registry.URL, ""), "docker://"+reg.Host+"/os/fedora@"+d1; got != want {
		t.Errorf("DataVolume URL = %q, want %q", got, want)
	}
	if dv.Labels[cdiconst.LabelDataImportCron] != c.Name {
		t.Errorf("DataVolume labels %v lack the cron label", dv.Labels)
	}
	checkImporterPod(t, waitPod(t, ns, dv1), dv)
	importOK(t, ns, dv1)
	waitDataSource(t, ns, source, dv1)
	got := waitCron(t, ns, c.Name, "cron up to date on "+dv1, func(c *cdiv1.DataImportCron) bool {
		up := cronCondition(c, cdiv1.DataImportCronUpToDate)
		return up.Status == corev1.ConditionTrue && c.Status.LastImportedPVC != nil && c.Status.LastImportedPVC.Name == dv1
	})
	if len(got.Status.CurrentImports) != 1 || got.Status.CurrentImports[0].Digest != d1 || got.Status.LastImportTimestamp == nil {
		t.Errorf("cron status = %+v, want currentImports [%s %s] and lastImportTimestamp", got.Status, dv1, d1)
	}
	if cronCondition(got, cdiv1.DataImportCronUpToDate).Reason != cdiconst.ReasonUpToDate {
		t.Errorf("UpToDate reason = %q", cronCondition(got, cdiv1.DataImportCronUpToDate).Reason)
	}

	waitOutdatedMetric(t, ns, c.Name, 0)

	d2 := pushDisk(t, reg, repo)
	forcePoll(t, ns, c.Name)
	dv2 := dvName(source, d2)
	waitDataVolume(t, ns, dv2)
	waitCron(t, ns, c.Name, "cron outdated while "+dv2+" imports", func(c *cdiv1.DataImportCron) bool {
		return cronCondition(c, cdiv1.DataImportCronUpToDate).Reason == cdiconst.ReasonOutdated
	})
	waitOutdatedMetric(t, ns, c.Name, 1)
	waitDataSource(t, ns, source, dv1) // still on the old import
	importOK(t, ns, dv2)
	waitDataSource(t, ns, source, dv2)

	d3 := pushDisk(t, reg, repo)
	forcePoll(t, ns, c.Name)
	dv3 := dvName(source, d3)
	importOK(t, ns, dv3)
	waitDataSource(t, ns, source, dv3)
	eventually(t, "garbage collection of "+dv1, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: dv1}, &cdiv1.DataVolume{})
		return apierrors.IsNotFound(err), "DataVolume still there"
	})
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: dv2}, &cdiv1.DataVolume{}); err != nil {
		t.Errorf("DataVolume %s should be kept (importsToKeep 2): %v", dv2, err)
	}

	d4 := pushDisk(t, reg, repo)
	forcePoll(t, ns, c.Name)
	dv4 := dvName(source, d4)
	waitDataVolume(t, ns, dv4)
	cause := "no disk image under /disk/ in the containerDisk"
	finishPod(t, waitPod(t, ns, dv4), contract.ExitFatal, contract.Termination{Result: contract.ResultFailure, Message: cause})
	waitPhase(t, ns, dv4, cdiv1.Failed)
	waitCron(t, ns, c.Name, "cron reporting the failed import", func(c *cdiv1.DataImportCron) bool {
		p := cronCondition(c, cdiv1.DataImportCronProgressing)
		return p.Reason == cdiconst.ReasonImportFailed && strings.Contains(p.Message, cause)
	})
	waitEvent(t, ns, "DataImportCron", c.Name, corev1.EventTypeWarning, cause)
	waitEvent(t, ns, "DataVolume", dv4, corev1.EventTypeWarning, cause)
	waitDataSource(t, ns, source, dv3)

	failed := &cdiv1.DataVolume{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: dv4}, failed); err != nil {
		t.Fatal(err)
	}
	forcePoll(t, ns, c.Name)
	eventually(t, "forced poll replacing failed "+dv4, func() (bool, string) {
		again := &cdiv1.DataVolume{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: dv4}, again)
		return err == nil && again.UID != failed.UID && again.Status.Phase != cdiv1.Failed, "not replaced yet"
	})
	importOK(t, ns, dv4)
	waitDataSource(t, ns, source, dv4)
}

// checkImporterPod checks the restricted security context and the contract environment.
func checkImporterPod(t *testing.T, pod *corev1.Pod, dv *cdiv1.DataVolume) {
	t.Helper()
	psc := pod.Spec.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) != 107 || ptr.Deref(psc.RunAsGroup, 0) != 107 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v, want non-root 107/107 with RuntimeDefault seccomp", psc)
	}
	ctr := pod.Spec.Containers[0]
	sc := ctr.SecurityContext
	if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context = %+v, want read-only root, no escalation, drop ALL", sc)
	}
	if ctr.Image != importerImage || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("image %q restart %q", ctr.Image, pod.Spec.RestartPolicy)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range ctr.Env {
		env[e.Name] = e
	}
	for name, want := range map[string]string{
		contract.EnvEndpoint: *dv.Spec.Source.Registry.URL, contract.EnvSource: "registry",
		contract.EnvDestination: contract.FilesystemTarget, contract.EnvImageSize: "64Mi", contract.EnvContentType: "kubevirt",
		contract.EnvFilesystemOverhead: contract.DefaultFilesystemOverhead,
	} {
		if got := env[name].Value; got != want {
			t.Errorf("env %s = %q, want %q", name, got, want)
		}
	}
	if want := datavolume.DefaultImporterResources(); !equality.Semantic.DeepEqual(ctr.Resources, want) {
		t.Errorf("importer resources %v, want the defaults %v", ctr.Resources, want)
	}
	// A containerDisk (qcow2 or raw) streams in one pass: no scratch volume, mount or directory.
	for _, v := range pod.Spec.Volumes {
		if v.Name == "scratch" || v.EmptyDir != nil {
			t.Errorf("volume %s %+v: a containerDisk import needs no scratch", v.Name, v.VolumeSource)
		}
	}
	for _, m := range ctr.VolumeMounts {
		if m.MountPath == contract.ScratchDir {
			t.Errorf("mount %+v: a containerDisk import needs no scratch", m)
		}
	}
	if e, ok := env[contract.EnvScratchDir]; ok {
		t.Errorf("env %s = %q: a containerDisk import needs no scratch", e.Name, e.Value)
	}
	if ref := env[contract.EnvAccessKeyID].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "registry-auth" {
		t.Errorf("env %s = %+v, want it from Secret registry-auth", contract.EnvAccessKeyID, env[contract.EnvAccessKeyID])
	}
	if !metav1.IsControlledBy(pod, dv) {
		t.Errorf("importer pod owners %+v, want DataVolume %s", pod.OwnerReferences, dv.Name)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: dv.Namespace, Name: dv.Name}, pvc); err != nil {
		t.Fatalf("PVC of %s: %v", dv.Name, err)
	}
	if !metav1.IsControlledBy(pvc, dv) || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("PVC = %+v owners %+v, want RWO Filesystem owned by the DataVolume", pvc.Spec, pvc.OwnerReferences)
	}
}

// waitOutdatedMetric waits until the controller's kubevirt_cdi_dataimportcron_outdated gauge of the cron is want.
func waitOutdatedMetric(t *testing.T, ns, name string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s{ns=%q,cron_name=%q} = %v", cdiconst.MetricCronOutdated, ns, name, want), func() (bool, string) {
		families, err := ctrlmetrics.Registry.Gather()
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, f := range families {
			if f.GetName() != cdiconst.MetricCronOutdated {
				continue
			}
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["ns"] == ns && labels["cron_name"] == name {
					seen = append(seen, fmt.Sprintf("%v=%v", labels, m.GetGauge().GetValue()))
					if m.GetGauge().GetValue() == want {
						return true, ""
					}
				}
			}
		}
		return false, fmt.Sprintf("samples %v", seen)
	})
}
