// Command importer-bench compares cmd/importer with the tools CDI's import path runs, in one run on
// this machine: (a) a containerDisk (qcow2) from a local registry against `skopeo copy` + tar
// extraction + `qemu-img convert -O raw`; (b) .raw.gz and .raw.zst over local HTTP against
// `curl | gunzip` and `curl | zstd -d`. It prints wall time, CPU time, their ratios and peak RSS.
//
//	importer-bench -importer PATH [-dir DIR] [-size 4G] [-data 1G] [-repeat 1]
//
// The registry (go-containerregistry's, blobs on disk, downloads redirected to a static file server
// as quay.io redirects them to its storage) and the HTTP server run inside this process on loopback; every measured side is its own process, so its rusage (peak RSS of the largest
// process in a pipeline) is comparable.
package main
