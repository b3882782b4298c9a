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
	entrypoint := fs.String("entrypoint", "", "entrypoint path inside the image (default: DEST of the first file; --entrypoint= sets none)")
	arch := fs.String("arch", runtime.GOARCH, "image architecture")
	var bases, links, env, caps listFlag
	fs.Var(&bases, "layer", "a root filesystem tarball to put below the files (repeatable, bottom first)")
	fs.Var(&links, "link", "TARGET:/ABSOLUTE/DEST, a symbolic link to add (repeatable)")
	fs.Var(&env, "env", "NAME=VALUE for the image config (repeatable; default PATH=/usr/local/bin:/usr/bin:/bin)")
	fs.Var(&caps, "cap", "/DEST=cap_a[,cap_b], file capabilities (+ep, as setcap writes them) for the file placed at DEST (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tag == "" || *out == "" || (fs.NArg() == 0 && len(bases) == 0) {
		return fmt.Errorf("usage: imagebuild --tag REF --out FILE [--user UID] [--entrypoint PATH] [--layer TAR] [--link TARGET:DEST] [--env N=V] [--cap DEST=CAPS] SOURCE:DEST [SOURCE:DEST]")
	}
	files, err := parseFiles(fs.Args())
	if err != nil {
		return err
	}
	if err := applyCaps(files, caps); err != nil {
		return err
	}
	spec := Spec{BaseLayers: bases, Files: files, User: *user, Arch: *arch, Env: env}
	if spec.Links, err = parseLinks(links); err != nil {
		return err
	}
	entrypointSet := false
	fs.Visit(func(f *flag.Flag) { entrypointSet = entrypointSet || f.Name == "entrypoint" })
	switch {
	case *entrypoint != "":
		spec.Entrypoint = []string{*entrypoint}
	case !entrypointSet && len(files) > 0:
		spec.Entrypoint = []string{files[0].Dest}
	}
	return WriteTarball(*out, *tag, spec)
}

// listFlag collects the values of a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// applyCaps sets File.Caps from each /DEST=CAPS argument; DEST must be one of the files.
func applyCaps(files []File, args []string) error {
	for _, a := range args {
		dest, names, ok := strings.Cut(a, "=")
		if !ok || names == "" || !strings.HasPrefix(dest, "/") {
			return fmt.Errorf("cap argument %q: want /ABSOLUTE/DEST=cap_name[,cap_name]", a)
		}
		if _, err := fileCapability(names); err != nil {
			return fmt.Errorf("cap argument %q: %w", a, err)
		}
		found := false
		for i := range files {
			if files[i].Dest == dest {
				files[i].Caps, found = names, true
			}
		}
		if !found {
			return fmt.Errorf("cap argument %q: no file is placed at %s", a, dest)
		}
	}
	return nil
}

func parseLinks(args []string) ([]Link, error) {
	links := make([]Link, 0, len(args))
	err := parsePairs(args, "link", "TARGET", func(target, dest string) { links = append(links, Link{Target: target, Dest: dest}) })
	return links, err
}

func parseFiles(args []string) ([]File, error) {
	files := make([]File, 0, len(args))
	err := parsePairs(args, "file", "SOURCE", func(src, dest string) { files = append(files, File{Source: src, Dest: dest}) })
	return files, err
}

// parsePairs splits each FROM:/ABSOLUTE/DEST argument and hands it to add; what names the argument kind and
// from its first half in the error.
func parsePairs(args []string, what, from string, add func(from, dest string)) error {
	for _, a := range args {
		src, dest, ok := strings.Cut(a, ":")
		if !ok || src == "" || !strings.HasPrefix(dest, "/") {
			return fmt.Errorf("%s argument %q: want %s:/ABSOLUTE/DEST", what, a, from)
		}
		add(src, dest)
	}
	return nil
}
