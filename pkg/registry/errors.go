package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error kinds; test with errors.Is. NotFound, Unauthorized, InvalidDisk and InvalidReference are fatal.
var (
	ErrNotFound         = errors.New("not found")                     // repository, tag, manifest or blob does not exist
	ErrUnauthorized     = errors.New("unauthorized")                  // credentials missing, wrong or lacking permission
	ErrRetryable        = errors.New("temporary failure")             // 429, 5xx or a network error: a later attempt may succeed
	ErrInvalidDisk      = errors.New("invalid containerDisk")         // the image does not hold exactly one regular file under /disk/
	ErrInvalidReference = errors.New("invalid image reference")       // the reference cannot be parsed
	ErrDigestMismatch   = errors.New("content does not match digest") // a blob or manifest differs from its digest
)

// IsRetryable reports whether err is temporary (429, 5xx, network) so that a later attempt may succeed.
func IsRetryable(err error) bool { return errors.Is(err, ErrRetryable) }

// Error is a classified registry failure whose message has been scrubbed of credentials.
type Error struct {
	Kind   error // one of the Err* values, or nil when unclassified
	Status int   // HTTP status code, or 0
	msg    string
	cause  error // context.Canceled or context.DeadlineExceeded when the failure came from the context
}

// Error returns the scrubbed message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind (and a context error) so that errors.Is(err, ErrNotFound) and friends work.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// kindOf maps an error from go-containerregistry or the network to one of the Err* kinds.
func kindOf(err error) (status int, kind error) {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode, kindOfStatus(te.StatusCode, te.Errors)
	}
	for _, k := range []error{ErrNotFound, ErrUnauthorized, ErrRetryable, ErrInvalidDisk, ErrInvalidReference, ErrDigestMismatch} {
		if errors.Is(err, k) {
			return 0, k
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, nil
	}
	if ph := (*plainHTTPError)(nil); errors.As(err, &ph) {
		return 0, nil // configuration, not the network: retrying will not help
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		if isTLSError(err) {
			return 0, nil // certificate problems do not heal by retrying
		}
		return 0, ErrRetryable
	}
	return 0, nil
}

func kindOfStatus(status int, diags []transport.Diagnostic) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return ErrRetryable
	}
	for _, d := range diags {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return ErrNotFound
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return ErrUnauthorized
		case transport.TooManyRequestsErrorCode:
			return ErrRetryable
		}
	}
	return nil
}

// secrets remembers every credential the client has used so errors can be scrubbed of them.
type secrets struct {
	mu   sync.RWMutex
	vals map[string]struct{}
}

func (s *secrets) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string]struct{}{}
	}
	for _, v := range vals {
		if len(v) >= 3 { // scrubbing one- or two-letter strings would mangle messages and hide nothing
			s.vals[v] = struct{}{}
		}
	}
}

func (s *secrets) scrub(msg string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for v := range s.vals {
		msg = strings.ReplaceAll(msg, v, "[redacted]")
	}
	return msg
}

// wrap classifies err and scrubs credentials from its message; nil stays nil.
func (s *secrets) wrap(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Kind: e.Kind, Status: e.Status, cause: e.cause, msg: s.scrub(err.Error())}
	}
	status, kind := kindOf(err)
	out := &Error{Kind: kind, Status: status, msg: s.scrub(err.Error())}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			out.cause = c
		}
	}
	return out
}
