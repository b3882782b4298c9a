// Package kubeflags gives goldimage's task commands the usual --kubeconfig and --namespace flags,
// falling back to the pod's service account and namespace inside a cluster.
package kubeflags

import (
	"flag"
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Flags are the connection flags of one command.
type Flags struct {
	kubeconfig string
	namespace  string
}

// Register adds --kubeconfig and --namespace to fs.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config, then in-cluster)")
	fs.StringVar(&f.namespace, "namespace", "", "namespace (default the kubeconfig's, or the pod's)")
	return f
}

// Connect returns a dynamic client, its REST config and the namespace to work in.
func (f *Flags) Connect() (dynamic.Interface, *rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("load Kubernetes client configuration: %w", err)
	}
	ns := f.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", fmt.Errorf("find namespace: %w", err)
		}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("create Kubernetes client: %w", err)
	}
	return dyn, cfg, ns, nil
}
