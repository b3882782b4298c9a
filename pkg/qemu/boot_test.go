package qemu

import (
	"strings"
	"testing"
)

func TestMarkerWriter(t *testing.T) {
	long := strings.Repeat("x", 3*maxLine)
	tests := []struct {
		name   string
		writes []string
		want   string // "" means not found
	}{
		{"whole line", []string{"boot\r\nGOLDIMAGE-BOOTED hostname=a\r\nmore\n"}, "GOLDIMAGE-BOOTED hostname=a"},
		{"split across writes", []string{"GOLDIMA", "GE-BOO", "TED x\n"}, "GOLDIMAGE-BOOTED x"},
		{"last line without newline", []string{"a\nGOLDIMAGE-BOOTED end"}, "GOLDIMAGE-BOOTED end"},
		{"after a long line", []string{long, "\nGOLDIMAGE-BOOTED y\n"}, "GOLDIMAGE-BOOTED y"},
		{"marker at the end of a long line", []string{long, "GOLDIMAGE-BOOTED\n"}, "GOLDIMAGE-BOOTED"},
		{"not printed", []string{"GOLDIMAGE-BOOTE\nD\n", "GOLDIMAGE-booted\n"}, ""},
		{"first line wins", []string{"GOLDIMAGE-BOOTED 1\nGOLDIMAGE-BOOTED 2\n"}, "GOLDIMAGE-BOOTED 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMarkerWriter("GOLDIMAGE-BOOTED")
			for _, w := range tt.writes {
				if n, err := m.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			line, ok := m.line()
			if ok != (tt.want != "") || !strings.HasSuffix(line, tt.want) {
				t.Errorf("line() = %q, %v; want %q", line, ok, tt.want)
			}
			if ok {
				select {
				case <-m.found:
				default:
					t.Error("found not closed")
				}
			}
		})
	}
}
