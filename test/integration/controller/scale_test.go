package controller

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestScaleCrons creates 1,000 crons over 20 images at once and counts the registry's manifest requests for
// their first poll: polls of one image in one tick share a request. It reports the heap of this process,
// which holds the controller and its caches. GOLDIMAGE_SCALE_CRONS overrides the number of crons.
func TestScaleCrons(t *testing.T) {
	crons, images := 1000, 20
	if n, err := strconv.Atoi(os.Getenv("GOLDIMAGE_SCALE_CRONS")); err == nil && n > 0 {
		crons = n
	}
	ctx := context.Background()
	ns := namespace(t, "scale")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	digests := map[string]string{}
	for i := range images {
		repo := fmt.Sprintf("os/image%02d:latest", i)
		digests["docker://"+reg.Ref(repo)] = pushDisk(t, reg, repo)
	}
	reg.Reset()
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(16)
	for i := range crons {
		url := "docker://" + reg.Ref(fmt.Sprintf("os/image%02d:latest", i%images))
		g.Go(func() error { return k8s.Create(ctx, newCron(ns, fmt.Sprintf("img-%04d", i), url, 3)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("create crons: %v", err)
	}
	created := time.Since(start)
	eventually(t, "every cron polled", func() (bool, string) {
		var list cdiv1.DataImportCronList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		polled := 0
		for _, c := range list.Items {
			d := c.Annotations[cdiconst.AnnSourceDesiredDigest]
			if d != "" && d != digests[*c.Spec.Template.Spec.Source.Registry.URL] {
				t.Fatalf("cron %s polled digest %s, want %s", c.Name, d, digests[*c.Spec.Template.Spec.Source.Registry.URL])
			}
			if d != "" {
				polled++
			}
		}
		return polled == crons, fmt.Sprintf("%d of %d crons polled", polled, crons)
	})
	requests := manifestRequests(reg)
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	t.Logf("%d crons over %d images: %d manifest requests for the first tick (%.2f per cron); heap in use %d MiB, sys %d MiB; "+
		"created in %v, all polled after %v", crons, images, requests, float64(requests)/float64(crons), mem.HeapInuse>>20, mem.Sys>>20,
		created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	// The heap holds the controller, its informer caches, the test's client and the in-process registry:
	// 43 MiB when this bound was set. Three times that means something now grows with the crons' count.
	const heapBound = 128 << 20
	if mem.HeapInuse > heapBound {
		t.Errorf("heap in use %d MiB with %d crons, want at most %d MiB", mem.HeapInuse>>20, crons, heapBound>>20)
	}
	if requests > images {
		t.Errorf("%d manifest requests for %d crons over %d images in one share window, want at most %d: identical polls are not shared",
			requests, crons, images, images)
	}
}

func manifestRequests(s *registrytest.Server) int {
	return s.Count("HEAD", registrytest.KindManifest) + s.Count("GET", registrytest.KindManifest)
}
