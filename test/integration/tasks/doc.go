// Package tasks tests the Kubernetes side of goldimage's Tekton task commands (pkg/tasks/vm,
// pkg/tasks/datasource) against a real kube-apiserver and etcd, with a stand-in VirtualMachine CRD.
package tasks
