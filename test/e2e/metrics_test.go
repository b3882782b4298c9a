//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// controllerMetricsPort is where config/manager has the cron-controller serve /metrics.
const controllerMetricsPort = 8080

// expectOutdated waits until the controller reports kubevirt_cdi_dataimportcron_outdated = value for the
// cron in namespace ns. The host reaches the controller pod directly on the pod bridge.
func expectOutdated(t *testing.T, c *cluster, ns, value string) {
	t.Helper()
	label := fmt.Sprintf(`ns="%s"`, ns)
	waitFor(t, cdiconst.MetricCronOutdated+" "+value+" for "+ns, time.Minute, func() (bool, string, error) {
		lines, err := controllerMetrics(c, cdiconst.MetricCronOutdated)
		if err != nil {
			return false, err.Error(), nil
		}
		for _, l := range lines {
			if strings.Contains(l, label) && strings.HasSuffix(l, " "+value) {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("samples %q", lines), nil
	})
}

// controllerMetrics returns the sample lines of metric from the running cron-controller pod.
func controllerMetrics(c *cluster, metric string) ([]string, error) {
	var pods corev1.PodList
	if err := c.Client.List(context.Background(), &pods,
		client.MatchingLabels{"app.kubernetes.io/name": "cron-controller"}); err != nil {
		return nil, fmt.Errorf("list cron-controller pods: %w", err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		return scrape(fmt.Sprintf("http://%s:%d/metrics", p.Status.PodIP, controllerMetricsPort), metric)
	}
	return nil, fmt.Errorf("no running cron-controller pod")
}

func scrape(url, metric string) ([]string, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), metric+"{") {
			lines = append(lines, sc.Text())
		}
	}
	return lines, sc.Err()
}
