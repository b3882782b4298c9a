package importer

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/contract"
)

// FuzzParseChecksum checks that accepted checksums are exactly sha256 and 64 hex digits, and that
// verification compares them case-insensitively.
func FuzzParseChecksum(f *testing.F) {
	for _, s := range []string{"sha256:" + strings.Repeat("ab", 32), "SHA256:" + strings.Repeat("AB", 32), "md5:abc", "sha256:", "sha256:zz", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := parseChecksum(s)
		if err != nil {
			if ExitCode(err) != contract.ExitUsage {
				t.Fatalf("%q: error %v is not a usage error", s, err)
			}
			return
		}
		if len(sum) != 32 || !strings.EqualFold(s, "sha256:"+hex.EncodeToString(sum)) {
			t.Fatalf("%q accepted as %x", s, sum)
		}
		h := newHasher(strings.NewReader(""))
		got, err := h.verify(s)
		empty := "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		if (err == nil) != strings.EqualFold(s, empty) || (err == nil && got != empty) {
			t.Fatalf("verify(%q) = %q, %v", s, got, err)
		}
	})
}

// FuzzParseHeader checks that every accepted header is one net/http sends: the transport validates
// names and values before dialing, so a valid header reaches the (failing) dial.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer x", "x-a:b", "no colon", ": v", "A B: c", "A: b\r\nC: d", "A:\tb\t", "Ä: b", "A: \x7f"} {
		f.Add(s)
	}
	dialErr := errors.New("no dialing in fuzz tests")
	client := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, dialErr
	}}}
	f.Fuzz(func(t *testing.T, h string) {
		name, value, err := parseHeader(h)
		if err != nil {
			if ExitCode(err) != contract.ExitUsage {
				t.Fatalf("%q: error %v is not a usage error", h, err)
			}
			return
		}
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil)
		req.Header[name] = []string{value}
		if _, err := client.Do(req); !errors.Is(err, dialErr) {
			t.Fatalf("%q accepted as %q: %q, but net/http says %v", h, name, value, err)
		}
	})
}

// FuzzConfigValidate checks that validation never panics and fails only with usage errors.
func FuzzConfigValidate(f *testing.F) {
	f.Add("docker://quay.io/containerdisks/fedora:41", "/data/disk.img", int64(0), "raw", "", "X-A: b")
	f.Add("blank:", "disk.img", int64(0), "", "", "")
	f.Add("http://h/x", "", int64(-1), "vmdk", "sha256:00", "bad")
	f.Fuzz(func(t *testing.T, src, dest string, size int64, format, checksum, header string) {
		c := Config{Source: src, Dest: dest, Size: size, Format: format, Checksum: checksum}
		if header != "" {
			c.Headers = []string{header}
		}
		err := c.validate()
		if err != nil && ExitCode(err) != contract.ExitUsage {
			t.Fatalf("%+v: error %v is not a usage error", c, err)
		}
		if err == nil && (src == "" || dest == "" || size < 0) {
			t.Fatalf("%+v accepted", c)
		}
	})
}
