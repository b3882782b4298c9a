package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    importer.Config
		wantLog string
		wantErr string
	}{
		{name: "flags", args: []string{"--source", "https://h/d.qcow2", "--dest", "/tmp/d.img", "--size", "1Gi", "--scratch", "/s",
			"--header", "X-A: 1", "--checksum", "sha256:ab"},
			want: importer.Config{Source: "https://h/d.qcow2", Dest: "/tmp/d.img", Size: 1 << 30, ScratchDir: "/s", Format: "raw", FilesystemOverhead: 0.055,
				Headers: []string{"X-A: 1"}, Checksum: "sha256:ab"}},
		{name: "pod environment", env: map[string]string{contract.EnvEndpoint: "http://h/bucket/k", contract.EnvSource: "s3",
			contract.EnvAccessKeyID: "ak", contract.EnvSecretKey: "sk", contract.EnvImageSize: "10G", contract.EnvPreallocation: "true",
			contract.EnvInsecureTLS: "true", contract.EnvExtraHeaderPrefix + "0": "A: b", contract.EnvExtraHeaderPrefix + "1": "C: d"},
			want: importer.Config{Source: "http://h/bucket/k", Dest: contract.FilesystemTarget, Size: 10e9, Format: "raw", FilesystemOverhead: 0.055, S3: true,
				User: "ak", Password: "sk", Preallocate: true, InsecureTLS: true, Headers: []string{"A: b", "C: d"}},
			wantLog: contract.TerminationLogPath},
		{name: "flags override environment", args: []string{"--dest", "/dev/vdb"},
			env:  map[string]string{contract.EnvEndpoint: "blank:", contract.EnvImageSize: "1Mi", contract.EnvDestination: "/x"},
			want: importer.Config{Source: "blank:", Dest: "/dev/vdb", Size: 1 << 20, Format: "raw", FilesystemOverhead: 0.055}, wantLog: contract.TerminationLogPath},
		{name: "platform from environment", args: []string{"--source", "docker://h/i:1", "--dest", "d"},
			env:  map[string]string{contract.EnvPlatformArch: "arm64"},
			want: importer.Config{Source: "docker://h/i:1", Dest: "d", Format: "raw", FilesystemOverhead: 0.055, Platform: "linux/arm64"}},
		{name: "platform flag wins", args: []string{"--source", "docker://h/i:1", "--dest", "d", "--platform", "linux/s390x"},
			env:  map[string]string{contract.EnvPlatformOS: "windows", contract.EnvPlatformArch: "arm64"},
			want: importer.Config{Source: "docker://h/i:1", Dest: "d", Format: "raw", FilesystemOverhead: 0.055, Platform: "linux/s390x"}},
		{name: "filesystem overhead from environment", args: []string{"--source", "blank:", "--dest", "d"},
			env:  map[string]string{contract.EnvFilesystemOverhead: "0.2"},
			want: importer.Config{Source: "blank:", Dest: "d", Format: "raw", FilesystemOverhead: 0.2}},
		{name: "no filesystem overhead", args: []string{"--source", "blank:", "--dest", "d", "--filesystem-overhead", "0"},
			env:  map[string]string{contract.EnvFilesystemOverhead: "0.2"},
			want: importer.Config{Source: "blank:", Dest: "d", Format: "raw"}},
		{name: "direct I/O and no discard from environment", args: []string{"--source", "blank:", "--dest", "d"},
			env:  map[string]string{contract.EnvDirectIO: "true", contract.EnvDiscard: "false"},
			want: importer.Config{Source: "blank:", Dest: "d", Format: "raw", FilesystemOverhead: 0.055, DirectIO: true, NoDiscard: true}},
		{name: "discard flag wins", args: []string{"--source", "blank:", "--dest", "d", "--discard", "--direct-io=false"},
			env:  map[string]string{contract.EnvDirectIO: "true", contract.EnvDiscard: "false"},
			want: importer.Config{Source: "blank:", Dest: "d", Format: "raw", FilesystemOverhead: 0.055}},
		{name: "overhead of one", args: []string{"--source", "blank:", "--dest", "d", "--filesystem-overhead", "1"}, wantErr: "want a decimal in [0, 1)"},
		{name: "overhead not a number", args: []string{"--source", "blank:", "--dest", "d"},
			env: map[string]string{contract.EnvFilesystemOverhead: "5%"}, wantErr: "--filesystem-overhead \"5%\""},
		{name: "missing dest", args: []string{"--source", "blank:"}, wantErr: "--source and --dest are required"},
		{name: "bad size", args: []string{"--source", "blank:", "--dest", "d", "--size", "lots"}, wantErr: "--size"},
		{name: "bad output", args: []string{"--source", "blank:", "--dest", "d", "--output", "yaml"}, wantErr: "--output"},
		{name: "stray argument", args: []string{"--source", "blank:", "--dest", "d", "extra"}, wantErr: "unexpected argument"},
		{name: "archive content", args: []string{"--source", "file:///a.tar", "--dest", "d"}, env: map[string]string{contract.EnvContentType: "archive"},
			want: importer.Config{Source: "file:///a.tar", Dest: "d", Format: "raw", FilesystemOverhead: 0.055, Archive: true}},
		{name: "unknown content", args: []string{"--source", "blank:", "--dest", "d"}, env: map[string]string{contract.EnvContentType: "iso"}, wantErr: "want kubevirt"},
		{name: "unknown flag", args: []string{"--colour"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			f, err := parseFlags(tt.args, getenv, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.cfg, tt.want) {
				t.Errorf("config\n got %+v\nwant %+v", f.cfg, tt.want)
			}
			if f.terminationLog != tt.wantLog {
				t.Errorf("termination log %q, want %q", f.terminationLog, tt.wantLog)
			}
		})
	}
}

func TestRunCLI(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "termination")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--source", "blank:", "--size", "4Mi", "--dest", filepath.Join(dir, "d.img"), "--output", "json",
		"--termination-log", log}, &stdout, &stderr)
	if code != contract.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	msg, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	term, err := contract.ParseTermination(string(msg))
	if err != nil || term.Result != contract.ResultSuccess || term.VirtualSize != 4<<20 {
		t.Fatalf("termination %+v, %v", term, err)
	}
	if strings.TrimSpace(stdout.String()) != strings.TrimSpace(string(msg)) {
		t.Errorf("--output json printed %q, termination log has %q", stdout.String(), msg)
	}

	stdout.Reset()
	code = run([]string{"--source", "ftp://x/y", "--dest", filepath.Join(dir, "e.img"), "--termination-log", log}, &stdout, &stderr)
	if code != contract.ExitFatal || !strings.Contains(stderr.String(), "unsupported source scheme") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	msg, _ = os.ReadFile(log)
	if term, err := contract.ParseTermination(string(msg)); err != nil || term.Result != contract.ResultFailure || term.Retryable {
		t.Fatalf("termination %+v, %v", term, err)
	}
	if code := run([]string{"--help"}, &stdout, &stderr); code != contract.ExitOK || !strings.Contains(stderr.String(), "Examples:") {
		t.Fatalf("--help exit %d", code)
	}
}

func TestFormatIsRawOnly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != contract.ExitOK || strings.Contains(stderr.String(), "qcow2]") ||
		strings.Contains(stderr.String(), "raw|qcow2") || !strings.Contains(stderr.String(), "raw, the only one") {
		t.Fatalf("--help (exit %d) advertises an output format other than raw:\n%s", code, stderr.String())
	}
	stderr.Reset()
	dest := filepath.Join(t.TempDir(), "d.img")
	code := run([]string{"--source", "blank:", "--size", "1Mi", "--dest", dest, "--format", "qcow2"}, &stdout, &stderr)
	if code != contract.ExitUsage || !strings.Contains(stderr.String(), `format "qcow2" is not supported: the importer writes raw only`) {
		t.Fatalf("--format qcow2: exit %d, stderr %q; want a usage error saying raw only", code, stderr.String())
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a refused format left a destination behind")
	}
}
