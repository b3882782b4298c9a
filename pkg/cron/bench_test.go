package cron

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// BenchmarkTick polls 1,000 crons over 20 images through the shared Poller and, as the anchor measured in the
// same run, through one registry client without sharing across ticks (rate limit off for both); it reports
// registry requests per tick and the wall-time ratio shared/anchor.
func BenchmarkTick(b *testing.B) {
	const crons, images = 1000, 20
	reg := registrytest.New(b, registrytest.WithAuth(registrytest.Anonymous))
	refs := make([]string, images)
	for i := range refs {
		refs[i] = fmt.Sprintf("os/image%02d:latest", i)
		pushDisk(b, reg, refs[i])
		refs[i] = reg.Ref(refs[i])
	}
	tick := func(digest func(ref string) error) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range crons {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := digest(refs[i%images]); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	ctx := context.Background()
	unlimited := registry.WithRateLimit(0, 0) // the anchor would otherwise mostly measure the client's rate limit
	var anchor, shared time.Duration
	var anchorReq, sharedReq int
	for range b.N {
		client, err := RegistryResolvers(b.TempDir(), unlimited)(Credentials{})
		if err != nil {
			b.Fatal(err)
		}
		reg.Reset()
		start := time.Now()
		tick(func(ref string) error { _, err := client.Digest(ctx, ref); return err })
		anchor += time.Since(start)
		anchorReq += manifestRequests(reg)

		p := NewPoller(RegistryResolvers(b.TempDir(), unlimited))
		reg.Reset()
		start = time.Now()
		tick(func(ref string) error { _, err := p.Digest(ctx, ref, Credentials{}); return err })
		shared += time.Since(start)
		sharedReq += manifestRequests(reg)
	}
	b.ReportMetric(float64(sharedReq)/float64(b.N), "requests/tick")
	b.ReportMetric(float64(anchorReq)/float64(b.N), "anchor-requests/tick")
	b.ReportMetric(float64(shared)/float64(anchor), "time-ratio")
}
