package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goldimage/goldimage/test/bench/benchfile"
)

// step is one measured process.
type step struct {
	name string
	args []string
}

// side is what one tool runs for a case, in order; its output lands in out. The bytes of the files
// under scratch after the last step count as scratch written, and so do the bytes an importer step
// reports ("N bytes written to scratch").
type side struct {
	steps   []step
	out     string
	scratch string
}

// measurement sums the steps of one run of a side.
type measurement struct {
	wall, cpu time.Duration
	rssKB     int64
	scratch   int64
	err       error
}

// scratchLine is how the importer reports what it wrote to scratch.
var scratchLine = regexp.MustCompile(`(\d+) bytes written to scratch`)

func (b *bench) compareAll() error {
	ref, refC := b.regHost+"/bench/disk:v1", b.regHost+"/bench/disk-c:v1"
	work := filepath.Join(b.dir, "skopeo")
	ours, theirs := filepath.Join(b.dir, "ours.raw"), filepath.Join(b.dir, "theirs.raw")
	shell := func(script string) step { return step{"bash", []string{"-c", "set -eo pipefail; " + script}} }
	importer := func(src string, extra ...string) side {
		args := append([]string{"--source", src, "--dest", ours, "--progress", "never"}, extra...)
		return side{steps: []step{{b.importer, args}}, out: ours}
	}
	skopeo := func(ref, file string) side {
		return side{out: theirs, scratch: work, steps: []step{
			shell(fmt.Sprintf("rm -rf %[1]s; skopeo copy -q --insecure-policy --src-tls-verify=false docker://%[2]s dir:%[1]s", work, ref)),
			shell(fmt.Sprintf("mkdir -p %[1]s/x; tar -xf %[1]s/$(ls -S %[1]s | head -1) -C %[1]s/x", work)),
			{"qemu-img", []string{"convert", "-f", "qcow2", "-O", "raw", work + "/x/disk/" + file, theirs}},
		}}
	}
	ownFile := importer("file://" + b.qcowC)
	ownFile.out = theirs
	ownFile.steps[0].args[3] = theirs
	cases := []struct {
		name         string
		ours, theirs side
	}{
		{"containerDisk qcow2", importer("docker://" + ref), skopeo(ref, "disk.qcow2")},
		{"containerDisk qcow2 -c", importer("docker://" + refC), skopeo(refC, "disk.qcow2")},
		{"cD qcow2 -c vs our file", importer("docker://" + refC), ownFile},
		// The importer fsyncs its output before it reports success, so the pipelines end in `sync FILE`.
		{"http raw.gz", importer(b.httpURL + "/disk.raw.gz"), side{out: theirs, steps: []step{
			shell(fmt.Sprintf("curl -sSf %s/disk.raw.gz | gunzip > %s; sync %[2]s", b.httpURL, theirs))}}},
		{"http raw.zst", importer(b.httpURL + "/disk.raw.zst"), side{out: theirs, steps: []step{
			shell(fmt.Sprintf("curl -sSf %s/disk.raw.zst | zstd -dq > %s; sync %[2]s", b.httpURL, theirs))}}},
		// The same without durability on their side: the literal anchor.
		{"http raw.zst (no sync)", importer(b.httpURL + "/disk.raw.zst"), side{out: theirs, steps: []step{
			shell(fmt.Sprintf("curl -sSf %s/disk.raw.zst | zstd -dq > %s", b.httpURL, theirs))}}},
	}
	for _, c := range cases {
		var o, t measurement
		for i := range b.repeat { // alternate the sides so background load hits both alike
			t = better(t, measure(c.theirs), i)
			o = better(o, measure(c.ours), i)
		}
		os.RemoveAll(work)
		b.report(c.name, t, o)
	}
	return nil
}

// report prints one row and checks both outputs against the source disk.
func (b *bench) report(name string, t, o measurement) {
	ours, theirs := filepath.Join(b.dir, "ours.raw"), filepath.Join(b.dir, "theirs.raw")
	defer os.Remove(ours)
	defer os.Remove(theirs)
	if err := failures(t.err, o.err); err != "" {
		fmt.Printf("%-22s error: %s\n", name, err)
		return
	}
	verdict := "both identical to the source"
	for who, p := range map[string]string{"ours": ours, "theirs": theirs} {
		if err := benchfile.SameContent(b.src, p); err != nil {
			verdict = who + " DIFFERS: " + err.Error()
		}
	}
	fmt.Printf("%-26s %9s %9s %7.2fx %9s %9s %7.2fx %9s %9s %9s %9s  %s\n", name, benchfile.Round(t.wall), benchfile.Round(o.wall),
		t.wall.Seconds()/o.wall.Seconds(), benchfile.Round(t.cpu), benchfile.Round(o.cpu), t.cpu.Seconds()/max(o.cpu.Seconds(), 0.001),
		benchfile.MiB(t.rssKB), benchfile.MiB(o.rssKB), bytesOf(t.scratch), bytesOf(o.scratch), verdict)
}

func failures(theirs, ours error) string {
	var s []string
	if theirs != nil {
		s = append(s, "theirs: "+theirs.Error())
	}
	if ours != nil {
		s = append(s, "ours: "+ours.Error())
	}
	return strings.Join(s, "; ")
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

// measure runs the steps of a side after removing its previous output and flushing dirty pages,
// so that neither side pays for the other's truncation or writeback. Each step runs under GNU time:
// a child forked by this (large) Go process inherits its peak RSS, one forked by time does not.
func measure(s side) measurement {
	_ = os.Remove(s.out)
	syscall.Sync()
	var m measurement
	usage := filepath.Join(filepath.Dir(s.out), "usage.txt")
	defer os.Remove(usage)
	for _, st := range s.steps {
		var stderr bytes.Buffer
		cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M %U %S", "-o", usage, st.name}, st.args...)...)
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		m.wall += time.Since(start)
		if err != nil {
			m.err = fmt.Errorf("%s: %v: %s", st.name, err, strings.TrimSpace(stderr.String()))
			return m
		}
		for _, sub := range scratchLine.FindAllStringSubmatch(stderr.String(), -1) {
			n, _ := strconv.ParseInt(sub[1], 10, 64)
			m.scratch += n
		}
		var rss int64
		var user, sys float64
		raw, _ := os.ReadFile(usage)
		if _, err := fmt.Sscan(string(raw), &rss, &user, &sys); err != nil {
			m.err = fmt.Errorf("read usage of %s from %q: %v", st.name, raw, err)
			return m
		}
		m.rssKB = max(m.rssKB, rss)
		m.cpu += time.Duration((user + sys) * float64(time.Second))
	}
	if s.scratch != "" {
		_ = filepath.WalkDir(s.scratch, func(_ string, d fs.DirEntry, err error) error {
			if info, ierr := d.Info(); err == nil && ierr == nil && info.Mode().IsRegular() {
				m.scratch += info.Size()
			}
			return nil
		})
	}
	return m
}

// bytesOf prints n bytes in MiB, or in bytes below 1 MiB (where 0 is the point).
func bytesOf(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
