// Package blockmap reads virtual disks whose formats map fixed-size blocks of the disk onto
// ranges of one file (VHD, VHDX, VMDK): it turns a format's locate function into ReadAt, which
// zero-fills holes and reads physically contiguous blocks with one call, and Extent.
package blockmap
