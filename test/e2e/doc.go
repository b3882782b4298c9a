// Package e2e holds the end-to-end tests that run goldimage on a real single-node cluster
// (hack/cluster/up.sh): a containerDisk pushed to an in-process registry is imported by a DataImportCron,
// updated, garbage-collected and broken; an http(s) DataImportCron polls a file served by a pod
// (test/e2e/httpserver) that is replaced between polls; pullMethod node imports run the containerDisk image that
// the test loaded into the node's image store. The tests carry the build tag e2e; `make e2e` (hack/e2e.sh) runs them.
package e2e
