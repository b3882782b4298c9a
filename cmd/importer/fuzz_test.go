package main

import (
	"io"
	"strings"
	"testing"
)

// FuzzParseFlags feeds arbitrary arguments (one per line) and IMPORTER_* environment (NAME=value
// lines) to the command-line parser: it must not panic, and what it accepts must be complete.
func FuzzParseFlags(f *testing.F) {
	f.Add("--source\nhttps://h/d.qcow2\n--dest\n/tmp/d.img\n--size\n1Gi", "")
	f.Add("", "IMPORTER_ENDPOINT=docker://h/i:1\nIMPORTER_PLATFORM_ARCH=arm64\nIMPORTER_EXTRA_HEADER_0=A: b\nIMPORTER_IMAGE_SIZE=10G")
	f.Add("--dest\nd\n--size\n-1\n--output\njson", "IMPORTER_ENDPOINT=blank:\nIMPORTER_CONTENTTYPE=archive")
	f.Add("-h", "")
	f.Add("--size\n1e400\n--source\nblank:\n--dest\nd", "")
	f.Fuzz(func(t *testing.T, args, env string) {
		vars := map[string]string{}
		for _, line := range strings.Split(env, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				vars[k] = v
			}
		}
		var argv []string
		if args != "" {
			argv = strings.Split(args, "\n")
		}
		fl, err := parseFlags(argv, func(k string) string { return vars[k] }, io.Discard)
		if err != nil {
			return
		}
		c := fl.cfg
		if c.Source == "" || c.Dest == "" || (fl.output != "text" && fl.output != "json") {
			t.Fatalf("accepted an incomplete configuration: %+v output %q", c, fl.output)
		}
		if c.Password != vars["IMPORTER_SECRET_KEY"] {
			t.Fatalf("password %q, want the IMPORTER_SECRET_KEY value; it must come from the environment only", c.Password)
		}
	})
}
