package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// startSWTPM runs a TPM 2.0 emulator whose control socket QEMU connects to; it exits when QEMU does.
func startSWTPM(ctx context.Context, binary, work string) (string, func(), error) {
	state := filepath.Join(work, "tpm")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return "", func() {}, fmt.Errorf("create TPM state directory: %w", err)
	}
	sock := filepath.Join(work, "swtpm.sock")
	cmd := exec.Command(binary, "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--ctrl", "type=unixio,path="+sock, "--terminate")
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	tpm, err := startProcess(cmd)
	if err != nil {
		return "", func() {}, fmt.Errorf("start swtpm: %w (install swtpm)", err)
	}
	stop := func() { tpm.stop(5 * time.Second) }
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock, stop, nil
		}
		select {
		case <-tpm.done:
			return "", func() {}, fmt.Errorf("swtpm exited: %v%s", tpm.err, stderr.summary())
		case <-ctx.Done():
			stop()
			return "", func() {}, fmt.Errorf("wait for swtpm socket: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}
