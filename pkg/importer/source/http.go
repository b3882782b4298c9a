package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is an unexpected HTTP status from a source server.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	switch e.Code {
	case http.StatusNotFound:
		return fmt.Sprintf("%s: not found (HTTP 404)", e.URL)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("%s: access denied (HTTP %d), check the credentials", e.URL, e.Code)
	case http.StatusPreconditionFailed:
		return fmt.Sprintf("%s: %v (HTTP 412: the ETag no longer matches)", e.URL, ErrSourceChanged)
	}
	return fmt.Sprintf("%s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Is makes a 412 (the If-Match validator no longer matches) an ErrSourceChanged.
func (e *StatusError) Is(target error) bool {
	return target == ErrSourceChanged && e.Code == http.StatusPreconditionFailed
}

// ErrSourceChanged is a source whose content changed between two requests of one import. A rerun
// of the whole import may succeed; retrying the request may not, so it is retryable but not retried.
var ErrSourceChanged = errors.New("source changed during download")

// Fatal reports whether a rerun cannot help: client errors other than timeouts and rate limits.
func (e *StatusError) Fatal() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout &&
		e.Code != http.StatusTooManyRequests && e.Code != http.StatusPreconditionFailed
}

// httpSource holds what every request to one URL shares.
type httpSource struct {
	url     string
	display string // url without credentials or query
	client  *http.Client
	o       *options
	etag    string // strong ETag pinning the content across requests, empty when the server sends none
	lastMod string // Last-Modified of the first response, the If-Range validator when there is no ETag
	size    int64
	ranges  bool
}

func openHTTP(ctx context.Context, loc location, o *options) (*Image, error) {
	rt, err := o.httpTransport()
	if err != nil {
		return nil, err
	}
	u := loc.u
	display := u.Scheme + "://" + u.Host + u.Path
	s := &httpSource{url: loc.raw, display: display, client: &http.Client{Transport: rt}, o: o, size: -1}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	im := &Image{Name: display, Size: s.size, open: s.stream}
	if s.ranges && s.size > 0 {
		im.At = newBlockCache(ctx, s, o)
	}
	return im, nil
}

// newRequest builds a GET or HEAD with the configured headers, auth and validator.
func (s *httpSource) newRequest(ctx context.Context, method string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url, nil)
	if err != nil {
		return nil, Fatal(fmt.Errorf("build request for %s: %w", s.display, err))
	}
	for k, v := range s.o.header {
		req.Header[k] = v
	}
	if s.o.user != "" || s.o.pass != "" {
		req.SetBasicAuth(s.o.user, s.o.pass)
	}
	if s.etag != "" {
		req.Header.Set("If-Match", s.etag)
	}
	return req, nil
}

// probe learns size, range support and validator with a one-byte ranged GET (HEAD is often not routed).
func (s *httpSource) probe(ctx context.Context) error {
	return s.retry(ctx, "probe", func() error {
		req, err := s.newRequest(ctx, http.MethodGet)
		if err != nil {
			return err
		}
		req.Header.Set("Range", "bytes=0-0")
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", s.display, err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusPartialContent:
			s.ranges = true
			s.size = totalFromContentRange(resp.Header.Get("Content-Range"))
		case http.StatusOK:
			s.size = resp.ContentLength
		case http.StatusRequestedRangeNotSatisfiable:
			s.size = 0
		default:
			return &StatusError{URL: s.display, Code: resp.StatusCode}
		}
		s.learnValidator(resp)
		return nil
	})
}

// learnValidator keeps the strong ETag or, without one, the Last-Modified of the first response.
func (s *httpSource) learnValidator(resp *http.Response) {
	if s.etag != "" || s.lastMod != "" {
		return
	}
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		s.etag = et
		return
	}
	s.lastMod = resp.Header.Get("Last-Modified")
}

// setRange asks for bytes [off, end] (end < 0: to the end) of the content the validator pins:
// If-Range makes a server whose object changed answer 200 with the new object instead of splicing.
func (s *httpSource) setRange(req *http.Request, off, end int64) {
	if end < 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	} else {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end))
	}
	switch {
	case s.etag != "":
		req.Header.Set("If-Range", s.etag)
	case s.lastMod != "":
		req.Header.Set("If-Range", s.lastMod)
	}
}

// checkPartial accepts only a 206 whose Content-Range starts at off; a 200 means the object
// changed (If-Range failed) or the server ignored the range, and either would splice other bytes.
func (s *httpSource) checkPartial(resp *http.Response, off int64) error {
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		return fmt.Errorf("%s: %w (asked for bytes from %d, got the whole object: HTTP 200)", s.display, ErrSourceChanged, off)
	default:
		return &StatusError{URL: s.display, Code: resp.StatusCode}
	}
	cr := resp.Header.Get("Content-Range")
	if start, ok := startOfContentRange(cr); !ok || start != off {
		return fmt.Errorf("%s: %w (asked for bytes from %d, got Content-Range %q)", s.display, ErrSourceChanged, off, cr)
	}
	if total := totalFromContentRange(cr); s.size >= 0 && total >= 0 && total != s.size {
		return fmt.Errorf("%s: %w (size was %d, Content-Range %q)", s.display, ErrSourceChanged, s.size, cr)
	}
	return nil
}

// startOfContentRange returns a of "bytes a-b/total".
func startOfContentRange(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil && n >= 0
}

// totalFromContentRange returns the total of "bytes a-b/total", -1 when absent.
func totalFromContentRange(cr string) int64 {
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// retry runs fn until it succeeds, fails fatally, or the retries are spent.
func (s *httpSource) retry(ctx context.Context, what string, fn func() error) error {
	wait := s.o.backoff
	var err error
	for attempt := 0; ; attempt++ {
		err = fn()
		if err == nil || IsFatal(err) || errors.Is(err, ErrSourceChanged) || attempt >= s.o.retries {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w (last error: %v)", what, s.display, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// fetchRange returns bytes [off, off+n) in one ranged request, retrying transient failures.
func (s *httpSource) fetchRange(ctx context.Context, off, n int64) ([]byte, error) {
	var buf []byte
	err := s.retry(ctx, "read", func() error {
		req, err := s.newRequest(ctx, http.MethodGet)
		if err != nil {
			return err
		}
		s.setRange(req, off, off+n-1)
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", s.display, off, err)
		}
		defer resp.Body.Close()
		if err := s.checkPartial(resp, off); err != nil {
			return err
		}
		buf = make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return fmt.Errorf("read %s at %d: %w", s.display, off, err)
		}
		return nil
	})
	return buf, err
}

// stream opens a sequential reader that resumes with a ranged request when the connection drops.
func (s *httpSource) stream(ctx context.Context) (io.ReadCloser, error) {
	r := &resumeReader{s: s, ctx: ctx}
	if err := r.connect(); err != nil {
		return nil, err
	}
	return r, nil
}

// resumeReader reads an http body, reconnecting at the current offset after transient failures.
type resumeReader struct {
	s    *httpSource
	ctx  context.Context
	body io.ReadCloser
	off  int64
}

func (r *resumeReader) connect() error {
	return r.s.retry(r.ctx, "download", func() error {
		req, err := r.s.newRequest(r.ctx, http.MethodGet)
		if err != nil {
			return err
		}
		if r.off > 0 {
			r.s.setRange(req, r.off, -1)
		}
		resp, err := r.s.client.Do(req)
		if err != nil {
			return fmt.Errorf("download %s: %w", r.s.display, err)
		}
		if err := r.check(resp); err != nil {
			resp.Body.Close()
			return err
		}
		r.body = resp.Body
		return nil
	})
}

// check accepts the first response (200) or a resumed one that continues the same content at r.off.
func (r *resumeReader) check(resp *http.Response) error {
	if r.off > 0 {
		return r.s.checkPartial(resp, r.off)
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{URL: r.s.display, Code: resp.StatusCode}
	}
	if lm := resp.Header.Get("Last-Modified"); r.s.etag == "" && r.s.lastMod != "" && lm != "" && lm != r.s.lastMod {
		return fmt.Errorf("%s: %w (Last-Modified %s, was %s)", r.s.display, ErrSourceChanged, lm, r.s.lastMod)
	}
	if r.s.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != r.s.size {
		return fmt.Errorf("%s: %w (%d bytes, were %d)", r.s.display, ErrSourceChanged, resp.ContentLength, r.s.size)
	}
	r.s.learnValidator(resp)
	return nil
}

// Read reads from the body; on a transient failure it reconnects where it stopped if the server supports ranges.
func (r *resumeReader) Read(p []byte) (int, error) {
	for failures := 0; ; failures++ {
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF {
			if err == io.EOF && r.s.size >= 0 && r.off < r.s.size {
				err = io.ErrUnexpectedEOF // server closed early without an error
			} else {
				return n, err
			}
		}
		if n > 0 {
			return n, nil // report progress; the error recurs on the next Read
		}
		if !r.s.ranges || failures >= r.s.o.retries || r.ctx.Err() != nil {
			return 0, fmt.Errorf("download %s at byte %d: %w", r.s.display, r.off, err)
		}
		r.body.Close()
		if cerr := r.connect(); cerr != nil {
			return 0, fmt.Errorf("resume %s at byte %d after %v: %w", r.s.display, r.off, err, cerr)
		}
	}
}

// Close closes the current body.
func (r *resumeReader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
