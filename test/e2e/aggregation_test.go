//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAggregationLayer checks what extension API servers such as KubeVirt's virt-api need from the cluster
// before they start: kube-apiserver publishes its front proxy's CA and allowed names in the
// extension-apiserver-authentication ConfigMap (virt-api refuses to start without requestheader-client-ca-file).
func TestAggregationLayer(t *testing.T) {
	c := connect(t)
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: "kube-system", Name: "extension-apiserver-authentication"}
	if err := c.Client.Get(context.Background(), key, cm); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if ca := cm.Data["requestheader-client-ca-file"]; !strings.Contains(ca, "BEGIN CERTIFICATE") {
		t.Errorf("requestheader-client-ca-file = %q, want the front proxy's CA", ca)
	}
	if names := cm.Data["requestheader-allowed-names"]; !strings.Contains(names, "front-proxy-client") {
		t.Errorf("requestheader-allowed-names = %q, want front-proxy-client", names)
	}
}
