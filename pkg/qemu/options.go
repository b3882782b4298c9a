package qemu

import (
	"fmt"
	"io"
	"time"
)

// Accel chooses how QEMU executes guest code.
type Accel string

// Accelerators.
const (
	AccelAuto Accel = "auto" // KVM when opening /dev/kvm and creating a VM succeeds, TCG otherwise
	AccelKVM  Accel = "kvm"  // hardware virtualization, forced
	AccelTCG  Accel = "tcg"  // software emulation, slow but available everywhere
)

// Firmware chooses how the machine boots.
type Firmware string

// Firmwares.
const (
	FirmwareBIOS Firmware = "bios" // SeaBIOS
	FirmwareUEFI Firmware = "uefi" // OVMF
)

// DiskBus chooses how the target disk is attached.
type DiskBus string

// Disk buses.
const (
	BusVirtio DiskBus = "virtio" // virtio-blk; Windows needs the virtio drivers CD
	BusSATA   DiskBus = "sata"   // AHCI, understood by every installer
)

// config is what the options set; the zero value is not used, see defaults.
type config struct {
	binary     string
	accel      Accel
	firmware   Firmware
	secureBoot bool
	ovmfCode   string
	ovmfVars   string
	tpm        bool
	swtpm      string
	memoryMiB  int
	cpus       int
	diskBus    DiskBus
	cdroms     []string
	maxReboots int
	timeout    time.Duration
	serialLog  string
	console    io.Writer
	workDir    string
}

func defaults() config {
	return config{
		binary:    "qemu-system-x86_64",
		accel:     AccelAuto,
		firmware:  FirmwareBIOS,
		ovmfCode:  "/usr/share/OVMF/OVMF_CODE_4M.fd",
		ovmfVars:  "/usr/share/OVMF/OVMF_VARS_4M.fd",
		swtpm:     "swtpm",
		memoryMiB: 2048,
		cpus:      2,
		diskBus:   BusVirtio,
		timeout:   2 * time.Hour,
	}
}

// Option configures Install.
type Option func(*config)

// WithBinary sets the QEMU executable. Default "qemu-system-x86_64" from PATH.
func WithBinary(path string) Option { return func(c *config) { c.binary = path } }

// WithAccel chooses the accelerator. Default AccelAuto, which never picks KVM unless it works.
func WithAccel(a Accel) Option { return func(c *config) { c.accel = a } }

// WithFirmware chooses BIOS or UEFI. Default FirmwareBIOS.
func WithFirmware(f Firmware) Option { return func(c *config) { c.firmware = f } }

// WithSecureBoot boots OVMF with Secure Boot (SMM, Microsoft keys); use the .ms OVMF files. Default off.
func WithSecureBoot(on bool) Option { return func(c *config) { c.secureBoot = on } }

// WithOVMF sets the UEFI code and variable-template files. Default Debian's OVMF_CODE_4M.fd and OVMF_VARS_4M.fd.
// The variables file is copied; the template is never written.
func WithOVMF(code, vars string) Option {
	return func(c *config) { c.ovmfCode, c.ovmfVars = code, vars }
}

// WithTPM attaches a TPM 2.0 emulated by swtpm (Windows 11 requires one). Default off.
func WithTPM(on bool) Option { return func(c *config) { c.tpm = on } }

// WithSWTPM sets the swtpm executable. Default "swtpm" from PATH.
func WithSWTPM(path string) Option { return func(c *config) { c.swtpm = path } }

// WithMemory sets guest memory in MiB. Default 2048 (Windows setup wants 4096).
func WithMemory(mib int) Option { return func(c *config) { c.memoryMiB = mib } }

// WithCPUs sets the number of virtual CPUs. Default 2.
func WithCPUs(n int) Option { return func(c *config) { c.cpus = n } }

// WithDiskBus sets how the target disk is attached. Default BusVirtio.
func WithDiskBus(b DiskBus) Option { return func(c *config) { c.diskBus = b } }

// WithCDROM attaches another read-only CD (answer file, drivers) after the install ISO. Default none.
func WithCDROM(iso string) Option { return func(c *config) { c.cdroms = append(c.cdroms, iso) } }

// WithMaxReboots allows the guest to reboot n times before it must power off. Default 0: the first
// reset fails the install (QEMU runs with -no-reboot and boots the install ISO first). With n > 0 the
// disk boots first and the install ISO second, so a reboot continues the installed system.
func WithMaxReboots(n int) Option { return func(c *config) { c.maxReboots = n } }

// WithTimeout bounds the whole install; QEMU is stopped when it runs out. Default 2 hours.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithSerialLog also writes the guest's first serial port to the file at path. Default none.
func WithSerialLog(path string) Option { return func(c *config) { c.serialLog = path } }

// WithConsole copies the guest's first serial port to w as it arrives. Default none.
func WithConsole(w io.Writer) Option { return func(c *config) { c.console = w } }

// WithWorkDir sets where sockets, the UEFI variables copy and TPM state live. Default a new temporary
// directory, removed afterwards.
func WithWorkDir(dir string) Option { return func(c *config) { c.workDir = dir } }

func (c config) validate() error {
	switch {
	case c.accel != AccelAuto && c.accel != AccelKVM && c.accel != AccelTCG:
		return fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", c.accel)
	case c.firmware != FirmwareBIOS && c.firmware != FirmwareUEFI:
		return fmt.Errorf("unknown firmware %q (want bios or uefi)", c.firmware)
	case c.secureBoot && c.firmware != FirmwareUEFI:
		return fmt.Errorf("secure boot needs UEFI firmware")
	case c.diskBus != BusVirtio && c.diskBus != BusSATA:
		return fmt.Errorf("unknown disk bus %q (want virtio or sata)", c.diskBus)
	case c.memoryMiB < 64:
		return fmt.Errorf("memory %d MiB is below 64 MiB", c.memoryMiB)
	case c.cpus < 1:
		return fmt.Errorf("cpus %d is below 1", c.cpus)
	case c.maxReboots < 0:
		return fmt.Errorf("max reboots %d is negative", c.maxReboots)
	case c.timeout <= 0:
		return fmt.Errorf("timeout %v is not positive", c.timeout)
	case len(c.cdroms) > 5:
		return fmt.Errorf("%d extra CDs; the SATA controller has room for 5 besides the install ISO", len(c.cdroms))
	}
	return nil
}
