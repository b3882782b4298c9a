// Package vmdk reads VMware VMDK disk images (hosted sparse extents:
// monolithicSparse and streamOptimized) as a random-access image.Image, and
// streams streamOptimized images strictly sequentially with NewStreamReader.
//
// Descriptor-only files (monolithicFlat, split, multi-extent) and delta disks
// with a parent are refused with a clear error; the importer should upload a
// flat extent as a raw image instead.
package vmdk
