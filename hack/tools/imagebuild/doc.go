// Command imagebuild packs static binaries into a single-layer container image tarball without Docker,
// for loading into the e2e cluster's containerd with `ctr images import`.
//
// Usage:
//
//	imagebuild --tag goldimage.local/importer:e2e --out importer.tar --user 107 \
//	    --entrypoint /importer bin/importer:/importer
//
// Each positional argument is SOURCE:DEST, a host file copied into the image at DEST with mode 0755.
package main
