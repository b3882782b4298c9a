package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/goldimage/goldimage/pkg/convert"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench run|convert [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "convert":
		err = convertCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// convertCmd converts one image with pkg/convert, as the measured process.
func convertCmd(args []string) error {
	fs := flag.NewFlagSet("convert", flag.ExitOnError)
	src := fs.String("src", "", "source image")
	dst := fs.String("dst", "", "raw output")
	sync := fs.Bool("sync", false, "fsync the output (qemu-img convert's default cache mode, unsafe, does not)")
	workers := fs.Int("workers", 0, "worker goroutines (default: one per CPU)")
	profile := fs.String("cpuprofile", "", "write a CPU profile here")
	_ = fs.Parse(args)
	if *profile != "" {
		pf, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	f, err := os.Open(*src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	img, _, err := convert.Open(f, st.Size())
	if err != nil {
		return err
	}
	defer img.Close()
	opts := []convert.Option{convert.WithSync(*sync)}
	if *workers > 0 {
		opts = append(opts, convert.WithWorkers(*workers))
	}
	_, err = convert.WriteRaw(context.Background(), img, *dst, opts...)
	return err
}
