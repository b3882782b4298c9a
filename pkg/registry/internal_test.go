package registry

import (
	"testing"
	"time"
)

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"disk/a.img", "disk/a.img", ""},
		{"./disk/a.img", "disk/a.img", ""},
		{"/disk//a.img", "disk/a.img", ""},
		{"disk/", "disk", ""},
		{"./", ".", ""},
		{"", ".", ""},
		{"disk/../etc/x", "", "escapes the image root"},
		{"../disk/a.img", "", "escapes the image root"},
	}
	for _, tt := range tests {
		got, err := cleanName(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") {
			t.Errorf("cleanName(%q) = %q, %v; want %q, error %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"Mon, 23 Nov 2026 04:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 03:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://index.docker.io/v1/": "index.docker.io",
		"docker.io":                   "index.docker.io",
		"quay.io":                     "quay.io",
		"http://127.0.0.1:5000/":      "127.0.0.1:5000",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
