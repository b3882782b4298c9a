package forward

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func stream(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestReadAt(t *testing.T) {
	data := stream(100 << 10)
	type read struct {
		off, n  int64
		stop    bool // StopKeeping before this read
		wantErr error
		short   int // bytes expected when wantErr is io.ErrUnexpectedEOF
	}
	tests := []struct {
		name  string
		limit int64
		reads []read
	}{
		{"forward with gaps", 1 << 20, []read{{off: 0, n: 512}, {off: 4096, n: 100}, {off: 70000, n: 5000}}},
		{"back and forth while keeping", 1 << 20, []read{{off: 1000, n: 10}, {off: 0, n: 2000}, {off: 500, n: 100}, {off: 1990, n: 20}}},
		{"behind after StopKeeping", 1 << 20, []read{{off: 1000, n: 10}, {off: 999, n: 1, stop: true, wantErr: ErrNotForward}}},
		{"forward after StopKeeping", 1 << 20, []read{{off: 1000, n: 10}, {off: 1010, n: 10, stop: true}, {off: 50000, n: 10}}},
		{"past the keep limit", 4096, []read{{off: 0, n: 4096}, {off: 4000, n: 97, wantErr: ErrNotForward}, {off: 0, n: 10}}},
		{"short at the end", 1 << 20, []read{{off: 100<<10 - 10, n: 20, wantErr: io.ErrUnexpectedEOF, short: 10}}},
		{"past the end", 1 << 20, []read{{off: 200 << 10, n: 20, wantErr: io.ErrUnexpectedEOF}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(iotest.HalfReader(bytes.NewReader(data)), tt.limit)
			for i, r := range tt.reads {
				if r.stop {
					f.StopKeeping()
				}
				p := make([]byte, r.n)
				n, err := f.ReadAt(p, r.off)
				if !errors.Is(err, tt.reads[i].wantErr) || (err == nil) != (r.wantErr == nil) {
					t.Fatalf("read %d (%d bytes at %d): error %v, want %v", i, r.n, r.off, err, r.wantErr)
				}
				want := int(r.n)
				if r.wantErr != nil {
					want = r.short
				}
				if n != want {
					t.Fatalf("read %d: %d bytes, want %d", i, n, want)
				}
				if n > 0 && !bytes.Equal(p[:n], data[r.off:r.off+int64(n)]) {
					t.Fatalf("read %d: wrong bytes at %d", i, r.off)
				}
			}
		})
	}
}

func TestReplay(t *testing.T) {
	data := stream(64 << 10)
	f := New(bytes.NewReader(data), 8192)
	p := make([]byte, 100)
	if _, err := f.ReadAt(p, 5000); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(p, 8100); !errors.Is(err, ErrNotForward) {
		t.Fatalf("read past the keep limit: %v, want ErrNotForward", err)
	}
	r, err := f.Replay()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("replay: %d bytes, error %v; want the whole stream of %d bytes", len(got), err, len(data))
	}

	f = New(bytes.NewReader(data), 8192)
	f.StopKeeping()
	if _, err := f.Replay(); !errors.Is(err, ErrNotForward) {
		t.Fatalf("replay after StopKeeping: %v, want ErrNotForward", err)
	}
}

func TestStreamError(t *testing.T) {
	boom := errors.New("connection reset")
	f := New(io.MultiReader(bytes.NewReader(stream(1000)), iotest.ErrReader(boom)), 1<<20)
	p := make([]byte, 100)
	if _, err := f.ReadAt(p, 950); !errors.Is(err, boom) {
		t.Fatalf("read across the failure: %v, want %v", err, boom)
	}
	if _, err := f.ReadAt(p, 0); err != nil {
		t.Fatalf("kept bytes after the failure: %v", err)
	}
	r, _ := f.Replay()
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Fatalf("replay: %v, want %v at the end", err, boom)
	}
}
