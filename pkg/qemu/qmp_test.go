package qemu

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestHandleEvent(t *testing.T) {
	tests := []struct {
		name       string
		line       string
		maxReboots int
		reboots    int
		wantDone   bool
		wantErr    string
	}{
		{"guest power-off", `{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"}}`, 0, 0, true, ""},
		{"reset under -no-reboot", `{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-reset"}}`, 0, 0, false, "guest rebooted instead"},
		{"panic", `{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-panic"}}`, 0, 0, false, "panicked"},
		{"host quit", `{"event":"SHUTDOWN","data":{"guest":false,"reason":"host-qmp-quit"}}`, 0, 0, false, `"host-qmp-quit"`},
		{"shutdown without data", `{"event":"SHUTDOWN"}`, 0, 0, false, "without data"},
		{"allowed reboot", `{"event":"RESET","data":{"guest":true,"reason":"guest-reset"}}`, 2, 1, false, ""},
		{"one reboot too many", `{"event":"RESET","data":{"guest":true,"reason":"guest-reset"}}`, 0, 1, false, "rebooted 1 times, more than the 0 allowed"},
		{"other event", `{"event":"POWERDOWN"}`, 0, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseQMP([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			var res Result
			done, err := handleEvent(m, tt.maxReboots, &res)
			if done != tt.wantDone || res.Reboots != tt.reboots {
				t.Errorf("done %v reboots %d, want %v %d", done, res.Reboots, tt.wantDone, tt.reboots)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestResetBurstCountsOnce feeds the two RESET events a Linux guest's reboot produces under TCG
// (ACPI, then keyboard controller, 49 ms apart) and a later genuine second reboot.
func TestResetBurstCountsOnce(t *testing.T) {
	reset := func(sec, usec int) qmpMessage {
		m, err := parseQMP([]byte(fmt.Sprintf(`{"timestamp":{"seconds":%d,"microseconds":%d},"event":"RESET","data":{"guest":true,"reason":"guest-reset"}}`, sec, usec)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var res Result
	for _, m := range []qmpMessage{reset(100, 708000), reset(100, 757000)} {
		if _, err := handleEvent(m, 1, &res); err != nil {
			t.Fatalf("reset burst: %v", err)
		}
	}
	if res.Reboots != 1 {
		t.Fatalf("reboots after one burst = %d, want 1", res.Reboots)
	}
	if _, err := handleEvent(reset(130, 0), 1, &res); err == nil || res.Reboots != 2 {
		t.Fatalf("a reboot 30 s later: reboots %d, error %v; want 2 and the too-many error", res.Reboots, err)
	}
}

func TestParseQMPRejects(t *testing.T) {
	for _, line := range []string{"", "{", `{"foo":1}`, `[]`, `{"event":""}`} {
		if _, err := parseQMP([]byte(line)); err == nil {
			t.Errorf("parseQMP(%q) accepted", line)
		}
	}
}

// TestQMPHandshake speaks QMP's greeting and negotiation from an in-process peer.
func TestQMPHandshake(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		server.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}` + "\r\n"))
		if line, _ := r.ReadString('\n'); !strings.Contains(line, `"qmp_capabilities"`) {
			server.Write([]byte(`{"error": {"class": "GenericError", "desc": "expected qmp_capabilities"}}` + "\r\n"))
			return
		}
		server.Write([]byte(`{"event": "RTC_CHANGE", "data": {"offset": 0}}` + "\r\n{\"return\": {}}\r\n"))
		server.Write([]byte(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}` + "\r\n"))
	}()
	q, err := newQMP(client)
	if err != nil {
		t.Fatal(err)
	}
	m, err := q.next()
	if err != nil || m.Event != "SHUTDOWN" {
		t.Fatalf("next() = %+v, %v; want the SHUTDOWN event", m, err)
	}
	if _, err := q.next(); err == nil {
		t.Fatal("next() after the peer closed returned no error")
	}
}

func FuzzParseQMP(f *testing.F) {
	for _, s := range []string{
		`{"QMP": {"version": {}, "capabilities": []}}`,
		`{"return": {}}`,
		`{"error": {"class": "GenericError", "desc": "x"}}`,
		`{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"}}`,
		`{"event":"RESET","data":{"guest":true,"reason":"guest-reset"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := parseQMP(line)
		if err != nil {
			return
		}
		var res Result
		_, _ = handleEvent(m, 1, &res)
	})
}
