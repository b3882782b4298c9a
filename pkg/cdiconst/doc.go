// Package cdiconst names the annotations, labels, finalizers, condition reasons and metric names that the
// cron-controller reads and writes: CDI's own where CDI defines one (so existing tooling keeps working), and
// goldimage's where it needs its own bookkeeping.
package cdiconst
