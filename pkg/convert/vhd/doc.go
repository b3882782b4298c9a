// Package vhd reads Microsoft VHD (Virtual PC) disk images, fixed and dynamic, as a
// random-access image.Image. Differencing disks, which need their parent, are refused.
package vhd
