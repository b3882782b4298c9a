// Package vm drives KubeVirt installer VMs for Tekton tasks through the dynamic client, so that
// goldimage does not depend on KubeVirt's Go module: create objects from manifests (VirtualMachine,
// DataVolume), wait for a VirtualMachine to stop or a DataVolume to succeed, and delete a
// VirtualMachine while keeping the disks it produced.
package vm
