package datavolume

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/goldimage/goldimage/pkg/contract"
)

// ProgressReader reads an importer pod's progress in percent.
type ProgressReader interface {
	Progress(ctx context.Context, pod *corev1.Pod) (float64, error)
}

// HTTPProgress scrapes the progress gauge from the importer pod's metrics endpoint.
type HTTPProgress struct {
	Port   int          // metrics port; 0 means contract.ProgressPort
	Client *http.Client // nil means a client with a 5s timeout
}

// Progress fetches http://<pod IP>:<port>/metrics and returns the value of contract.ProgressMetric.
func (h HTTPProgress) Progress(ctx context.Context, pod *corev1.Pod) (float64, error) {
	if pod.Status.PodIP == "" {
		return 0, fmt.Errorf("importer pod %s has no IP yet", pod.Name)
	}
	port := h.Port
	if port == 0 {
		port = contract.ProgressPort
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)) + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("progress of %s: %w", pod.Name, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("progress of %s: %w", pod.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("progress of %s: %s returned %s", pod.Name, url, resp.Status)
	}
	return parseProgress(io.LimitReader(resp.Body, 1<<20))
}

// parseProgress finds the first sample of contract.ProgressMetric in Prometheus text format.
func parseProgress(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, contract.ProgressMetric) {
			continue
		}
		rest := line[len(contract.ProgressMetric):]
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("malformed metric line %q", line)
			}
			rest = rest[end+1:]
		} else if !strings.HasPrefix(rest, " ") {
			continue // a longer metric name sharing the prefix
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("metric line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		if math.IsNaN(v) {
			return 0, fmt.Errorf("metric line %q: value is NaN", line)
		}
		return min(max(v, 0), 100), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	return 0, fmt.Errorf("no %s sample", contract.ProgressMetric)
}
