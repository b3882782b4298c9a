package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	tag := fs.String("tag", "", "image reference to record in the tarball, e.g. goldimage.local/importer:e2e")
	out := fs.String("out", "", "path of the image tarball to write")
	user := fs.String("user", "65532", "numeric user the image runs as")
	entrypoint := fs.String("entrypoint", "", "entrypoint path inside the image (default: DEST of the first file)")
	arch := fs.String("arch", runtime.GOARCH, "image architecture")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tag == "" || *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: imagebuild --tag REF --out FILE [--user UID] [--entrypoint PATH] SOURCE:DEST [SOURCE:DEST]")
	}
	files, err := parseFiles(fs.Args())
	if err != nil {
		return err
	}
	spec := Spec{Files: files, User: *user, Arch: *arch, Entrypoint: []string{files[0].Dest}}
	if *entrypoint != "" {
		spec.Entrypoint = []string{*entrypoint}
	}
	return WriteTarball(*out, *tag, spec)
}

func parseFiles(args []string) ([]File, error) {
	files := make([]File, 0, len(args))
	for _, a := range args {
		src, dest, ok := strings.Cut(a, ":")
		if !ok || src == "" || !strings.HasPrefix(dest, "/") {
			return nil, fmt.Errorf("file argument %q: want SOURCE:/ABSOLUTE/DEST", a)
		}
		files = append(files, File{Source: src, Dest: dest})
	}
	return files, nil
}
