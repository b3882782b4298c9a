package storageprofile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	profile "github.com/goldimage/goldimage/pkg/storageprofile"
)

// snapshotClassList is the external-snapshotter's VolumeSnapshotClass list, read unstructured so that its
// module stays out of goldimage's and a cluster without the snapshot CRDs works.
var snapshotClassList = schema.GroupVersionKind{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshotClassList"}

// Reconciler keeps the StorageProfile of each StorageClass.
type Reconciler struct {
	client client.Client
}

// New returns a Reconciler using c.
func New(c client.Client) *Reconciler { return &Reconciler{client: c} }

// SetupWithManager watches StorageClasses, their StorageProfiles, and PVs (which make a no-provisioner class's modes).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("storageprofile").For(&storagev1.StorageClass{}).
		Watches(&cdiv1.StorageProfile{}, handler.EnqueueRequestsFromMapFunc(byName)).
		Watches(&corev1.PersistentVolume{}, handler.EnqueueRequestsFromMapFunc(classOf)).
		Complete(r)
}

// byName maps a StorageProfile to its StorageClass, which has the same name.
func byName(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetName()}}}
}

func classOf(_ context.Context, o client.Object) []reconcile.Request {
	if class := o.(*corev1.PersistentVolume).Spec.StorageClassName; class != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: class}}}
	}
	return nil
}

// Reconcile creates or updates the StorageProfile of StorageClass req.Name, or deletes it with the class.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sc := &storagev1.StorageClass{}
	if err := r.client.Get(ctx, req.NamespacedName, sc); apierrors.IsNotFound(err) {
		return ctrl.Result{}, r.deleteProfile(ctx, req.Name)
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("get StorageClass %s: %w", req.Name, err)
	}
	p, err := r.ensureProfile(ctx, sc)
	if err != nil || p == nil {
		return ctrl.Result{}, err
	}
	advice, err := r.advice(ctx, sc)
	if err != nil {
		return ctrl.Result{}, err
	}
	snap, err := r.snapshotClass(ctx, sc.Provisioner)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := profile.Status(sc, p.Spec, advice, snap)
	if equality.Semantic.DeepEqual(p.Status, st) {
		return ctrl.Result{}, nil
	}
	p.Status = st
	if err := r.client.Status().Update(ctx, p); err != nil {
		return ctrl.Result{}, fmt.Errorf("update status of StorageProfile %s: %w", p.Name, err)
	}
	return ctrl.Result{}, nil
}

// ensureProfile gets or creates the profile of sc; nil when one of that name belongs to something else.
func (r *Reconciler) ensureProfile(ctx context.Context, sc *storagev1.StorageClass) (*cdiv1.StorageProfile, error) {
	p := &cdiv1.StorageProfile{}
	err := r.client.Get(ctx, client.ObjectKey{Name: sc.Name}, p)
	if err == nil {
		return p, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get StorageProfile %s: %w", sc.Name, err)
	}
	p = &cdiv1.StorageProfile{ObjectMeta: metav1.ObjectMeta{Name: sc.Name}}
	if err := controllerutil.SetOwnerReference(sc, p, r.client.Scheme()); err != nil {
		return nil, fmt.Errorf("own StorageProfile %s: %w", sc.Name, err)
	}
	if err := r.client.Create(ctx, p); err != nil {
		return nil, fmt.Errorf("create StorageProfile %s: %w", sc.Name, err)
	}
	return p, nil
}

func (r *Reconciler) deleteProfile(ctx context.Context, name string) error {
	p := &cdiv1.StorageProfile{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := r.client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete StorageProfile %s of a deleted StorageClass: %w", name, err)
	}
	return nil
}

// advice is the known defaults of sc's provisioner; for a no-provisioner class, the modes of its PVs.
func (r *Reconciler) advice(ctx context.Context, sc *storagev1.StorageClass) (profile.Advice, error) {
	if sc.Provisioner != profile.NoProvisioner {
		return profile.Known(sc.Provisioner), nil
	}
	var pvs corev1.PersistentVolumeList
	if err := r.client.List(ctx, &pvs); err != nil {
		return profile.Advice{}, fmt.Errorf("list PVs of StorageClass %s: %w", sc.Name, err)
	}
	return profile.FromVolumes(sc.Name, pvs.Items), nil
}

// snapshotClass names the VolumeSnapshotClass of driver: the one marked default, else the first by name; ""
// when there is none or the cluster has no snapshot CRDs.
func (r *Reconciler) snapshotClass(ctx context.Context, driver string) (string, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(snapshotClassList)
	if err := r.client.List(ctx, list); meta.IsNoMatchError(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("list VolumeSnapshotClasses: %w", err)
	}
	name := ""
	for _, c := range list.Items {
		if d, _, _ := unstructured.NestedString(c.Object, "driver"); d != driver {
			continue
		}
		if c.GetAnnotations()["snapshot.storage.kubernetes.io/is-default-class"] == "true" {
			return c.GetName(), nil
		}
		if name == "" || c.GetName() < name {
			name = c.GetName()
		}
	}
	return name, nil
}
