package vm

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// failedStatuses are VirtualMachine printable statuses an installer VM does not recover from by itself.
var failedStatuses = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "ErrorUnschedulable": true, "ErrorPvcNotFound": true,
	"ErrorDataVolumeNotFound": true, "DataVolumeError": true, "CrashLoopBackOff": true,
}

// vmStopped decides whether an installer VM has finished: it must have been seen running (or have
// been created at least once) and now be Stopped. ran carries what earlier polls saw.
func vmStopped(vm *unstructured.Unstructured, ran *bool) (bool, error) {
	status, _, _ := unstructured.NestedString(vm.Object, "status", "printableStatus")
	created, _, _ := unstructured.NestedBool(vm.Object, "status", "created")
	if failedStatuses[status] {
		return false, fmt.Errorf("cannot start: status %s", status)
	}
	if status == "Running" || status == "Starting" || status == "Stopping" || created {
		*ran = true
	}
	return status == "Stopped" && *ran, nil
}

// dataVolumeDone decides whether a DataVolume's import finished.
func dataVolumeDone(dv *unstructured.Unstructured) (bool, error) {
	phase, _, _ := unstructured.NestedString(dv.Object, "status", "phase")
	switch phase {
	case "Succeeded":
		return true, nil
	case "Failed":
		return false, fmt.Errorf("phase Failed")
	}
	return false, nil
}
