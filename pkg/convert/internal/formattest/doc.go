// Package formattest holds the test harness the disk format readers of pkg/convert (vhd, vhdx,
// vmdk) share: patterned disks converted by qemu-img as the oracle, checks of ReadAt and Extent
// against qemu-img's raw output, and the bodies of their fuzz tests.
package formattest
