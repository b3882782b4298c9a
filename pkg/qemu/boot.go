package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
)

// BootResult tells how a successful boot went.
type BootResult struct {
	Accel   Accel  // accelerator used: kvm or tcg
	Reboots int    // guest resets before the marker was printed
	Line    string // the console line that holds the marker
}

// Boot boots disk by itself, with no install ISO, and returns once the guest prints a line holding
// marker on its first serial port. The disk is never written: the guest's writes (a first boot of
// Windows finishes its setup) go to a temporary overlay that is dropped afterwards. Powering off,
// rebooting more than allowed, a crash, the timeout or ctx ending before the marker is an error
// naming the cause and the last console line. The firmware starts from the pristine UEFI variables,
// as a VM created from the disk does, so the disk must boot through its fallback boot path.
func Boot(ctx context.Context, disk, marker string, opts ...Option) (BootResult, error) {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return BootResult{}, err
	}
	if marker == "" {
		return BootResult{}, errors.New("boot marker is empty")
	}
	if err := checkInputs(c, map[string]string{"disk": disk}); err != nil {
		return BootResult{}, err
	}
	w := newMarkerWriter(marker)
	res, err := start(ctx, c, machine{disk: disk, snapshot: true, marker: w, goal: fmt.Sprintf("print %q", marker)})
	out := BootResult{Accel: res.Accel, Reboots: res.Reboots}
	if line, ok := w.line(); ok {
		out.Line = line
		return out, nil // printed, even if QEMU then ended badly: the disk booted
	}
	if err != nil {
		return out, fmt.Errorf("disk did not boot to %q: %w", marker, err)
	}
	return out, fmt.Errorf("guest powered off without printing %q on its serial console", marker)
}

// markerWriter watches console output for a line holding the marker and closes found when it comes.
type markerWriter struct {
	marker []byte
	found  chan struct{}

	mu      sync.Mutex
	partial []byte // the unfinished last line, at most maxLine bytes
	hit     string
	done    bool
}

// maxLine bounds how much of one console line is kept while looking for the marker.
const maxLine = 4096

func newMarkerWriter(marker string) *markerWriter {
	return &markerWriter{marker: []byte(marker), found: make(chan struct{})}
}

func (m *markerWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return len(p), nil
	}
	m.partial = append(m.partial, p...)
	for {
		i := bytes.IndexByte(m.partial, '\n')
		if i < 0 {
			break
		}
		if m.check(m.partial[:i]) {
			return len(p), nil
		}
		m.partial = m.partial[i+1:]
	}
	if len(m.partial) > maxLine {
		m.partial = append(m.partial[:0], m.partial[len(m.partial)-len(m.marker):]...)
	}
	return len(p), nil
}

// check records line when it holds the marker; the caller holds mu.
func (m *markerWriter) check(line []byte) bool {
	if !bytes.Contains(line, m.marker) {
		return false
	}
	m.hit, m.done = string(bytes.TrimSpace(bytes.ReplaceAll(line, []byte("\r"), nil))), true
	m.partial = nil
	close(m.found)
	return true
}

// line returns the marker's line once it was printed, also when the output ended without a newline.
func (m *markerWriter) line() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.done && len(m.partial) > 0 {
		m.check(m.partial)
	}
	return m.hit, m.done
}
