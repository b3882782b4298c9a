// Package binary runs the built cron-controller command in cluster mode against a real kube-apiserver and a
// real registry, checking the wiring of cmd/cron-controller (flags, scheme, label-filtered pod cache) end to end.
package binary
