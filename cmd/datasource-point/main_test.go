package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunRejectsBadUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: datasource-point"},
		{[]string{"--name", "win11"}, "usage: datasource-point"},
		{[]string{"--name", "win11", "--pvc-name", "disk", "--kubeconfig", "/nonexistent"}, "load Kubernetes client configuration"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) error %v, want %q", tt.args, err, tt.want)
		}
	}
}
