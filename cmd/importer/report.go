package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/term"

	"github.com/goldimage/goldimage/pkg/contract"
)

// reporter publishes progress as a Prometheus gauge (percent) and, on a terminal, as a bar on stderr.
type reporter struct {
	gauge  prometheus.Gauge
	server *http.Server
	bar    io.Writer // nil: no bar

	mu       sync.Mutex
	lastDraw time.Time
	start    time.Time
}

// newReporter starts the metrics server when an address is given.
func newReporter(f *flags, stderr io.Writer) (*reporter, error) {
	r := &reporter{start: time.Now()}
	vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: contract.ProgressMetric,
		Help: "Import progress in percent of the virtual size."}, []string{"ownerUID"})
	r.gauge = vec.WithLabelValues(f.diskID)
	if f.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(vec)
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("serve metrics on %s: %w", f.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		r.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(stderr, "importer: metrics server: %v\n", err)
			}
		}()
	}
	if f.progress == "always" || (f.progress == "auto" && isTerminal(stderr)) {
		r.bar = stderr
	}
	return r, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress records bytes done of total (total -1 while unknown).
func (r *reporter) progress(done, total int64) {
	if total > 0 {
		r.gauge.Set(100 * float64(done) / float64(total))
	}
	if r.bar == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastDraw) >= 200*time.Millisecond || done == total {
		r.lastDraw = now
		fmt.Fprint(r.bar, "\r"+bar(done, total, now.Sub(r.start)))
	}
}

// bar renders one progress line.
func bar(done, total int64, elapsed time.Duration) string {
	rate := float64(done) / max(elapsed.Seconds(), 0.001) / (1 << 20)
	if total <= 0 {
		return fmt.Sprintf("%8.1f MiB  %6.1f MiB/s", float64(done)/(1<<20), rate)
	}
	const width = 30
	fill := int(width * done / total)
	return fmt.Sprintf("[%s%s] %3d%%  %8.1f MiB  %6.1f MiB/s", strings.Repeat("#", fill), strings.Repeat(" ", width-fill),
		100*done/total, float64(done)/(1<<20), rate)
}

// done finishes the bar line and sets the gauge to 100 on success.
func (r *reporter) done(ok bool) {
	if ok {
		r.gauge.Set(100)
	}
	if r.bar != nil {
		fmt.Fprintln(r.bar)
	}
}

// close stops the metrics server.
func (r *reporter) close() {
	if r.server != nil {
		r.server.Close()
	}
}
