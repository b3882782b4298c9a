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
// environment variable; --entrypoint= (empty) records no entrypoint. --cap /DEST=cap_net_bind_service gives the file
// at DEST that file capability (+ep, the security.capability xattr setcap writes, as a PAX record). Base layers
// are copied unchanged, so xattrs already in a --layer tar (e.g. made with GNU tar --xattrs) are kept too.
package main
