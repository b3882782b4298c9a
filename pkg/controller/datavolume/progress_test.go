package datavolume

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/goldimage/goldimage/pkg/contract"
)

// TestHTTPProgress scrapes a metrics endpoint on loopback standing in for the importer pod.
func TestHTTPProgress(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "# TYPE %s counter\n%s{ownerUID=\"u\"} 33.5\n", contract.ProgressMetric, contract.ProgressMetric)
	}))
	defer srv.Close()
	_, portText, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portText)
	reader := HTTPProgress{Port: port}
	pod := &corev1.Pod{Status: corev1.PodStatus{PodIP: "127.0.0.1"}}
	pod.Name = "importer-x"

	if got, err := reader.Progress(context.Background(), pod); err != nil || got != 33.5 {
		t.Errorf("Progress = %v, %v; want 33.5", got, err)
	}
	status = http.StatusServiceUnavailable
	if _, err := reader.Progress(context.Background(), pod); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Progress from a failing endpoint: err = %v, want one naming the status", err)
	}
	if _, err := reader.Progress(context.Background(), &corev1.Pod{}); err == nil || !strings.Contains(err.Error(), "no IP") {
		t.Errorf("Progress of a pod without IP: err = %v", err)
	}
}
