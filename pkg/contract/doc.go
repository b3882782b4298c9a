// Package contract holds what the cron-controller and the importer pod agree on: the IMPORTER_*
// environment, the JSON termination message, exit codes and the progress metric. Neither side
// imports the other; both import this package.
package contract
