package readahead

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// choppy returns data in reads of random sizes, some of them empty, then err.
type choppy struct {
	data []byte
	rng  *rand.Rand
	err  error
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := min(len(p), len(c.data), c.rng.IntN(3*chunkSize))
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func (c *choppy) Close() error { return nil }

func TestReadKeepsBytesAndError(t *testing.T) {
	data := make([]byte, 11*chunkSize+12345)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		end     error
		wantErr error
	}{
		{"to io.EOF", io.EOF, nil},
		{"to a failure", boom, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &choppy{data: data, rng: rand.New(rand.NewPCG(1, 2)), err: tc.end}
			r := New(src, src)
			defer r.Close()
			got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 100)))
			if err != nil || !bytes.Equal(got, data[:100]) {
				t.Fatalf("first 100 bytes one at a time: %v", err)
			}
			rest, err := io.ReadAll(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if !bytes.Equal(append(got, rest...), data) {
				t.Fatalf("read %d bytes, not the source's %d", len(got)+len(rest), len(data))
			}
		})
	}
}

// stalled delivers its bytes, then blocks until closed.
type stalled struct {
	data   []byte
	closed chan struct{}
}

func (s *stalled) Read(p []byte) (int, error) {
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	<-s.closed
	return 0, errors.New("read on closed source")
}

func (s *stalled) Close() error { close(s.closed); return nil }

func TestStalledSourceDeliversWhatArrived(t *testing.T) {
	const arrived = "bytes that arrived"
	src := &stalled{data: []byte(arrived), closed: make(chan struct{})}
	r := New(src, src)
	got := make([]byte, len(arrived))
	if _, err := io.ReadFull(r, got); err != nil { // blocks for ever if the bytes wait for a full chunk
		t.Fatal(err)
	}
	if string(got) != arrived {
		t.Fatalf("got %q", got)
	}
	if err := r.Close(); err != nil { // ends the goroutine's blocked read
		t.Fatal(err)
	}
}
