package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

// TestServeThenImport runs "importer serve" and "importer --source clone+https://..." against each other
// in-process: the copy is byte-identical and the server exits 0 after that one transfer.
func TestServeThenImport(t *testing.T) {
	dir := t.TempDir()
	disk := make([]byte, 3<<20)
	rand.Read(disk[2<<20:])
	src := filepath.Join(dir, "golden.img")
	creds, err := clone.NewCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "tls")
	os.Mkdir(certDir, 0o700)
	for name, b := range map[string][]byte{src: disk, filepath.Join(certDir, clone.KeyCert): creds.CertPEM,
		filepath.Join(certDir, clone.KeyKey): creds.KeyPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	env := func(k string) string { return map[string]string{contract.EnvSecretKey: creds.Token}[k] }
	exit := make(chan int, 1)
	var serveLog bytes.Buffer
	go func() {
		exit <- serve([]string{"--file", src, "--listen", addr, "--cert-dir", certDir}, env, &serveLog)
	}()
	dest := filepath.Join(dir, "copy.img")
	// The importer pod's environment as the DataVolume controller sets it for a clone.
	for k, v := range map[string]string{contract.EnvEndpoint: clone.Scheme + "://" + addr + clone.Path, contract.EnvSource: "clone",
		contract.EnvSecretKey: creds.Token, contract.EnvCertDir: certDir, contract.EnvDestination: dest,
		contract.EnvContentType: "kubevirt", contract.EnvImageSize: "3Mi"} {
		t.Setenv(k, v)
	}
	term := filepath.Join(dir, "termination-log")
	var stderr bytes.Buffer
	code := -1
	for attempt := 0; attempt < 50 && code != 0; attempt++ { // the server may not listen yet
		stderr.Reset()
		code = run([]string{"--termination-log", term, "--metrics-addr", "", "--progress", "never"}, io.Discard, &stderr)
		if code != 0 && !strings.Contains(stderr.String(), "connection refused") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 0 {
		t.Fatalf("import exited %d: %s", code, stderr.String())
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, disk) {
		t.Fatal("clone differs from the source")
	}
	if msg, _ := os.ReadFile(term); !strings.Contains(string(msg), `"result":"success"`) {
		t.Errorf("termination message %q", msg)
	}
	if c := <-exit; c != 0 {
		t.Errorf("serve exited %d after a complete transfer: %s", c, serveLog.String())
	}
}

func TestServeUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no token", []string{"--cert-dir", t.TempDir()}, nil, "no token"},
		{"no certificate", []string{"--cert-dir", t.TempDir()}, map[string]string{contract.EnvSecretKey: "t"}, "read clone certificate"},
		{"stray argument", []string{"extra"}, map[string]string{contract.EnvSecretKey: "t"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := serve(tc.args, func(k string) string { return tc.env[k] }, &stderr)
			if code != contract.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), contract.ExitUsage, tc.want)
			}
		})
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
