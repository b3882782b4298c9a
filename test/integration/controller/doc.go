// Package controller tests the cron-controller's reconcilers against a real kube-apiserver and etcd
// (internal/testenv) and a real in-process registry (pkg/registry/registrytest). There is no kubelet: the
// tests play its part by writing importer pod statuses through the API, termination message included.
package controller
