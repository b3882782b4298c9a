package vm

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func vmWith(status string, created bool) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"printableStatus": status, "created": created}}}
}

func TestVMStopped(t *testing.T) {
	tests := []struct {
		name     string
		polls    []*unstructured.Unstructured
		wantDone bool
		wantErr  string
	}{
		{"stopped before it ever ran", []*unstructured.Unstructured{vmWith("Stopped", false)}, false, ""},
		{"ran then stopped", []*unstructured.Unstructured{vmWith("Provisioning", false), vmWith("Running", true), vmWith("Stopped", false)}, true, ""},
		{"stopped with its VMI kept", []*unstructured.Unstructured{vmWith("Stopped", true)}, true, ""},
		{"still running", []*unstructured.Unstructured{vmWith("Running", true)}, false, ""},
		{"image pull error", []*unstructured.Unstructured{vmWith("ErrImagePull", false)}, false, "cannot start: status ErrImagePull"},
		{"unschedulable", []*unstructured.Unstructured{vmWith("ErrorUnschedulable", false)}, false, "ErrorUnschedulable"},
		{"no status yet", []*unstructured.Unstructured{{Object: map[string]any{}}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			var done bool
			var err error
			for _, p := range tt.polls {
				if done, err = vmStopped(p, &ran); err != nil {
					break
				}
			}
			if done != tt.wantDone || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("done %v err %v; want %v %q", done, err, tt.wantDone, tt.wantErr)
			}
		})
	}
}

func TestDataVolumeDone(t *testing.T) {
	tests := []struct {
		phase    string
		wantDone bool
		wantErr  bool
	}{
		{"Succeeded", true, false}, {"Failed", false, true}, {"ImportInProgress", false, false}, {"", false, false},
	}
	for _, tt := range tests {
		dv := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"phase": tt.phase}}}
		done, err := dataVolumeDone(dv)
		if done != tt.wantDone || (err != nil) != tt.wantErr {
			t.Errorf("phase %q: done %v err %v; want %v, error %v", tt.phase, done, err, tt.wantDone, tt.wantErr)
		}
	}
}
