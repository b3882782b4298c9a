package dataimportcron

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

// newImportDataVolume builds the DataVolume importing digest for cron c, from its template: a registry URL
// pinned to the digest, or the http(s) URL with the checksum polled with its version.
func newImportDataVolume(c *cdiv1.DataImportCron, im cron.Import) (*cdiv1.DataVolume, error) {
	tmpl := c.Spec.Template.DeepCopy()
	dv := &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: im.Name, Namespace: c.Namespace,
			Labels: tmpl.Labels, Annotations: tmpl.Annotations},
		Spec: tmpl.Spec,
	}
	if dv.Labels == nil {
		dv.Labels = map[string]string{}
	}
	if dv.Annotations == nil {
		dv.Annotations = map[string]string{}
	}
	dv.Labels[cdiconst.LabelDataImportCron] = c.Name
	dv.Annotations[cdiconst.AnnDigest] = im.Digest
	dv.Annotations[cdiconst.AnnImmediateBinding] = "true"
	if cron.IsHTTP(c) {
		if sum := c.Annotations[cdiconst.AnnSourceChecksum]; sum != "" && im.Digest == c.Annotations[cdiconst.AnnSourceDesiredDigest] {
			dv.Annotations[cdiconst.AnnChecksum] = sum
		}
		return dv, nil
	}
	url, err := cron.PinDigest(cron.SourceURL(c), im.Digest)
	if err != nil {
		return nil, err
	}
	dv.Spec.Source.Registry.URL = &url
	return dv, nil
}

// importOf describes a DataVolume for the decision core.
func importOf(dv *cdiv1.DataVolume) cron.Import {
	im := cron.Import{Name: dv.Name, Digest: dv.Annotations[cdiconst.AnnDigest], Phase: cron.PhasePending}
	switch dv.Status.Phase {
	case cdiv1.Succeeded:
		im.Phase = cron.PhaseSucceeded
		if t, err := time.Parse(time.RFC3339Nano, dv.Annotations[cdiconst.AnnImportTime]); err == nil {
			im.ImportTime = t
		}
	case cdiv1.Failed:
		im.Phase = cron.PhaseFailed
		im.Message = "import failed"
		for _, c := range dv.Status.Conditions {
			if c.Type == cdiv1.DataVolumeRunning && c.Message != "" {
				im.Message = c.Message
			}
		}
	case cdiv1.ImportInProgress:
		im.Phase = cron.PhaseRunning
	}
	return im
}

// credentials reads the cron's source secret (CDI's accessKeyId/secretKey) and CA ConfigMap.
func credentials(ctx context.Context, c client.Reader, cr *cdiv1.DataImportCron) (cron.Credentials, error) {
	var sec *corev1.Secret
	var cm *corev1.ConfigMap
	kind, secretName, cmName := cron.SourceRefs(cr)
	if secretName != "" {
		sec = &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: secretName}, sec); err != nil {
			return cron.Credentials{}, fmt.Errorf("%s secret %s: %w", kind, secretName, err)
		}
	}
	if cmName != "" {
		cm = &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: cmName}, cm); err != nil {
			return cron.Credentials{}, fmt.Errorf("%s CA ConfigMap %s: %w", kind, cmName, err)
		}
	}
	creds := cron.CredentialsFrom(sec, cm)
	if cron.IsHTTP(cr) {
		creds.Headers = strings.Join(cr.Spec.Template.Spec.Source.HTTP.ExtraHeaders, "\n")
	}
	return creds, nil
}

// dataSourceTarget returns the import ds points at, a PVC or a VolumeSnapshot in the cron's namespace, else "".
func dataSourceTarget(ds *cdiv1.DataSource, ns string) string {
	if pvc := ds.Spec.Source.PVC; pvc != nil && (pvc.Namespace == "" || pvc.Namespace == ns) {
		return pvc.Name
	}
	if vs := ds.Spec.Source.Snapshot; vs != nil && (vs.Namespace == "" || vs.Namespace == ns) {
		return vs.Name
	}
	return ""
}
