package qemu

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/qemu/qemutest"
)

// TestInstallStandIn boots the stand-in installer under TCG: it reads its answer file from a second
// CD, writes the target disk and powers off, or reboots when the answer file is bad.
func TestInstallStandIn(t *testing.T) {
	installISO := qemutest.StandInISO(t)
	tests := []struct {
		name        string
		answer      string
		opts        []Option
		want        []string
		wantReboots int
		wantErr     string
		wantBoot    string // the booted disk's marker line holds this; empty: not booted
		wantBootErr string // booting the installed disk fails with this
	}{
		{name: "bios", answer: "hostname=golden-bios\n",
			want:     []string{"hostname=golden-bios", "firmware=bios", "tpm=absent"},
			wantBoot: qemutest.BootedMarker + " hostname=golden-bios firmware=bios disk=/dev/vda"},
		{name: "uefi with tpm", answer: "hostname=golden-uefi\n",
			opts:     []Option{WithFirmware(FirmwareUEFI), WithTPM(true)},
			want:     []string{"hostname=golden-uefi", "firmware=uefi", "tpm=present"},
			wantBoot: qemutest.BootedMarker + " hostname=golden-uefi firmware=uefi"},
		{name: "installed without a boot image", answer: "hostname=golden-flat\nbootable=false\n",
			want:        []string{"hostname=golden-flat"},
			wantBootErr: `disk did not boot to "GOLDIMAGE-BOOTED"`},
		{name: "setup that reboots once", answer: "hostname=golden-twice\nreboots=1\n", opts: []Option{WithMaxReboots(1)},
			want: []string{"hostname=golden-twice", "reboots=1"}, wantReboots: 1},
		{name: "bad answer file reboots", answer: "disk=/dev/vda\n",
			wantErr: `guest rebooted instead of powering off (it failed, or allow reboots) (last console line: "standin: FAILED: answer file sets no hostname"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat("/usr/share/OVMF/OVMF_CODE_4M.fd"); err != nil && strings.Contains(tt.name, "uefi") {
				t.Skip("OVMF not installed: run hack/install-deps.sh")
			}
			dir := t.TempDir()
			disk := filepath.Join(dir, "disk.raw")
			if err := os.WriteFile(disk, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(disk, 64<<20); err != nil {
				t.Fatal(err)
			}
			answerCD := filepath.Join(dir, "answer.iso")
			if err := MakeCD(context.Background(), answerCD, "ANSWER", qemutest.AnswerDir(t, tt.answer)); err != nil {
				t.Fatal(err)
			}
			var console bytes.Buffer
			serialLog := filepath.Join(dir, "serial.log")
			opts := append([]Option{WithAccel(AccelTCG), WithMemory(512), WithCDROM(answerCD), WithTimeout(5 * time.Minute),
				WithConsole(&console), WithSerialLog(serialLog)}, tt.opts...)
			res, err := Install(context.Background(), disk, installISO, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Install error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\nconsole:\n%s", err, console.String())
			}
			if logged, _ := os.ReadFile(serialLog); !strings.Contains(console.String(), "standin: installing") ||
				!bytes.Equal(logged, console.Bytes()) {
				t.Errorf("console %q and serial log %q should both hold the installer's messages", console.String(), logged)
			}
			if res.Accel != AccelTCG || res.Reboots != tt.wantReboots {
				t.Errorf("result %+v, want tcg and %d reboots", res, tt.wantReboots)
			}
			head := qemutest.ReadHeader(t, disk)
			if !bytes.HasPrefix(head, []byte(qemutest.InstalledMarker)) {
				t.Fatalf("disk's header does not start with the installed marker: %q", head[:64])
			}
			for _, w := range tt.want {
				if !bytes.Contains(head, []byte(w+"\n")) {
					t.Errorf("installed disk header lacks %q:\n%s", w, bytes.TrimRight(head, "\x00"))
				}
			}
			if tt.wantBoot != "" || tt.wantBootErr != "" {
				expectBoot(t, disk, tt.wantBoot, tt.wantBootErr, tt.opts...)
			}
		})
	}
}

func TestInstallBadInputs(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		iso  string
		opts []Option
		want string
	}{
		{"missing ISO", filepath.Join(dir, "nope.iso"), nil, "install ISO: stat"},
		{"missing CD", disk, []Option{WithCDROM(filepath.Join(dir, "drivers.iso"))}, "CD 1: stat"},
		{"missing QEMU", disk, []Option{WithBinary("qemu-system-nonexistent")}, "install qemu-system-x86"},
		{"bad option", disk, []Option{WithCPUs(0)}, "cpus 0 is below 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Install(context.Background(), disk, tt.iso, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install error %v, want %q", err, tt.want)
			}
		})
	}
}

// expectBoot boots an installed disk by itself and checks the marker line or the error, and that the
// disk was not written.
func expectBoot(t *testing.T, disk, wantLine, wantErr string, opts ...Option) {
	t.Helper()
	before, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	timeout := 90 * time.Second
	if wantErr != "" {
		timeout = 20 * time.Second // SeaBIOS would wait 60 s to retry; a disk that boots prints the marker in 10
	}
	opts = append([]Option{WithAccel(AccelTCG), WithMemory(512), WithTimeout(timeout), WithConsole(&console)}, opts...)
	res, err := Boot(context.Background(), disk, qemutest.BootedMarker, opts...)
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Boot error %v, want %q", err, wantErr)
		}
	case err != nil:
		t.Errorf("Boot: %v\nconsole:\n%s", err, console.String())
	case !strings.HasPrefix(res.Line, wantLine):
		t.Errorf("marker line %q, want it to start with %q", res.Line, wantLine)
	}
	after, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("booting the disk wrote to it; its writes belong in the overlay")
	}
}
