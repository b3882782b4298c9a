// Package integration holds tests that run against a real kube-apiserver and etcd (internal/testenv);
// `make test-integration` builds them first.
package integration
