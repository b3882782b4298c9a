package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/goldimage/goldimage/test/bench/benchfile"
)

// format is one source image the comparison converts.
type format struct {
	name     string
	qemuFmt  string
	makeArgs []string // qemu-img convert options creating it from the raw source
}

var formats = []format{
	{"raw", "raw", nil},
	{"qcow2", "qcow2", []string{"-O", "qcow2"}},
	{"qcow2-zlib", "qcow2", []string{"-O", "qcow2", "-c"}},
	{"qcow2-zstd", "qcow2", []string{"-O", "qcow2", "-c", "-o", "compression_type=zstd"}},
	{"vmdk-stream", "vmdk", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
	{"vhdx", "vhdx", []string{"-O", "vhdx"}},
}

// minSpent and maxRuns bound the extra runs of short conversions (see compare).
const (
	minSpent = 10 * time.Second
	maxRuns  = 15
)

// verbose prints every run's times (flag -v).
var verbose bool

// measurement is one process run.
type measurement struct {
	wall  time.Duration
	cpu   time.Duration // user + system
	rssKB int64
	err   error
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dir := fs.String("dir", "", "work directory (default: a new temporary directory, removed afterwards)")
	size := fs.String("size", "4G", "virtual size")
	data := fs.String("data", "1G", "bytes of data in the image")
	repeat := fs.Int("repeat", 5, "runs per side at least (more while both sides together took under 10 s); the fastest counts")
	only := fs.String("formats", "", "comma-separated formats to compare (default: all)")
	fs.BoolVar(&verbose, "v", false, "print every run's times")
	_ = fs.Parse(args)
	vsize, err1 := benchfile.ParseSize(*size)
	dsize, err2 := benchfile.ParseSize(*data)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "goldimage-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src := filepath.Join(*dir, "source.raw")
	fmt.Printf("generating %s virtual / %s data in %s\n", *size, *data, *dir)
	if err := benchfile.Generate(src, vsize, dsize); err != nil {
		return err
	}
	fmt.Println("time: wall clock of the fastest run; cpu: user+system of that run; speedup: qemu-img time / goldimage time")
	fmt.Printf("%-12s %9s %9s %8s %9s %9s %8s %9s %9s  %s\n", "format", "qemu", "ours", "speedup",
		"qemu cpu", "our cpu", "cpu x", "qemu RSS", "our RSS", "output")
	for _, f := range formats {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), f.name) {
			continue
		}
		if err := compare(self, *dir, src, f, *repeat); err != nil {
			return err
		}
	}
	return nil
}

// compare builds f from src, converts it with both tools and prints one table row.
func compare(self, dir, src string, f format, repeat int) error {
	in := src
	if f.makeArgs != nil {
		in = filepath.Join(dir, "source."+f.name)
		args := append(append([]string{"convert", "-m", "16", "-W"}, f.makeArgs...), src, in)
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("make %s: %v: %s", f.name, err, out)
		}
		defer os.Remove(in)
	}
	qemuOut, ourOut := filepath.Join(dir, "qemu.raw"), filepath.Join(dir, "ours.raw")
	defer os.Remove(qemuOut)
	defer os.Remove(ourOut)
	qemuArgs := []string{"convert", "-f", f.qemuFmt, "-O", "raw", in, qemuOut}
	var q, o measurement
	var spent time.Duration
	// Alternate the tools so background load hits both alike, and start each run with neither
	// output on disk, so both find the page cache in the same state. Short conversions are
	// dominated by the host's page cache and writeback, whose noise only more runs average out:
	// keep going until both sides ran for minSpent, up to maxRuns each.
	for i := 0; i < max(repeat, 1) || spent < minSpent && i < maxRuns; i++ {
		qi := run([]string{qemuOut, ourOut}, "qemu-img", qemuArgs...)
		oi := run([]string{qemuOut, ourOut}, self, "convert", "-src", in, "-dst", ourOut)
		if verbose {
			fmt.Printf("  %s run %d: qemu %s, ours %s\n", f.name, i+1, benchfile.Round(qi.wall), benchfile.Round(oi.wall))
		}
		q, o, spent = better(q, qi, i), better(o, oi, i), spent+qi.wall+oi.wall
	}
	if q.err != nil {
		return fmt.Errorf("qemu-img on %s: %w", f.name, q.err)
	}
	if o.err != nil {
		fmt.Printf("%-12s %9s %9s %8s %9s %9s %8s %9s %9s  %s\n", f.name, benchfile.Round(q.wall), "-", "-", benchfile.Round(q.cpu), "-", "-",
			benchfile.MiB(q.rssKB), "-", "error: "+o.err.Error())
		return nil
	}
	if out, err := exec.Command("qemu-img", qemuArgs...).CombinedOutput(); err != nil { // the reference output, untimed
		return fmt.Errorf("qemu-img on %s: %v: %s", f.name, err, out)
	}
	verdict := "identical"
	if err := benchfile.SameContent(qemuOut, ourOut); err != nil {
		verdict = "DIFFERS: " + err.Error()
	}
	fmt.Printf("%-12s %9s %9s %7.2fx %9s %9s %7.2fx %9s %9s  %s\n", f.name, benchfile.Round(q.wall), benchfile.Round(o.wall),
		q.wall.Seconds()/o.wall.Seconds(), benchfile.Round(q.cpu), benchfile.Round(o.cpu), q.cpu.Seconds()/max(o.cpu.Seconds(), 0.001),
		benchfile.MiB(q.rssKB), benchfile.MiB(o.rssKB), verdict)
	return nil
}

// better keeps the faster of two runs; an error in any run is kept so it gets reported.
func better(kept, cur measurement, i int) measurement {
	switch {
	case i == 0 || cur.err != nil && kept.err == nil:
		return cur
	case kept.err != nil || kept.wall <= cur.wall:
		return kept
	}
	return cur
}

// run measures one conversion. The files in remove are removed and dirty pages are flushed first,
// so neither tool pays for truncating an earlier run's file or for its writeback.
func run(remove []string, name string, args ...string) measurement {
	for _, out := range remove {
		_ = os.Remove(out)
	}
	syscall.Sync()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	m := measurement{wall: time.Since(start)}
	if err != nil {
		m.err = fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
		return m
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.rssKB = ru.Maxrss
	}
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return m
}
