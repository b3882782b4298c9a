// Package testenv starts a real kube-apiserver and etcd (built by `make control-plane` into .cache/bin)
// through controller-runtime's envtest, with goldimage's CRDs installed, for integration tests.
package testenv
