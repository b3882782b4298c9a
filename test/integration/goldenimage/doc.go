// Package goldenimage tests the QEMU path of golden images end to end, as the iso-to-containerdisk
// pipeline runs it: the stand-in installer ISO installs onto a raw disk under TCG, the disk is pushed
// as a containerDisk to a loopback registry, and a DataImportCron in local mode imports the new
// digest and points its DataSource at a byte-for-byte copy of the installed disk.
package goldenimage
