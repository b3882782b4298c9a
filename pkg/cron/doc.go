// Package cron is the decision core of a DataImportCron, shared by the cluster controller and local mode:
// when a poll is due, which import to create for a polled digest, which old imports to delete, where the
// DataSource points and what the cron's conditions say. Decide is a pure function of the observed state; the
// Poller shares identical digest polls (same image, same credentials) made within one tick.
package cron
