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
		{nil, "usage: installer-vm"},
		{[]string{"create"}, "create: --manifest is required"},
		{[]string{"wait"}, "wait: --name is required"},
		{[]string{"delete", "--bogus"}, "delete: flag provided but not defined: -bogus"},
		{[]string{"wait", "--name", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"explode", "--name", "x", "--kubeconfig", "/nonexistent"}, "load Kubernetes client configuration"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) error %v, want %q", tt.args, err, tt.want)
		}
	}
}
