// Command coredns is CoreDNS (github.com/coredns/coredns, version pinned in go.mod) compiled with only the
// plugins that Kubernetes' own CoreDNS addon manifest (cluster/addons/dns/coredns in k8s.io/kubernetes) uses,
// as CoreDNS documents for compile-time plugin selection. The e2e cluster runs it as its cluster DNS, so that
// pods reach Services by name (hack/cluster/up.sh).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives are the plugins above in the order of CoreDNS's plugin.cfg, which decides the order in which a query
// passes through them.
var directives = []string{
	"reload", "ready", "health", "prometheus", "errors", "log", "loadbalance", "cache", "kubernetes", "loop", "forward",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
