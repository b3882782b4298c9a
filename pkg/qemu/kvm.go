package qemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KVM ioctls and exit reasons from <linux/kvm.h>.
const (
	kvmGetAPIVersion       = 0xAE00
	kvmCreateVM            = 0xAE01
	kvmGetVCPUMmapSize     = 0xAE04
	kvmCreateVCPU          = 0xAE41
	kvmSetUserMemoryRegion = 0x4020AE46
	kvmRun                 = 0xAE80
	kvmGetSregs            = 0x8138AE83
	kvmSetSregs            = 0x4138AE84
	kvmSetRegs             = 0x4090AE82
	kvmGetSupportedCPUID   = 0xC008AE05
	kvmAPIVersion          = 12
	kvmExitIO              = 2
	sregsSize              = 312
	regsSize               = 144
	probePort              = 0x10
	probeValue             = 0x42
)

// probeCode is real-mode x86: mov al, 0x42; out 0x10, al; hlt.
var probeCode = []byte{0xB0, probeValue, 0xE6, probePort, 0xF4}

// kvmProbeTimeout bounds the probe guest's single instruction run; a KVM that hangs counts as broken.
const kvmProbeTimeout = 5 * time.Second

// KVMUsable reports whether KVM really runs guest code here: it offers guests SSE3 (every x86-64 CPU
// has it; a nested KVM that hides it hangs real guests), and a VM with one vCPU runs three real-mode
// instructions that write a byte to an I/O port. /dev/kvm existing, or creating a VM, is not enough.
func KVMUsable() error {
	kvm, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/kvm: %w", err)
	}
	defer kvm.Close()
	if v, err := ioctl(kvm.Fd(), kvmGetAPIVersion, 0); err != nil || v != kvmAPIVersion {
		return fmt.Errorf("KVM API version %d (%v), want %d", v, err, kvmAPIVersion)
	}
	if err := checkCPUID(kvm.Fd()); err != nil {
		return err
	}
	vm, err := ioctl(kvm.Fd(), kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	result := make(chan error, 1)
	go func() { result <- runProbe(kvm.Fd(), vm) }() // a hung KVM_RUN leaks this goroutine, never the caller
	select {
	case err := <-result:
		return err
	case <-time.After(kvmProbeTimeout):
		return fmt.Errorf("KVM probe guest did not exit within %v", kvmProbeTimeout)
	}
}

// checkCPUID asks KVM which CPUID bits it offers guests and requires SSE3 (leaf 1, ECX bit 0).
func checkCPUID(kvm uintptr) error {
	const entries, entrySize = 256, 40
	buf := make([]byte, 8+entries*entrySize)
	binary.LittleEndian.PutUint32(buf, entries)
	if _, err := ioctl(kvm, kvmGetSupportedCPUID, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	n := min(int(binary.LittleEndian.Uint32(buf)), entries)
	for i := range n {
		e := buf[8+i*entrySize:]
		if binary.LittleEndian.Uint32(e) == 1 {
			if binary.LittleEndian.Uint32(e[20:])&1 == 0 {
				return errors.New("KVM does not offer SSE3 to guests (broken nested virtualization)")
			}
			return nil
		}
	}
	return errors.New("KVM reports no CPUID leaf 1")
}

func runProbe(kvm, vm uintptr) error {
	defer unix.Close(int(vm))
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("map probe guest memory: %w", err)
	}
	defer unix.Munmap(mem)
	copy(mem, probeCode)
	region := make([]byte, 32) // slot, flags, guest_phys_addr 0x1000, memory_size, userspace_addr
	binary.LittleEndian.PutUint64(region[8:], 0x1000)
	binary.LittleEndian.PutUint64(region[16:], 4096)
	binary.LittleEndian.PutUint64(region[24:], uint64(uintptr(unsafe.Pointer(&mem[0]))))
	if _, err := ioctl(vm, kvmSetUserMemoryRegion, uintptr(unsafe.Pointer(&region[0]))); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	vcpu, err := ioctl(vm, kvmCreateVCPU, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	defer unix.Close(int(vcpu))
	size, err := ioctl(kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	run, err := unix.Mmap(int(vcpu), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map vCPU run area: %w", err)
	}
	defer unix.Munmap(run)
	if err := setProbeRegisters(vcpu); err != nil {
		return err
	}
	if _, err := ioctl(vcpu, kvmRun, 0); err != nil {
		return fmt.Errorf("KVM_RUN: %w", err)
	}
	reason := binary.LittleEndian.Uint32(run[8:])
	port := binary.LittleEndian.Uint16(run[34:])
	dataOff := binary.LittleEndian.Uint64(run[40:])
	if reason != kvmExitIO || port != probePort || dataOff >= uint64(len(run)) || run[dataOff] != probeValue {
		return fmt.Errorf("KVM probe guest exited with reason %d at port %#x, want an I/O write of %#x to %#x",
			reason, port, probeValue, probePort)
	}
	return nil
}

// setProbeRegisters starts the vCPU in real mode at guest address 0x1000.
func setProbeRegisters(vcpu uintptr) error {
	sregs := make([]byte, sregsSize)
	if _, err := ioctl(vcpu, kvmGetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	binary.LittleEndian.PutUint64(sregs[0:], 0)  // cs.base
	binary.LittleEndian.PutUint16(sregs[12:], 0) // cs.selector
	if _, err := ioctl(vcpu, kvmSetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	regs := make([]byte, regsSize)
	binary.LittleEndian.PutUint64(regs[128:], 0x1000) // rip
	binary.LittleEndian.PutUint64(regs[136:], 2)      // rflags: reserved bit 1
	if _, err := ioctl(vcpu, kvmSetRegs, uintptr(unsafe.Pointer(&regs[0]))); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

func ioctl(fd, req, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// resolveAccel turns AccelAuto into KVM or TCG; usable is KVMUsable, injected for tests.
func resolveAccel(a Accel, usable func() error) (Accel, error) {
	switch a {
	case AccelAuto:
		if usable() == nil {
			return AccelKVM, nil
		}
		return AccelTCG, nil
	case AccelKVM:
		if err := usable(); err != nil {
			return "", fmt.Errorf("KVM forced but not usable: %w", err)
		}
	}
	return a, nil
}
