// Package driver implements csi-hostpath, a small single-node CSI driver for
// goldimage's e2e cluster: volumes and snapshots are directories and sparse
// files under one data directory, published with bind mounts and loop
// devices. See the command's documentation for why it exists.
package driver
