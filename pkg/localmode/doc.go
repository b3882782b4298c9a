// Package localmode runs DataImportCrons without a cluster: it reads DataImportCron manifests from a
// directory, polls their images (or http(s) files, conditionally), imports each new digest or http version into a store directory (one raw file per import,
// named like the DataVolume a cluster would get), keeps a `current` symlink per DataSource and
// garbage-collects old imports, deciding everything with pkg/cron exactly as the cluster controller does.
// Secrets and ConfigMaps in the same directory serve as the crons' secretRef and certConfigMap,
// for the poll and for the import.
package localmode
