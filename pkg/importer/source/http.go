package source

import (
	"context"
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
		return fmt.Sprintf("%s: changed on the server during the import (HTTP 412)", e.URL)
	}
	return fmt.Sprintf("%s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

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
	etag    string // validator pinning the content across requests, empty when the server sends none
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
		if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			s.etag = et
		}
		return nil
	})
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
		if err = fn(); err == nil || IsFatal(err) || attempt >= s.o.retries {
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
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", s.display, off, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent {
			return &StatusError{URL: s.display, Code: resp.StatusCode}
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
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", r.off))
		}
		resp, err := r.s.client.Do(req)
		if err != nil {
			return fmt.Errorf("download %s: %w", r.s.display, err)
		}
		want := http.StatusOK
		if r.off > 0 {
			want = http.StatusPartialContent
		}
		if resp.StatusCode != want {
			resp.Body.Close()
			return &StatusError{URL: r.s.display, Code: resp.StatusCode}
		}
		r.body = resp.Body
		return nil
	})
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
