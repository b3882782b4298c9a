package qemu

import (
	"strings"
	"testing"
)

func TestLastLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"standin: FAILED: no disk\r\n[    3.1] reboot: Restarting system\r\n", "standin: FAILED: no disk"},
		{"[ 1.0] a\n[ 2.0] b\n", "[ 2.0] b"},
		{"one\ntwo\n\n", "two"},
	}
	for _, tt := range tests {
		if got := lastLine(tt.in); got != tt.want {
			t.Errorf("lastLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"qemu: warning\n", "qemu-system-x86_64: cannot open disk\n"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.String()) != 8 || !strings.HasSuffix(b.String(), "disk\n") {
		t.Errorf("kept %q, want the last 8 bytes", b.String())
	}
	if got := (&tailBuffer{max: 100, buf: []byte("a\nlast words\n")}).summary(); got != ": last words" {
		t.Errorf("summary %q", got)
	}
}
