package source

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzContentRange checks the Content-Range parsers never panic, never invent a size, and return a
// start only when "bytes " is followed by that non-negative number and "-".
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1234", "bytes 0-0/*", "", "bytes 1-2/-5", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := totalFromContentRange(s); n < -1 {
			t.Fatalf("total %d from %q", n, s)
		}
		if start, ok := startOfContentRange(s); ok {
			a, _, dash := strings.Cut(strings.TrimPrefix(s, "bytes "), "-")
			if n, err := strconv.ParseInt(a, 10, 64); start < 0 || !dash || err != nil || n != start || !strings.HasPrefix(s, "bytes ") {
				t.Fatalf("start %d from %q", start, s)
			}
		}
	})
}

// FuzzParseLocation checks that source URL parsing fails only fatally, never shows a password, and
// accepts only URLs the transports can use.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"file:///data/disk.img", "file://localhost/x", "file://host/x", "file:rel", "https://u:pw@h/x.qcow2?sig=1",
		"http://h", "s3://h/b/k/k2", "s3://h/b", "docker://quay.io/a/b:1", "oci-archive:/a.tar:v1", "ftp://h/x", "disk.img", "http://[::1]:x/"} {
		f.Add(s, false)
	}
	f.Add("https://h/bucket/key", true)
	f.Fuzz(func(t *testing.T, raw string, s3 bool) {
		loc, err := parseLocation(raw, s3)
		var pass string
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			pass, _ = u.User.Password()
		}
		if err != nil {
			if !IsFatal(err) {
				t.Fatalf("%q: error %v is retryable", raw, err)
			}
			if len(pass) >= 4 && strings.Contains(err.Error(), pass) && !strings.Contains(RedactURL(raw), pass) {
				t.Fatalf("%q: error %q shows the password", raw, err)
			}
			return
		}
		switch loc.kind {
		case kindFile:
			if !strings.HasPrefix(loc.path, "/") {
				t.Fatalf("%q: file path %q is not absolute", raw, loc.path)
			}
		case kindS3:
			if loc.u.Host == "" || loc.bucket == "" || loc.key == "" {
				t.Fatalf("%q: s3 location %+v", raw, loc)
			}
		case kindHTTP:
			if _, err := http.NewRequest(http.MethodGet, loc.raw, nil); err != nil || loc.u.Host == "" {
				t.Fatalf("%q accepted as http but %v", raw, err)
			}
		case kindContainerDisk:
		default:
			t.Fatalf("%q: kind %q", raw, loc.kind)
		}
	})
}

// FuzzRedactURL checks that a redacted URL carries no user info and that redacting twice changes nothing.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"https://user:secret@host/path?token=x#frag", "https://u:p@ss@host/x", "s3://host/b/k", "oci-archive:/a@b", "http://a@b@c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := RedactURL(raw)
		if RedactURL(r) != r {
			t.Fatalf("RedactURL(%q) = %q, but redacting that again gives %q", raw, r, RedactURL(r))
		}
		if strings.ContainsAny(r, "?#") {
			t.Fatalf("RedactURL(%q) = %q keeps the query", raw, r)
		}
		if u, err := url.Parse(r); err == nil && u.User != nil {
			t.Fatalf("RedactURL(%q) = %q keeps user info %q", raw, r, u.User)
		}
	})
}
