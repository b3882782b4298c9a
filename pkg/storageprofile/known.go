package storageprofile

import (
	corev1 "k8s.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Advice is what is known about a provisioner without asking the admin.
type Advice struct {
	ClaimPropertySets []cdiv1.ClaimPropertySet          // preferred first; empty when unknown
	CloneStrategy     *cdiv1.CDICloneStrategy           // nil: the controllers' own choice
	SourceFormat      *cdiv1.DataImportCronSourceFormat // nil: pvc
}

const (
	rwo   = corev1.ReadWriteOnce
	rwx   = corev1.ReadWriteMany
	block = corev1.PersistentVolumeBlock
	fs    = corev1.PersistentVolumeFilesystem
)

// mode is one claim property set: an access mode with a volume mode.
type mode struct {
	access corev1.PersistentVolumeAccessMode
	volume corev1.PersistentVolumeMode
}

var (
	rwoFS         = []mode{{rwo, fs}}
	rwxFS         = []mode{{rwx, fs}}
	rwoBlock      = []mode{{rwo, block}}
	rwoBlockOrFS  = []mode{{rwo, block}, {rwo, fs}}
	rwoFSOrBlock  = []mode{{rwo, fs}, {rwo, block}}
	sharedBlock   = []mode{{rwx, block}, {rwo, block}, {rwo, fs}}
	sharedAnyMode = []mode{{rwx, block}, {rwx, fs}, {rwo, block}, {rwo, fs}}
)

// knownModes are the claim property sets of common provisioners, as CDI's storage capabilities list them:
// block first where the storage is a block device, ReadWriteMany first where it allows live migration.
var knownModes = map[string][]mode{
	"hostpath.csi.k8s.io":                         rwoFSOrBlock, // Kubernetes' CSI hostpath driver
	"kubevirt.io.hostpath-provisioner":            rwoFS,
	"kubevirt.io/hostpath-provisioner":            rwoFS,
	"k8s.io/minikube-hostpath":                    rwoFS,
	"rancher.io/local-path":                       rwoFS,
	"nfs.csi.k8s.io":                              rwxFS,
	"k8s-sigs.io/nfs-subdir-external-provisioner": rwxFS,
	"rbd.csi.ceph.com":                            sharedBlock,
	"rook-ceph.rbd.csi.ceph.com":                  sharedBlock,
	"openshift-storage.rbd.csi.ceph.com":          sharedBlock,
	"cephfs.csi.ceph.com":                         rwxFS,
	"rook-ceph.cephfs.csi.ceph.com":               rwxFS,
	"ebs.csi.aws.com":                             rwoBlock,
	"efs.csi.aws.com":                             {{rwx, fs}, {rwo, fs}},
	"disk.csi.azure.com":                          rwoBlock,
	"file.csi.azure.com":                          rwxFS,
	"pd.csi.storage.gke.io":                       rwoBlock,
	"topolvm.io":                                  rwoBlockOrFS,
	"topolvm.cybozu.com":                          rwoBlockOrFS,
	"cinder.csi.openstack.org":                    rwoBlockOrFS,
	"csi.vsphere.vmware.com":                      rwoBlockOrFS,
	"driver.longhorn.io":                          rwoBlock,
	"pxd.portworx.com":                            sharedAnyMode,
	"linstor.csi.linbit.com":                      sharedBlock,
}

// knownSourceFormats: storage that clones a golden image faster from one VolumeSnapshot than from a PVC.
var knownSourceFormats = map[string]cdiv1.DataImportCronSourceFormat{
	"rook-ceph.rbd.csi.ceph.com":         cdiv1.DataImportCronSourceFormatSnapshot,
	"openshift-storage.rbd.csi.ceph.com": cdiv1.DataImportCronSourceFormatSnapshot,
	"pd.csi.storage.gke.io":              cdiv1.DataImportCronSourceFormatSnapshot,
}

// knownCloneStrategies: where a CSI clone is known to be the right way, or known to be wrong.
var knownCloneStrategies = map[string]cdiv1.CDICloneStrategy{
	"rbd.csi.ceph.com":                   cdiv1.CloneStrategyCsiClone,
	"rook-ceph.rbd.csi.ceph.com":         cdiv1.CloneStrategyCsiClone,
	"openshift-storage.rbd.csi.ceph.com": cdiv1.CloneStrategyCsiClone,
	"cephfs.csi.ceph.com":                cdiv1.CloneStrategyCsiClone,
	"pxd.portworx.com":                   cdiv1.CloneStrategyCsiClone,
	"pd.csi.storage.gke.io":              cdiv1.CloneStrategySnapshot,
	"topolvm.io":                         cdiv1.CloneStrategyHostAssisted,
	"topolvm.cybozu.com":                 cdiv1.CloneStrategyHostAssisted,
}

// Known returns the advice for provisioner; the zero Advice when nothing is known about it.
func Known(provisioner string) Advice {
	var a Advice
	for _, m := range knownModes[provisioner] {
		a.ClaimPropertySets = append(a.ClaimPropertySets, set(m))
	}
	if f, ok := knownSourceFormats[provisioner]; ok {
		a.SourceFormat = &f
	}
	if s, ok := knownCloneStrategies[provisioner]; ok {
		a.CloneStrategy = &s
	}
	return a
}

func set(m mode) cdiv1.ClaimPropertySet {
	v := m.volume
	return cdiv1.ClaimPropertySet{AccessModes: []corev1.PersistentVolumeAccessMode{m.access}, VolumeMode: &v}
}
