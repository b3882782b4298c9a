// Package registrytest runs an in-process OCI registry for tests: go-containerregistry's registry
// behind basic or bearer authentication (token realm on the same host:port), with request counting
// and injectable 429/5xx answers, plus a helper that pushes a containerDisk made from disk bytes.
package registrytest
