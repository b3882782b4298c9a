package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// loopMajor is the block device major number of loop devices.
const loopMajor = 7

// loopControl is the loop driver's control device.
const loopControl = "/dev/loop-control"

// attachLoop binds a free loop device to file and returns the device's path.
//
// LO_FLAGS_AUTOCLEAR is deliberately not set here: the kernel clears an
// autoclear device on its last close, and a bind-mounted device node is not
// an opener, so the device would vanish as soon as this function closed it.
// detachLoop sets autoclear instead (LOOP_CLR_FD on a device that is still
// open turns into autoclear), so a container holding it open keeps working.
func attachLoop(file string, readOnly bool) (string, error) {
	ctl, err := os.OpenFile(loopControl, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", loopControl, err)
	}
	defer ctl.Close()
	mode := os.O_RDWR
	var flags uint32
	if readOnly {
		mode = os.O_RDONLY
		flags |= unix.LO_FLAGS_READ_ONLY
	}
	backing, err := os.OpenFile(file, mode, 0)
	if err != nil {
		return "", fmt.Errorf("open backing file: %w", err)
	}
	defer backing.Close()

	var lastErr error
	for range 16 { // another process may grab the free device first
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		if _, err := os.Stat(dev); errors.Is(err, os.ErrNotExist) {
			// /dev without devtmpfs (or a stale copy of it): make the node ourselves.
			if err := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(loopMajor, uint32(n)))); err != nil && !errors.Is(err, unix.EEXIST) {
				return "", fmt.Errorf("mknod %s: %w", dev, err)
			}
		}
		lf, err := os.OpenFile(dev, mode, 0)
		if err != nil {
			return "", fmt.Errorf("open %s: %w", dev, err)
		}
		err = configureLoop(int(lf.Fd()), int(backing.Fd()), file, flags)
		lf.Close()
		if errors.Is(err, unix.EBUSY) {
			lastErr = err
			continue
		}
		if err != nil {
			return "", fmt.Errorf("bind %s to %s: %w", dev, file, err)
		}
		return dev, nil
	}
	return "", fmt.Errorf("no free loop device after retries: %w", lastErr)
}

// configureLoop binds the loop device open as loopFD to backingFD with
// LOOP_CONFIGURE, falling back to LOOP_SET_FD and LOOP_SET_STATUS64 on
// kernels older than 5.8.
func configureLoop(loopFD, backingFD int, name string, flags uint32) error {
	info := unix.LoopInfo64{Flags: flags}
	copy(info.File_name[:len(info.File_name)-1], name)
	cfg := unix.LoopConfig{Fd: uint32(backingFD), Info: info}
	err := unix.IoctlLoopConfigure(loopFD, &cfg)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		return err
	}
	if err := unix.IoctlSetInt(loopFD, unix.LOOP_SET_FD, backingFD); err != nil {
		return err
	}
	if err := unix.IoctlLoopSetStatus64(loopFD, &info); err != nil {
		_ = unix.IoctlSetInt(loopFD, unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("LOOP_SET_STATUS64: %w", err)
	}
	return nil
}

// loopBackingFile returns the backing file the kernel reports for the loop
// device dev, or "" when dev is not bound.
func loopBackingFile(dev string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)"), nil
}

// detachLoop unbinds dev if it is still bound to file. If something still
// holds the device open the kernel defers the unbinding to the last close.
// A device already unbound, or now bound to another file, is left alone.
func detachLoop(dev, file string) error {
	backing, err := loopBackingFile(dev)
	if err != nil {
		return fmt.Errorf("read backing file of %s: %w", dev, err)
	}
	if backing != file {
		return nil
	}
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dev, err)
	}
	defer f.Close()
	err = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
	if errors.Is(err, unix.ENXIO) {
		return nil
	}
	if errors.Is(err, unix.EBUSY) {
		// Older kernels refuse while open: ask for clearing on last close.
		info, gerr := unix.IoctlLoopGetStatus64(int(f.Fd()))
		if gerr != nil {
			return fmt.Errorf("LOOP_GET_STATUS64 on %s: %w", dev, gerr)
		}
		info.Flags |= unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopSetStatus64(int(f.Fd()), info)
	}
	if err != nil {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	return nil
}

// refreshLoopCapacity makes dev, bound to file, pick up file's new size.
func refreshLoopCapacity(dev, file string) error {
	backing, err := loopBackingFile(dev)
	if err != nil || backing != file {
		return err
	}
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_CAPACITY, 0)
}
