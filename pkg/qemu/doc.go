// Package qemu runs an operating system installer in a QEMU virtual machine inside the task pod
// (no KubeVirt needed): install ISO, answer-file and driver CDs, an optional software TPM 2.0
// (swtpm), BIOS or UEFI (OVMF) firmware, and the target disk. Install waits on QMP for the guest to
// power itself off, which is how unattended installs end, and treats resets and timeouts as failures.
// TCG emulation is the default; KVM is used only when it actually works or when forced.
package qemu
