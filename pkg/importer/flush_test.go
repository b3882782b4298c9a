package importer

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestFlusherFlushesUntilStopped(t *testing.T) {
	var calls atomic.Int64
	fl := startFlusher(func() error { calls.Add(1); return nil }, time.Millisecond)
	for deadline := time.Now().Add(time.Minute); calls.Load() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("flush called %d times in a minute, want at least 3", calls.Load())
		}
	}
	if err := fl.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	after := calls.Load()
	time.Sleep(10 * time.Millisecond)
	if got := calls.Load(); got != after {
		t.Errorf("flush called %d more times after Stop returned", got-after)
	}
	if err := fl.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestFlusherKeepsFirstError(t *testing.T) {
	var calls atomic.Int64
	fl := startFlusher(func() error {
		if calls.Add(1) == 2 {
			return syscall.EIO
		}
		return nil
	}, time.Millisecond)
	<-fl.done // it ends by itself on the failure
	if err := fl.Stop(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Stop = %v, want the flush's EIO", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("flush called %d times, want 2 (none after the failure)", n)
	}
}

// A writeback error seen by the flusher is reported once per descriptor, so the final fsync would
// miss it: finish must fail with it and leave nothing at the destination.
func TestFinishReportsFlushFailure(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "disk.img")
	tg, err := openTarget(&Config{Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.abort()
	if err := tg.flush.Stop(); err != nil {
		t.Fatalf("stop the real flusher: %v", err)
	}
	tg.flush = startFlusher(func() error { return syscall.EIO }, time.Millisecond)
	<-tg.flush.done
	if _, err := tg.f.WriteAt([]byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	err = tg.finish(4, false)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("finish = %v, want the flush's EIO", err)
	}
	tg.abort()
	for _, p := range []string{dest, dest + partSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", p, err)
		}
	}
}
