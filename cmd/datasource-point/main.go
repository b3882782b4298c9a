// Command datasource-point points a CDI DataSource at a PVC (creating the DataSource if needed), the
// last step of a golden-image pipeline that installed a disk into that PVC.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/goldimage/goldimage/internal/taskresult"
	"io"
	"os"

	"github.com/goldimage/goldimage/internal/kubeflags"
	"github.com/goldimage/goldimage/pkg/tasks/datasource"
)

func main() {
	taskresult.Exit("datasource-point", run(context.Background(), os.Args[1:], os.Stdout))
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("datasource-point", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	kf := kubeflags.Register(fs)
	name := fs.String("name", "", "DataSource name (required)")
	pvcName := fs.String("pvc-name", "", "PVC to point at (required)")
	pvcNamespace := fs.String("pvc-namespace", "", "namespace of the PVC (default the DataSource's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *pvcName == "" || fs.NArg() > 0 {
		return errors.New("usage: datasource-point --name DATASOURCE --pvc-name PVC [--pvc-namespace NS] [--namespace NS]")
	}
	dyn, _, ns, err := kf.Connect()
	if err != nil {
		return err
	}
	if *pvcNamespace == "" {
		*pvcNamespace = ns
	}
	changed, err := datasource.Point(ctx, dyn, ns, *name, datasource.PVC{Namespace: *pvcNamespace, Name: *pvcName})
	if err != nil {
		return err
	}
	verb := "already points"
	if changed {
		verb = "now points"
	}
	fmt.Fprintf(out, "DataSource %s/%s %s at PVC %s/%s\n", ns, *name, verb, *pvcNamespace, *pvcName)
	return nil
}
