package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Result tells how a successful install went.
type Result struct {
	Accel   Accel // accelerator used: kvm or tcg
	Reboots int   // guest resets before the final power-off

	lastReset int64 // QMP time of the last RESET event, in microseconds
}

// resetBurst is how close RESET events must follow each other to count as one reboot: a Linux guest
// that asks for a reset by ACPI goes on to the keyboard controller when the first reset is not
// immediate, which under TCG on a busy host it is not, and QEMU reports both.
const resetBurst = 2 * time.Second

// Install boots installISO in a QEMU VM with disk (an existing raw file or block device) attached
// and returns when the guest powers itself off. A reset beyond the allowed reboots, a crash, QEMU
// exiting on its own, the timeout or ctx ending is an error naming the cause.
func Install(ctx context.Context, disk, installISO string, opts ...Option) (Result, error) {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	if err := checkInputs(c, map[string]string{"install ISO": installISO, "target disk": disk}); err != nil {
		return Result{}, err
	}
	res, err := start(ctx, c, machine{disk: disk, installISO: installISO, goal: "power off"})
	if err != nil {
		return res, err
	}
	return res, syncDisk(disk)
}

// machine is what one QEMU run boots and waits for.
type machine struct {
	disk       string
	installISO string        // empty: boot the disk alone
	snapshot   bool          // guest writes go to a temporary overlay, the disk stays as it was
	marker     *markerWriter // nil: wait for the guest to power off; else until the marker is printed
	goal       string        // what the guest has to do, for the timeout error: "power off"
}

// start runs QEMU once for m and returns how it went; errors carry the last console line.
func start(ctx context.Context, c config, m machine) (Result, error) {
	accel, err := resolveAccel(c.accel, KVMUsable)
	if err != nil {
		return Result{}, err
	}
	work, cleanup, err := workDir(c.workDir)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	p, stopTPM, err := prepare(ctx, c, work, m)
	if err != nil {
		return Result{}, err
	}
	defer stopTPM()
	console := &tailBuffer{max: 4096}
	outputs := []io.Writer{console}
	if c.console != nil {
		outputs = append(outputs, c.console)
	}
	if c.serialLog != "" {
		log, err := os.Create(c.serialLog)
		if err != nil {
			return Result{}, fmt.Errorf("create serial log: %w", err)
		}
		defer log.Close()
		outputs = append(outputs, log)
	}
	var found <-chan struct{}
	if m.marker != nil {
		outputs, found = append(outputs, m.marker), m.marker.found
	}
	res, err := run(ctx, c, accel, p, io.MultiWriter(outputs...), m.goal, found)
	if err != nil {
		if tail := lastLine(console.String()); tail != "" {
			err = fmt.Errorf("%w (last console line: %q)", err, tail)
		}
	}
	return res, err
}

// checkInputs stats files (what -> path), the CDs, the firmware and QEMU itself.
func checkInputs(c config, files map[string]string) error {
	for i, cd := range c.cdroms {
		files[fmt.Sprintf("CD %d", i+1)] = cd
	}
	if c.firmware == FirmwareUEFI {
		files["OVMF code"], files["OVMF variables"] = c.ovmfCode, c.ovmfVars
	}
	for what, f := range files {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if _, err := exec.LookPath(c.binary); err != nil {
		return fmt.Errorf("QEMU: %w (install qemu-system-x86)", err)
	}
	return nil
}

func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o700)
	}
	dir, err := os.MkdirTemp("", "goldimage-qemu-")
	if err != nil {
		return "", nil, fmt.Errorf("create work directory: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// prepare copies the UEFI variables, starts swtpm and fills in the paths QEMU needs.
func prepare(ctx context.Context, c config, work string, m machine) (paths, func(), error) {
	p := paths{installISO: m.installISO, disk: m.disk, snapshot: m.snapshot, workDir: work,
		qmpSocket: filepath.Join(work, "qmp.sock")}
	if c.firmware == FirmwareUEFI {
		p.ovmfVars = filepath.Join(work, "OVMF_VARS.fd")
		if err := copyFile(c.ovmfVars, p.ovmfVars); err != nil {
			return p, nil, fmt.Errorf("copy UEFI variables: %w", err)
		}
	}
	if !c.tpm {
		return p, func() {}, nil
	}
	sock, stop, err := startSWTPM(ctx, c.swtpm, work)
	p.tpmSocket = sock
	return p, stop, err
}

// run starts QEMU and follows its QMP events until the guest powers off, or until found is closed.
func run(ctx context.Context, c config, accel Accel, p paths, console io.Writer, goal string, found <-chan struct{}) (Result, error) {
	res := Result{Accel: accel}
	cmd := exec.Command(c.binary, args(c, accel, p)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+p.workDir) // where snapshot=on puts its overlay
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = console, stderr
	vm, err := startProcess(cmd)
	if err != nil {
		return res, fmt.Errorf("start QEMU: %w", err)
	}
	defer vm.stop(10 * time.Second)
	q, err := dialQMP(ctx, p.qmpSocket, vm.done)
	if err != nil {
		return res, fmt.Errorf("%w%s", err, stderr.summary())
	}
	defer q.conn.Close()
	events := make(chan qmpMessage, 16)
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := q.next()
			if err != nil {
				readErr <- err
				close(events)
				return
			}
			if m.Event != "" {
				events <- m
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = q.execute("quit")
			return res, fmt.Errorf("guest did not %s in time: %w", goal, context.Cause(ctx))
		case <-found:
			_ = q.execute("quit")
			return res, waitQuit(vm, stderr)
		case m, ok := <-events:
			if !ok {
				err := <-readErr
				return res, fmt.Errorf("QEMU exited before the guest powered off: %v%s", err, stderr.summary())
			}
			done, err := handleEvent(m, c.maxReboots, &res)
			if err != nil {
				_ = q.execute("quit")
				return res, err
			}
			if done {
				return res, waitExit(vm, stderr)
			}
		}
	}
}

// handleEvent decides what a QMP event means for the install: done, go on, or failed.
func handleEvent(m qmpMessage, maxReboots int, res *Result) (bool, error) {
	switch m.Event {
	case "SHUTDOWN":
		d, err := m.shutdown()
		if err != nil {
			return false, err
		}
		switch {
		case d.Guest && d.Reason == "guest-shutdown":
			return true, nil
		case d.Reason == "guest-reset":
			return false, errors.New("guest rebooted instead of powering off (it failed, or allow reboots)")
		case d.Reason == "guest-panic":
			return false, errors.New("guest kernel panicked")
		}
		return false, fmt.Errorf("QEMU shut down for %q, not a guest power-off", d.Reason)
	case "RESET":
		if d, err := m.shutdown(); err == nil && d.Guest {
			at, last := m.Timestamp.micros(), res.lastReset
			res.lastReset = at
			if at != 0 && last != 0 && at-last < resetBurst.Microseconds() {
				return false, nil // the same reboot, asked for again
			}
			res.Reboots++
			if res.Reboots > maxReboots {
				return false, fmt.Errorf("guest rebooted %d times, more than the %d allowed", res.Reboots, maxReboots)
			}
		}
	case "GUEST_PANICKED":
		return false, errors.New("guest kernel panicked")
	}
	return false, nil
}

// dialQMP connects to QEMU's QMP socket as soon as QEMU has created it.
func dialQMP(ctx context.Context, sock string, exited <-chan struct{}) (*qmpConn, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			q, err := newQMP(conn)
			if err != nil {
				conn.Close()
				return nil, fmt.Errorf("QMP handshake: %w", err)
			}
			return q, nil
		}
		select {
		case <-exited:
			return nil, errors.New("QEMU exited before opening QMP")
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for QMP socket: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// waitExit waits for QEMU to exit after the guest powered off.
func waitExit(vm *process, stderr *tailBuffer) error {
	select {
	case <-vm.done:
		if vm.err != nil {
			return fmt.Errorf("QEMU exited with %v after guest power-off%s", vm.err, stderr.summary())
		}
		return nil
	case <-time.After(time.Minute):
		return errors.New("QEMU did not exit within a minute of the guest powering off")
	}
}

// waitQuit waits for QEMU to exit after it was told to quit.
func waitQuit(vm *process, stderr *tailBuffer) error {
	select {
	case <-vm.done:
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("QEMU did not quit within a minute%s", stderr.summary())
	}
}

// process is a started command whose exit is observed once, by a goroutine.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the command has exited
	err  error         // Wait's result, valid after done
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop waits up to grace for the process to exit by itself, then kills it.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func syncDisk(disk string) error {
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open target disk to sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync target disk: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// lastLine returns the last line of console output that is not a kernel message ("[    3.17] ..."),
// or the last line when all are.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r", "")), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "[") {
			return l
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// summary is ": <last line of QEMU's stderr>", or empty.
func (t *tailBuffer) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(bytes.ReplaceAll(t.buf, []byte("\r"), nil)))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	return ": " + lines[len(lines)-1]
}
