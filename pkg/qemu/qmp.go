package qemu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
)

// qmpMessage is one line QEMU sends on its QMP monitor: the greeting, a command reply or an event.
type qmpMessage struct {
	Greeting json.RawMessage `json:"QMP,omitempty"`
	Return   json.RawMessage `json:"return,omitempty"`
	Error    *qmpError       `json:"error,omitempty"`
	Event    string          `json:"event,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	// Timestamp is when QEMU emitted an event (zero on other messages).
	Timestamp qmpTimestamp `json:"timestamp,omitzero"`
}

// qmpTimestamp is QEMU's event time: seconds and microseconds since the Unix epoch.
type qmpTimestamp struct {
	Seconds      int64 `json:"seconds"`
	Microseconds int64 `json:"microseconds"`
}

// micros returns the timestamp in microseconds, 0 when QEMU sent none.
func (t qmpTimestamp) micros() int64 { return t.Seconds*1_000_000 + t.Microseconds }

type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

// shutdownData is the payload of SHUTDOWN and RESET events.
type shutdownData struct {
	Guest  bool   `json:"guest"`  // the guest asked for it (ACPI power-off, reset)
	Reason string `json:"reason"` // e.g. guest-shutdown, guest-reset, guest-panic, host-qmp-quit
}

// maxQMPLine bounds one QMP message; QEMU's events and replies are far smaller.
const maxQMPLine = 1 << 20

// parseQMP decodes one QMP line.
func parseQMP(line []byte) (qmpMessage, error) {
	var m qmpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return qmpMessage{}, fmt.Errorf("decode QMP message: %w", err)
	}
	if m.Greeting == nil && m.Return == nil && m.Error == nil && m.Event == "" {
		return qmpMessage{}, fmt.Errorf("QMP message is neither greeting, reply nor event: %.80s", line)
	}
	return m, nil
}

// shutdown decodes the data of a SHUTDOWN or RESET event.
func (m qmpMessage) shutdown() (shutdownData, error) {
	var d shutdownData
	if len(m.Data) == 0 {
		return d, fmt.Errorf("%s event without data", m.Event)
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, fmt.Errorf("decode %s event: %w", m.Event, err)
	}
	return d, nil
}

// qmpConn is a QMP session after capability negotiation.
type qmpConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// newQMP reads the greeting and leaves negotiation mode.
func newQMP(conn net.Conn) (*qmpConn, error) {
	q := &qmpConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	m, err := q.next()
	if err != nil {
		return nil, fmt.Errorf("read QMP greeting: %w", err)
	}
	if m.Greeting == nil {
		return nil, errors.New("QMP peer sent no greeting")
	}
	if err := q.execute("qmp_capabilities"); err != nil {
		return nil, err
	}
	for {
		m, err := q.next()
		if err != nil {
			return nil, fmt.Errorf("read qmp_capabilities reply: %w", err)
		}
		if m.Error != nil {
			return nil, fmt.Errorf("qmp_capabilities: %s", m.Error.Desc)
		}
		if m.Return != nil {
			return q, nil
		}
	}
}

// execute sends a command without waiting for its reply.
func (q *qmpConn) execute(cmd string) error {
	b, _ := json.Marshal(map[string]string{"execute": cmd})
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send QMP %s: %w", cmd, err)
	}
	return nil
}

// next reads one message.
func (q *qmpConn) next() (qmpMessage, error) {
	var line []byte
	for {
		chunk, isPrefix, err := q.r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return qmpMessage{}, io.ErrUnexpectedEOF
			}
			return qmpMessage{}, err
		}
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return qmpMessage{}, fmt.Errorf("QMP message longer than %d bytes", maxQMPLine)
		}
		if !isPrefix {
			return parseQMP(line)
		}
	}
}
