// Command imagebuild packs static binaries (and optionally root filesystem tarballs below them, e.g. one made by
// mmdebstrap) into a container image tarball without Docker, for loading into the e2e cluster's containerd with
// `ctr images import`.
//
// Usage:
//
//	imagebuild --tag goldimage.local/importer:e2e --out importer.tar --user 107 \
//	    --entrypoint /importer bin/importer:/importer
//
// Each positional argument is SOURCE:DEST, a host file copied into the image at DEST with mode 0755.
// --layer TAR adds a root filesystem tarball below them, --link TARGET:DEST a symbolic link, --env NAME=VALUE an
// environment variable; --entrypoint= (empty) records no entrypoint.
package main
