// Package vhdx reads Microsoft VHDX disk images (dynamic and fixed, version 1) as a
// random-access image.Image. Differencing disks, partially present blocks and images whose
// log still needs replaying are refused with a clear error.
package vhdx
