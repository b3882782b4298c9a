package qemu

import (
	"errors"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	p := paths{installISO: "/in/win.iso", disk: "/out/disk,1.img", qmpSocket: "/w/qmp.sock"}
	tests := []struct {
		name    string
		opts    []Option
		p       paths
		accel   Accel
		want    []string
		notWant []string
	}{
		{name: "bios defaults", p: p, accel: AccelTCG,
			want: []string{"-accel tcg", "-m 2048", "-smp 2", "-nic none", "-serial stdio", "-no-reboot",
				"file=/out/disk,,1.img,if=none,id=disk0,format=raw", "virtio-blk-pci,drive=disk0,bootindex=1",
				"ide-cd,drive=cd0,bus=ide.0,bootindex=0", "socket,id=qmp,path=/w/qmp.sock,server=on,wait=on"},
			notWant: []string{"pflash", "tpm", "-cpu host"}},
		{name: "uefi secure boot tpm kvm", opts: []Option{WithFirmware(FirmwareUEFI), WithSecureBoot(true), WithTPM(true)},
			p:     paths{installISO: "i", disk: "d", qmpSocket: "q", tpmSocket: "/w/tpm.sock", ovmfVars: "/w/vars.fd"},
			accel: AccelKVM,
			want: []string{"-machine q35,smm=on", "-accel kvm", "-cpu host", "property=secure,value=on",
				"unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd", "unit=1,file=/w/vars.fd",
				"socket,id=tpmchr,path=/w/tpm.sock", "tpm-tis,tpmdev=tpm0"}},
		{name: "reboots boot the disk first", opts: []Option{WithMaxReboots(3), WithDiskBus(BusSATA),
			WithCDROM("/a.iso"), WithCDROM("/virtio-win.iso")}, p: p, accel: AccelTCG,
			want: []string{"ide-cd,drive=cd0,bus=ide.0,bootindex=1", "file=/a.iso,if=none,id=cd1", "ide-cd,drive=cd1,bus=ide.1 ",
				"ide-cd,drive=cd2,bus=ide.2 ", "ide-hd,drive=disk0,bus=ide.3,bootindex=0"},
			notWant: []string{"-no-reboot"}},
		{name: "boot the disk alone on an overlay", p: paths{disk: "/out/d.img", snapshot: true, qmpSocket: "q"}, accel: AccelTCG,
			want:    []string{"id=disk0,format=raw,cache=unsafe,discard=unmap,snapshot=on", "virtio-blk-pci,drive=disk0,bootindex=0"},
			notWant: []string{"ide-cd", "media=cdrom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			for _, o := range tt.opts {
				o(&c)
			}
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			line := strings.Join(args(c, tt.accel, tt.p), " ") + " "
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("command line lacks %q:\n%s", w, line)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(line, w) {
					t.Errorf("command line has %q:\n%s", w, line)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		opt  Option
		want string
	}{
		{WithAccel("hvf"), `unknown accelerator "hvf"`},
		{WithFirmware("coreboot"), `unknown firmware "coreboot"`},
		{WithSecureBoot(true), "secure boot needs UEFI"},
		{WithDiskBus("scsi"), `unknown disk bus "scsi"`},
		{WithMemory(10), "below 64 MiB"},
		{WithCPUs(0), "cpus 0"},
		{WithMaxReboots(-1), "negative"},
		{WithTimeout(0), "not positive"},
	}
	for _, tt := range tests {
		c := defaults()
		tt.opt(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("validate() = %v, want %q", err, tt.want)
		}
	}
}

func TestResolveAccel(t *testing.T) {
	works := func() error { return nil }
	broken := func() error { return errors.New("KVM_CREATE_VM: operation not supported") }
	tests := []struct {
		in      Accel
		usable  func() error
		want    Accel
		wantErr string
	}{
		{AccelAuto, works, AccelKVM, ""},
		{AccelAuto, broken, AccelTCG, ""},
		{AccelTCG, works, AccelTCG, ""},
		{AccelKVM, works, AccelKVM, ""},
		{AccelKVM, broken, "", "KVM forced but not usable: KVM_CREATE_VM"},
	}
	for _, tt := range tests {
		got, err := resolveAccel(tt.in, tt.usable)
		if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("resolveAccel(%s) = %s, %v; want %s, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestKVMUsableAgreesWithAuto(t *testing.T) {
	// On this project's machines /dev/kvm exists but cannot create a VM; auto must then pick TCG.
	got, err := resolveAccel(AccelAuto, KVMUsable)
	if err != nil {
		t.Fatal(err)
	}
	if kvmErr := KVMUsable(); (kvmErr == nil) != (got == AccelKVM) {
		t.Fatalf("auto picked %s while KVMUsable() = %v", got, kvmErr)
	}
	t.Logf("auto picks %s (KVMUsable: %v)", got, KVMUsable())
}
