//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	goldscheme "github.com/goldimage/goldimage/internal/scheme"
)

// cluster is the running e2e cluster as the tests see it.
type cluster struct {
	Client       client.Client
	Kube         kubernetes.Interface // for what controller-runtime's client does not do (pod logs)
	Gateway      string               // host address on the pod bridge
	StorageClass string               // no-provisioner class with pre-created PVs
}

// connect builds a client from KUBECONFIG (set by hack/e2e.sh) and skips when no cluster is configured.
func connect(t *testing.T) *cluster {
	t.Helper()
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("KUBECONFIG unset: run the e2e tests with `make e2e`")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", kubeconfig, err)
	}
	scheme, err := goldscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client for %s: %v", cfg.Host, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset for %s: %v", cfg.Host, err)
	}
	return &cluster{Client: c, Kube: kube, Gateway: envOr("GOLDIMAGE_POD_GATEWAY", "10.88.0.1"),
		StorageClass: envOr("GOLDIMAGE_STORAGE_CLASS", "goldimage-local")}
}

// namespace creates a uniquely named namespace, deleted when the test passes (kept for inspection otherwise).
func (c *cluster) namespace(t *testing.T, prefix string) string {
	t.Helper()
	suffix := make([]byte, 3)
	rand.Read(suffix)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + hex.EncodeToString(suffix)}}
	if err := c.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			c.Client.Delete(context.Background(), ns)
		}
	})
	return ns.Name
}

// waitFor polls check every second until it returns done or the timeout passes; then it fails the test with
// what check last reported. The timeout bounds a hung run; it is not a speed assertion.
func waitFor(t *testing.T, what string, timeout time.Duration, check func() (done bool, state string, err error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	for {
		done, s, err := check()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if done {
			return
		}
		state = s
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s; last state: %s", what, timeout, state)
		}
		time.Sleep(time.Second)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// eventsAbout lists the messages of events in ns about objects of the given kinds.
func (c *cluster) eventsAbout(ns string, kinds ...string) ([]string, error) {
	var list corev1.EventList
	if err := c.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list events in %s: %w", ns, err)
	}
	var msgs []string
	for _, e := range list.Items {
		for _, k := range kinds {
			if e.InvolvedObject.Kind == k {
				msgs = append(msgs, fmt.Sprintf("%s %s/%s %s: %s", e.Type, k, e.InvolvedObject.Name, e.Reason, strings.TrimSpace(e.Message)))
			}
		}
	}
	return msgs, nil
}
