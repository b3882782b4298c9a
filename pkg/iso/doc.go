// Package iso reads the parts of an ISO 9660 image that installer media depend on: the El Torito
// boot catalog and the file tree (ISO 9660 with Rock Ridge names, and UDF), and patches the EFI boot
// image in place so that a Windows ISO boots without the "Press any key to boot from CD" prompt.
// It never rebuilds the image: every change is an overwrite of bytes already allocated.
package iso
