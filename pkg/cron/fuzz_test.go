package cron

import (
	"testing"
	"time"
)

// FuzzParseSchedule checks that any schedule text either fails with an error or yields fire times that move
// forward, and that RequeueAfter never goes negative.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{"", "0 */12 * * *", "@hourly", "@every 90s", "5 4 * * sun", "0 0 31 2 *", "TZ=UTC 0 * * * *"} {
		f.Add(seed)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err != nil {
			return
		}
		if next := s.Next(now); s.Polls() && !next.IsZero() && !next.After(now) {
			t.Fatalf("schedule %q: next fire %v is not after %v", spec, next, now)
		}
		if d := RequeueAfter(s, now.Add(-time.Hour), now, spec, time.Second); d < 0 {
			t.Fatalf("schedule %q: negative requeue %v", spec, d)
		}
	})
}

// FuzzDecide checks Decide's invariants on arbitrary cron states: the DataSource only points at succeeded
// imports, protected imports and imports without an import time are never deleted, garbageCollect Never
// deletes nothing but a failed import being retried, and creates are named after the newest digest.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(2), true, false)
	f.Add([]byte{0, 2, 2, 1, 3, 3, 0, 0, 0}, uint8(1), false, true)
	digests := []string{"", d1, d2, d3, d4}
	phases := []Phase{PhasePending, PhaseRunning, PhaseSucceeded, PhaseFailed}
	f.Fuzz(func(t *testing.T, b []byte, keep uint8, gc, retry bool) {
		in := Input{Source: "fedora", Keep: int(keep % 5), GarbageCollect: gc, Retry: retry}
		if len(b) > 0 {
			in.Digest = digests[int(b[0])%len(digests)]
			b = b[1:]
		}
		seen := map[string]bool{}
		for ; len(b) >= 3; b = b[3:] {
			d := digests[1+int(b[0])%(len(digests)-1)]
			im := Import{Name: ImportName("fedora", d), Digest: d, Phase: phases[int(b[1])%len(phases)]}
			if im.Phase == PhaseSucceeded && b[2]%4 != 0 {
				im.ImportTime = t0.Add(time.Duration(b[2]) * time.Minute)
			}
			if !seen[im.Name] {
				seen[im.Name] = true
				in.Imports = append(in.Imports, im)
			}
			if b[2]%7 == 0 {
				in.DataSourceAt = im.Name
			}
		}
		p := Decide(in)
		byName := map[string]Import{}
		for _, im := range in.Imports {
			byName[im.Name] = im
		}
		if p.PointAt != "" && byName[p.PointAt].Phase != PhaseSucceeded {
			t.Fatalf("PointAt %s is not a succeeded import: %+v", p.PointAt, in)
		}
		if p.Create != nil && (in.Digest == "" || p.Create.Name != ImportName("fedora", in.Digest)) {
			t.Fatalf("Create %+v for digest %q", p.Create, in.Digest)
		}
		for _, name := range p.Delete {
			im, ok := byName[name]
			retried := p.Create != nil && p.Create.Name == name && im.Phase == PhaseFailed && in.Retry
			switch {
			case !ok:
				t.Fatalf("Delete names unknown import %s", name)
			case retried:
			case !in.GarbageCollect:
				t.Fatalf("garbageCollect Never deleted %s", name)
			case name == p.PointAt || name == in.DataSourceAt:
				t.Fatalf("deleted the DataSource target %s: %+v", name, in)
			case im.Phase == PhaseSucceeded && im.ImportTime.IsZero():
				t.Fatalf("deleted %s without an import time", name)
			}
		}
	})
}
