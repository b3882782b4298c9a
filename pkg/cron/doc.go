// Package cron is the decision core of a DataImportCron, shared by the cluster controller and local mode:
// when a poll is due, which import to create for a polled digest, which old imports to delete, where the
// DataSource points and what the cron's conditions say. Decide is a pure function of the observed state; the
// Poller shares identical digest polls (same image, same credentials) made within one tick, and identical
// conditional polls of http(s) sources. An http source's version is named after its validator (HTTPVersion):
// JudgeHTTP, also pure, decides from the server's answers whether it changed or cannot tell (ErrNoValidator,
// ErrUnstableValidator); FindSHA256 reads the sum of a file from a SHA256SUMS file.
package cron
