// Package registry talks to OCI/Docker registries for goldimage: it resolves the digest that pins an
// import (HEAD first, GET fallback), streams the single disk file out of a containerDisk image
// (registry, oci-archive: tarball or oci: layout directory) and pushes disk images as containerDisks.
//
// A Client is long-lived: it keeps one authenticated puller and pusher per (registry, credentials) so
// bearer-token exchanges are shared, collapses identical concurrent Digest calls into one request,
// retries 429 and 5xx answers with backoff honouring Retry-After, rate-limits requests per host and
// keeps credentials out of every error it returns.
package registry
