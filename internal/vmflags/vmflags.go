// Package vmflags gives the commands that run a QEMU VM in the task pod (build-from-iso, boot-verify)
// the same machine flags (--firmware, --memory, --tpm, --timeout, ...) and turns them into qemu options.
package vmflags

import (
	"flag"
	"io"
	"time"

	"github.com/goldimage/goldimage/pkg/qemu"
)

// Defaults are the values that differ between the commands.
type Defaults struct {
	MaxReboots     int
	MaxRebootsHelp string
	Timeout        time.Duration
	TimeoutHelp    string
}

// Flags are the machine flags of one command.
type Flags struct {
	firmware, diskBus, accel, serialLog, workDir, ovmfCode, ovmfVars string
	secureBoot, tpm, console                                         bool
	memory, cpus, maxReboots                                         int
	timeout                                                          time.Duration
}

// Register adds the machine flags to fs.
func Register(fs *flag.FlagSet, d Defaults) *Flags {
	f := &Flags{}
	fs.StringVar(&f.firmware, "firmware", "bios", "bios or uefi")
	fs.BoolVar(&f.secureBoot, "secure-boot", false, "UEFI Secure Boot (use --ovmf-* with Microsoft keys)")
	fs.StringVar(&f.ovmfCode, "ovmf-code", "/usr/share/OVMF/OVMF_CODE_4M.fd", "UEFI firmware code (Secure Boot: OVMF_CODE_4M.ms.fd)")
	fs.StringVar(&f.ovmfVars, "ovmf-vars", "/usr/share/OVMF/OVMF_VARS_4M.fd", "UEFI variables template, copied (Secure Boot: OVMF_VARS_4M.ms.fd)")
	fs.BoolVar(&f.tpm, "tpm", false, "attach a TPM 2.0 (swtpm)")
	fs.IntVar(&f.memory, "memory", 2048, "guest memory in MiB")
	fs.IntVar(&f.cpus, "cpus", 2, "virtual CPUs")
	fs.StringVar(&f.diskBus, "disk-bus", "virtio", "virtio or sata")
	fs.IntVar(&f.maxReboots, "max-reboots", d.MaxReboots, d.MaxRebootsHelp)
	fs.DurationVar(&f.timeout, "timeout", d.Timeout, d.TimeoutHelp)
	fs.StringVar(&f.accel, "accel", "auto", "auto (KVM only if it works), kvm or tcg")
	fs.StringVar(&f.serialLog, "serial-log", "", "also write the guest's serial console to this file")
	fs.BoolVar(&f.console, "console", true, "copy the guest's serial console to stdout")
	fs.StringVar(&f.workDir, "work-dir", "", "directory for sockets, firmware state and any disk overlay (default a temporary one)")
	return f
}

// Options are the qemu options the flags ask for; the console goes to out when --console is on.
func (f *Flags) Options(out io.Writer) []qemu.Option {
	opts := []qemu.Option{
		qemu.WithFirmware(qemu.Firmware(f.firmware)), qemu.WithSecureBoot(f.secureBoot), qemu.WithTPM(f.tpm),
		qemu.WithMemory(f.memory), qemu.WithCPUs(f.cpus), qemu.WithDiskBus(qemu.DiskBus(f.diskBus)),
		qemu.WithMaxReboots(f.maxReboots), qemu.WithTimeout(f.timeout), qemu.WithAccel(qemu.Accel(f.accel)),
		qemu.WithSerialLog(f.serialLog), qemu.WithWorkDir(f.workDir), qemu.WithOVMF(f.ovmfCode, f.ovmfVars),
	}
	if f.console {
		opts = append(opts, qemu.WithConsole(out))
	}
	return opts
}
