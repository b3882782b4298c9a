package datavolume

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
)

// setCondition sets a DataVolume condition, moving LastTransitionTime only when the status changes.
func setCondition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType, status corev1.ConditionStatus, reason, msg string) {
	for i := range dv.Status.Conditions {
		c := &dv.Status.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	dv.Status.Conditions = append(dv.Status.Conditions, cdiv1.DataVolumeCondition{Type: typ,
		Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()})
}

// condition returns the condition of type typ, or nil.
func condition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType) *cdiv1.DataVolumeCondition {
	for i := range dv.Status.Conditions {
		if dv.Status.Conditions[i].Type == typ {
			return &dv.Status.Conditions[i]
		}
	}
	return nil
}

// setBound mirrors the PVC's phase into the Bound condition.
func setBound(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim) {
	dv.Status.ClaimName = claim.Name
	switch claim.Status.Phase {
	case corev1.ClaimBound:
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionTrue, cdiconst.ReasonBound, "PVC "+claim.Name+" Bound")
	case corev1.ClaimLost:
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, cdiconst.ReasonClaimLost, "PVC "+claim.Name+" lost its volume")
	default:
		setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, cdiconst.ReasonPending, "PVC "+claim.Name+" Pending")
	}
}

// fail puts dv into the terminal Failed phase with reason and a message naming the cause.
func fail(dv *cdiv1.DataVolume, reason, msg string) {
	dv.Status.Phase = cdiv1.Failed
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, reason, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, reason, msg)
}

// succeed puts dv into the Succeeded phase.
func succeed(dv *cdiv1.DataVolume, term contract.Termination) {
	dv.Status.Phase = cdiv1.Succeeded
	dv.Status.Progress = cdiv1.DataVolumeProgress("100.0%")
	msg := "Import Complete"
	if term.Format != "" {
		msg = fmt.Sprintf("Import Complete (%s, %d bytes)", term.Format, term.VirtualSize)
	}
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, cdiconst.ReasonCompleted, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionTrue, cdiconst.ReasonCompleted, msg)
}

// podResult reads the importer's outcome from a finished pod: its termination message when it wrote a valid
// one, otherwise a failure naming the exit code and reason the kubelet reported.
func podResult(pod *corev1.Pod) contract.Termination {
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name != cdiconst.ImporterContainer || s.State.Terminated == nil {
			continue
		}
		st := s.State.Terminated
		if st.Message != "" {
			t, err := contract.ParseTermination(st.Message)
			if err == nil {
				if t.Result == contract.ResultSuccess && st.ExitCode != contract.ExitOK {
					return contract.Termination{Result: contract.ResultFailure, Retryable: true,
						Message: fmt.Sprintf("importer reported success but exited with code %d", st.ExitCode)}
				}
				return t
			}
		}
		if st.ExitCode == contract.ExitOK {
			return contract.Termination{Result: contract.ResultFailure, Retryable: true,
				Message: "importer exited 0 without a valid termination message"}
		}
		return contract.Termination{Result: contract.ResultFailure, Retryable: st.ExitCode == contract.ExitRetryable,
			Message: fmt.Sprintf("importer exited with code %d (%s) without a termination message", st.ExitCode, st.Reason)}
	}
	msg := "importer pod " + string(pod.Status.Phase)
	if pod.Status.Message != "" {
		msg += ": " + pod.Status.Message
	}
	return contract.Termination{Result: contract.ResultFailure, Retryable: true, Message: msg}
}

// waitForConsumer marks dv as waiting for the first consumer of its PVC, as CDI does for a WaitForFirstConsumer
// class unless the DataVolume asks for immediate binding.
func waitForConsumer(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim) {
	dv.Status.Phase = cdiv1.WaitForFirstConsumer
	msg := "PVC " + claim.Name + " binds when a pod first uses it (StorageClass " + ptr.Deref(claim.Spec.StorageClassName, "") +
		" is WaitForFirstConsumer); the data is written then, or now with annotation " + cdiconst.AnnImmediateBinding + `: "true"`
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, cdiconst.ReasonWaitForConsumer, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonWaitForConsumer, msg)
}

// bindsImmediately reports whether dv asks for its PVC to be bound without waiting for a consumer.
func bindsImmediately(dv *cdiv1.DataVolume) bool {
	return dv.Annotations[cdiconst.AnnImmediateBinding] == "true"
}
