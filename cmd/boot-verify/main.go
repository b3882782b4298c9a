// Command boot-verify boots an installed raw disk once by itself in a QEMU VM inside the task pod (no
// install ISO, no KubeVirt) and succeeds when the guest prints a marker line on its first serial
// port. The disk is never written: the guest's writes go to a throwaway overlay, so a generalized
// Windows image stays generalized. A pipeline runs it between the install and the publish step, so
// a disk that does not boot is never pushed or pointed at.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/goldimage/goldimage/internal/taskresult"
	"github.com/goldimage/goldimage/pkg/qemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskresult.Exit("boot-verify", run(ctx, os.Args[1:], os.Stdout))
}

// flags are the command line, before validation.
type flags struct {
	disk, marker, firmware, diskBus, accel, serialLog, workDir, ovmfCode, ovmfVars string
	secureBoot, tpm, console                                                       bool
	memory, cpus, maxReboots                                                       int
	timeout                                                                        time.Duration
}

func parse(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("boot-verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.disk, "disk", "", "installed raw disk: a file or a block device, never written (required)")
	fs.StringVar(&f.marker, "marker", "GOLDIMAGE-BOOTED", "text a serial console line must hold for the boot to count")
	fs.StringVar(&f.firmware, "firmware", "bios", "bios or uefi (as the install used)")
	fs.BoolVar(&f.secureBoot, "secure-boot", false, "UEFI Secure Boot (use --ovmf-* with Microsoft keys)")
	fs.StringVar(&f.ovmfCode, "ovmf-code", "/usr/share/OVMF/OVMF_CODE_4M.fd", "UEFI firmware code")
	fs.StringVar(&f.ovmfVars, "ovmf-vars", "/usr/share/OVMF/OVMF_VARS_4M.fd", "UEFI variables template, copied")
	fs.BoolVar(&f.tpm, "tpm", false, "attach a TPM 2.0 (swtpm)")
	fs.IntVar(&f.memory, "memory", 2048, "guest memory in MiB")
	fs.IntVar(&f.cpus, "cpus", 2, "virtual CPUs")
	fs.StringVar(&f.diskBus, "disk-bus", "virtio", "virtio or sata")
	fs.IntVar(&f.maxReboots, "max-reboots", 3, "guest reboots allowed before the marker (a first Windows boot has some)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up when the marker has not come after this long")
	fs.StringVar(&f.accel, "accel", "auto", "auto (KVM only if it works), kvm or tcg")
	fs.StringVar(&f.serialLog, "serial-log", "", "also write the guest's serial console to this file")
	fs.BoolVar(&f.console, "console", true, "copy the guest's serial console to stdout")
	fs.StringVar(&f.workDir, "work-dir", "", "directory for sockets, firmware state and the overlay (default a temporary one)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.disk == "" || fs.NArg() > 0 {
		return f, errors.New("usage: boot-verify --disk PATH [--marker TEXT] [--firmware bios|uefi] [--timeout 30m]")
	}
	return f, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	f, err := parse(args)
	if err != nil {
		return err
	}
	opts := []qemu.Option{
		qemu.WithFirmware(qemu.Firmware(f.firmware)), qemu.WithSecureBoot(f.secureBoot), qemu.WithTPM(f.tpm),
		qemu.WithMemory(f.memory), qemu.WithCPUs(f.cpus), qemu.WithDiskBus(qemu.DiskBus(f.diskBus)),
		qemu.WithMaxReboots(f.maxReboots), qemu.WithTimeout(f.timeout), qemu.WithAccel(qemu.Accel(f.accel)),
		qemu.WithSerialLog(f.serialLog), qemu.WithWorkDir(f.workDir), qemu.WithOVMF(f.ovmfCode, f.ovmfVars),
	}
	if f.console {
		opts = append(opts, qemu.WithConsole(out))
	}
	res, err := qemu.Boot(ctx, f.disk, f.marker, opts...)
	if err != nil {
		return fmt.Errorf("boot %s: %w", f.disk, err)
	}
	fmt.Fprintf(out, "%s booted (accelerator %s, %d reboots): %s\n", f.disk, res.Accel, res.Reboots, res.Line)
	return nil
}
