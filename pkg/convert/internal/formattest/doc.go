// Package formattest holds the test harness pkg/convert and its disk format readers (qcow2stream,
// vhd, vhdx, vmdk) share: patterned and mixed disks converted by qemu-img as the oracle, checks of
// ReadAt and Extent against qemu-img's raw output, and the bodies of their fuzz tests.
package formattest
