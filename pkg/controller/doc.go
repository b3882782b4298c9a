// Package controller groups goldimage's controller-runtime reconcilers for CDI's kinds: dataimportcron
// (polling and garbage collection, deciding with pkg/cron), datavolume (PVC plus importer pod) and datasource
// (Ready condition). Each subpackage has a Reconciler with SetupWithManager.
package controller
