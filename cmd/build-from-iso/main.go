// Command build-from-iso installs an operating system from an ISO onto a raw disk by running the
// installer unattended in a QEMU VM inside the task pod (no KubeVirt): answer files go on an extra
// CD, driver ISOs (virtio-win) attach as further CDs, and the command returns when the guest powers
// itself off (sysprep /generalize /shutdown for Windows). TCG is used unless KVM really works.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/goldimage/goldimage/internal/taskresult"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/goldimage/goldimage/internal/vmflags"
	"github.com/goldimage/goldimage/pkg/qemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskresult.Exit("build-from-iso", run(ctx, os.Args[1:], os.Stdout))
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// flags are the command line, before validation.
type flags struct {
	iso, disk, diskSize, answerDir, cdromDir string
	answers, cdroms                          listFlag
	vm                                       *vmflags.Flags
}

func parse(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("build-from-iso", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.iso, "iso", "", "installer ISO (required)")
	fs.StringVar(&f.disk, "disk", "", "target raw disk: a file (created sparse when missing) or a block device (required)")
	fs.StringVar(&f.diskSize, "disk-size", "", "size of the empty disk file the install starts from, e.g. 64Gi; an existing file is emptied (without it, an existing disk is used as it is)")
	fs.Var(&f.answers, "answer-file", "file for the answer CD, e.g. autounattend.xml (repeatable)")
	fs.StringVar(&f.answerDir, "answer-dir", "", "put every file of this directory on the answer CD too (empty: none)")
	fs.Var(&f.cdroms, "cdrom", "extra read-only CD, e.g. virtio-win.iso (repeatable; empty values are ignored)")
	fs.StringVar(&f.cdromDir, "cdrom-dir", "", "attach every *.iso of this directory as a CD too (empty: none)")
	f.vm = vmflags.Register(fs, vmflags.Defaults{
		MaxReboots: 0, MaxRebootsHelp: "guest reboots allowed before the final power-off (Windows needs some)",
		Timeout: 2 * time.Hour, TimeoutHelp: "give up after this long",
	})
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.iso == "" || f.disk == "" || fs.NArg() > 0 {
		return f, errors.New("usage: build-from-iso --iso PATH --disk PATH [--disk-size 64Gi] [--answer-file F] [--cdrom ISO] (repeatable)")
	}
	return f, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	f, err := parse(args)
	if err != nil {
		return err
	}
	if err := prepareDisk(f.disk, f.diskSize); err != nil {
		return err
	}
	opts := f.vm.Options(out)
	answers, cdroms, err := collectFiles(f)
	if err != nil {
		return err
	}
	if len(answers) > 0 {
		dir, err := os.MkdirTemp("", "goldimage-answer-")
		if err != nil {
			return fmt.Errorf("create answer CD directory: %w", err)
		}
		defer os.RemoveAll(dir)
		cd := filepath.Join(dir, "answer.iso")
		if err := qemu.MakeCD(ctx, cd, "ANSWER", answers...); err != nil {
			return err
		}
		opts = append(opts, qemu.WithCDROM(cd))
	}
	for _, cd := range cdroms {
		opts = append(opts, qemu.WithCDROM(cd))
	}
	res, err := qemu.Install(ctx, f.disk, f.iso, opts...)
	if err != nil {
		return fmt.Errorf("install %s onto %s: %w", f.iso, f.disk, err)
	}
	fmt.Fprintf(out, "installed %s onto %s (accelerator %s, %d reboots)\n", f.iso, f.disk, res.Accel, res.Reboots)
	return nil
}

// prepareDisk gives the install an empty disk: with a size, a disk file (missing or holding anything, such as
// an earlier build's disk on the same claim, which must not pass for this build's) becomes an empty sparse file
// of that size; without one, an existing file is used as it is. Block devices are used as they are.
func prepareDisk(path, size string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.Mode()&os.ModeDevice != 0:
		return nil
	case size == "" && err == nil:
		return nil
	case size == "" && errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("disk %s does not exist and --disk-size is not set", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("disk: %w", err)
	}
	q, err := resource.ParseQuantity(size)
	if err != nil {
		return fmt.Errorf("disk size %q: %w", size, err)
	}
	if q.Value() <= 0 {
		return fmt.Errorf("disk size %q is not positive", size)
	}
	return emptyFile(path, q.Value())
}

// emptyFile makes path an empty sparse file of size bytes.
func emptyFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create disk: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("size disk %s to %d bytes: %w", path, size, err)
	}
	return nil
}

// collectFiles lists the answer files and CDs named by flags, skipping empty values (an unbound
// optional Tekton workspace expands to an empty path) and Kubernetes' hidden ..data entries.
func collectFiles(f flags) (answers, cdroms []string, err error) {
	answers = nonEmpty(f.answers)
	if f.answerDir != "" {
		more, err := filesIn(f.answerDir, func(string) bool { return true })
		if err != nil {
			return nil, nil, fmt.Errorf("answer directory: %w", err)
		}
		answers = append(answers, more...)
	}
	cdroms = nonEmpty(f.cdroms)
	if f.cdromDir != "" {
		isos, err := filesIn(f.cdromDir, func(name string) bool { return strings.EqualFold(filepath.Ext(name), ".iso") })
		if err != nil {
			return nil, nil, fmt.Errorf("CD directory: %w", err)
		}
		cdroms = append(cdroms, isos...)
	}
	return answers, cdroms, nil
}

func nonEmpty(values []string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// filesIn returns the regular files (following symlinks) of dir whose names pass keep, sorted.
func filesIn(dir string, keep func(string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !keep(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out, nil
}
