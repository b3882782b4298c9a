// Command installer-vm runs the KubeVirt side of golden-image pipelines: create the installer VM
// (and its DataVolumes) from a manifest, wait for an imported DataVolume or for the VM to power off,
// and delete the VM while keeping the installed disk.
//
//	installer-vm create --manifest FILE [--name-result FILE]
//	installer-vm wait --name VM [--timeout 6h]
//	installer-vm wait-datavolume --name DV [--timeout 2h]
//	installer-vm delete --name VM [--keep-datavolume DV]...
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
	"syscall"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/goldimage/goldimage/internal/kubeflags"
	"github.com/goldimage/goldimage/pkg/tasks/vm"
)

const usage = "usage: installer-vm create|wait|wait-datavolume|delete [flags] (see --help of each)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskresult.Exit("installer-vm", run(ctx, os.Args[1:], os.Stdout))
}

type listFlag []string

func (l *listFlag) String() string { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error {
	if v != "" {
		*l = append(*l, v)
	}
	return nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("installer-vm "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	kf := kubeflags.Register(fs)
	name := fs.String("name", "", "VirtualMachine or DataVolume name")
	manifest := fs.String("manifest", "", "create: YAML or JSON file of the objects to create, - for stdin")
	nameResult := fs.String("name-result", "", "create: write the created VirtualMachine's name to this file (a Tekton result)")
	timeout := fs.Duration("timeout", 0, "wait: give up after this long (default no limit)")
	interval := fs.Duration("interval", 10*time.Second, "wait: time between polls")
	var keep listFlag
	fs.Var(&keep, "keep-datavolume", "delete: DataVolume to keep (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", args[0], fs.Arg(0))
	}
	needName := args[0] != "create"
	if needName && *name == "" {
		return fmt.Errorf("%s: --name is required", args[0])
	}
	if args[0] == "create" && *manifest == "" {
		return errors.New("create: --manifest is required")
	}
	dyn, cfg, ns, err := kf.Connect()
	if err != nil {
		return err
	}
	wo := vm.WaitOptions{Interval: *interval, Timeout: *timeout}
	switch args[0] {
	case "create":
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return fmt.Errorf("create discovery client: %w", err)
		}
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
		return create(ctx, out, *manifest, *nameResult, func(r io.Reader) ([]vm.Ref, error) {
			return vm.Create(ctx, dyn, mapper, ns, r)
		})
	case "wait":
		if err := vm.WaitStopped(ctx, dyn, ns, *name, wo); err != nil {
			return fmt.Errorf("wait for VirtualMachine %s/%s to power off: %w", ns, *name, err)
		}
		fmt.Fprintf(out, "VirtualMachine %s/%s stopped\n", ns, *name)
	case "wait-datavolume":
		if err := vm.WaitDataVolume(ctx, dyn, ns, *name, wo); err != nil {
			return fmt.Errorf("wait for DataVolume %s/%s: %w", ns, *name, err)
		}
		fmt.Fprintf(out, "DataVolume %s/%s succeeded\n", ns, *name)
	case "delete":
		if err := vm.DeleteKeepingDataVolumes(ctx, dyn, ns, *name, keep); err != nil {
			return err
		}
		fmt.Fprintf(out, "VirtualMachine %s/%s deleted, kept %v\n", ns, *name, []string(keep))
	default:
		return fmt.Errorf("unknown subcommand %q; %s", args[0], usage)
	}
	return nil
}

func create(ctx context.Context, out io.Writer, manifest, nameResult string, do func(io.Reader) ([]vm.Ref, error)) error {
	in := io.Reader(os.Stdin)
	if manifest != "-" {
		f, err := os.Open(manifest)
		if err != nil {
			return fmt.Errorf("open manifest: %w", err)
		}
		defer f.Close()
		in = f
	}
	refs, err := do(in)
	for _, r := range refs {
		fmt.Fprintf(out, "created %s %s/%s\n", r.Kind, r.Namespace, r.Name)
	}
	if err != nil {
		return err
	}
	if nameResult == "" {
		return nil
	}
	name := refs[0].Name
	for _, r := range refs {
		if r.Kind == "VirtualMachine" {
			name = r.Name
			break
		}
	}
	if err := os.WriteFile(nameResult, []byte(name), 0o644); err != nil {
		return fmt.Errorf("write name result: %w", err)
	}
	return nil
}
