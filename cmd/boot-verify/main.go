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
	"github.com/goldimage/goldimage/internal/vmflags"
	"github.com/goldimage/goldimage/pkg/qemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskresult.Exit("boot-verify", run(ctx, os.Args[1:], os.Stdout))
}

// flags are the command line, before validation.
type flags struct {
	disk, marker string
	vm           *vmflags.Flags
}

func parse(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("boot-verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.disk, "disk", "", "installed raw disk: a file or a block device, never written (required)")
	fs.StringVar(&f.marker, "marker", "GOLDIMAGE-BOOTED", "text a serial console line must hold for the boot to count")
	f.vm = vmflags.Register(fs, vmflags.Defaults{
		MaxReboots: 3, MaxRebootsHelp: "guest reboots allowed before the marker (a first Windows boot has some)",
		Timeout: 30 * time.Minute, TimeoutHelp: "give up when the marker has not come after this long",
	})
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
	res, err := qemu.Boot(ctx, f.disk, f.marker, f.vm.Options(out)...)
	if err != nil {
		return fmt.Errorf("boot %s: %w", f.disk, err)
	}
	fmt.Fprintf(out, "%s booted (accelerator %s, %d reboots): %s\n", f.disk, res.Accel, res.Reboots, res.Line)
	return nil
}
