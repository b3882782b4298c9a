package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// esc quotes a value for QEMU's comma-separated option syntax.
func esc(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// paths are the files Install and Boot prepare before starting QEMU.
type paths struct {
	installISO string // empty: no install ISO, the disk boots by itself
	disk       string
	snapshot   bool   // write guest changes to a temporary overlay, never to disk
	workDir    string // where QEMU keeps that overlay
	qmpSocket  string
	tpmSocket  string // empty without a TPM
	ovmfVars   string // writable copy, empty with BIOS
}

// args builds QEMU's command line. accel is the resolved accelerator (kvm or tcg).
func args(c config, accel Accel, p paths) []string {
	machine := "q35"
	if c.secureBoot {
		machine += ",smm=on"
	}
	a := []string{
		"-machine", machine, "-accel", string(accel), "-m", strconv.Itoa(c.memoryMiB), "-smp", strconv.Itoa(c.cpus),
		"-nodefaults", "-display", "none", "-vga", "std", "-nic", "none",
		"-chardev", "socket,id=qmp,path=" + esc(p.qmpSocket) + ",server=on,wait=on", "-mon", "chardev=qmp,mode=control",
		"-serial", "stdio",
	}
	if accel == AccelKVM {
		a = append(a, "-cpu", "host")
	}
	if c.maxReboots == 0 {
		a = append(a, "-no-reboot")
	}
	if c.firmware == FirmwareUEFI {
		if c.secureBoot {
			a = append(a, "-global", "driver=cfi.pflash01,property=secure,value=on")
		}
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+esc(c.ovmfCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+esc(p.ovmfVars))
	}
	if p.tpmSocket != "" {
		a = append(a, "-chardev", "socket,id=tpmchr,path="+esc(p.tpmSocket),
			"-tpmdev", "emulator,id=tpm0,chardev=tpmchr", "-device", "tpm-tis,tpmdev=tpm0")
	}
	cdBoot, diskBoot := 0, 1
	if c.maxReboots > 0 {
		cdBoot, diskBoot = 1, 0
	}
	if p.installISO != "" {
		a = append(a, cdrom(0, p.installISO, cdBoot)...)
	} else {
		diskBoot = 0
	}
	for i, iso := range c.cdroms {
		a = append(a, cdrom(i+1, iso, -1)...)
	}
	drive := "file=" + esc(p.disk) + ",if=none,id=disk0,format=raw,cache=unsafe,discard=unmap"
	if p.snapshot {
		drive += ",snapshot=on"
	}
	a = append(a, "-drive", drive)
	if c.diskBus == BusSATA {
		return append(a, "-device", fmt.Sprintf("ide-hd,drive=disk0,bus=ide.%d,bootindex=%d", len(c.cdroms)+1, diskBoot))
	}
	return append(a, "-device", fmt.Sprintf("virtio-blk-pci,drive=disk0,bootindex=%d", diskBoot))
}

// cdrom attaches a read-only CD to SATA port n; bootIndex < 0 leaves it out of the boot order.
func cdrom(n int, iso string, bootIndex int) []string {
	dev := fmt.Sprintf("ide-cd,drive=cd%d,bus=ide.%d", n, n)
	if bootIndex >= 0 {
		dev += ",bootindex=" + strconv.Itoa(bootIndex)
	}
	return []string{"-drive", fmt.Sprintf("file=%s,if=none,id=cd%d,media=cdrom,readonly=on", esc(iso), n), "-device", dev}
}
