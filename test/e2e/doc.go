// Package e2e holds the end-to-end tests that run goldimage on a real single-node cluster
// (hack/cluster/up.sh): a containerDisk pushed to an in-process registry is imported by a DataImportCron,
// updated, garbage-collected and broken. The tests carry the build tag e2e; `make e2e` (hack/e2e.sh) runs them.
package e2e
