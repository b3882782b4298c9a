package cron

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	d4 = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func done(d string, hour int) Import {
	return Import{Name: ImportName("fedora", d), Digest: d, Phase: PhaseSucceeded, ImportTime: t0.Add(time.Duration(hour) * time.Hour)}
}

func in(d string, phase Phase) Import {
	return Import{Name: ImportName("fedora", d), Digest: d, Phase: phase, Message: "no disk under /disk/"}
}

func TestImportName(t *testing.T) {
	for _, tc := range []struct{ source, digest, want string }{
		{"fedora", d1, "fedora-111111111111"},
		{"x", "sha256:abc", "x-abc"},
		{"x", "0123456789abcdef", "x-0123456789ab"},
	} {
		if got := ImportName(tc.source, tc.digest); got != tc.want {
			t.Errorf("ImportName(%q, %q) = %q, want %q", tc.source, tc.digest, got, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	n := func(d string) string { return ImportName("fedora", d) }
	for _, tc := range []struct {
		name        string
		in          Input
		create      string
		wait        bool
		delete      []string
		pointAt     string
		upToDate    bool
		upReason    string
		progReason  string
		progressing bool
	}{
		{name: "no digest yet", in: Input{},
			upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonNoImport},
		{name: "first digest creates import", in: Input{Digest: d1},
			create: n(d1), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportScheduled},
		{name: "import running", in: Input{Digest: d1, Imports: []Import{in(d1, PhaseRunning)}},
			upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportProgressing, progressing: true},
		{name: "first import succeeded points DataSource",
			in:      Input{Digest: d1, Imports: []Import{done(d1, 1)}, Keep: 3, GarbageCollect: true},
			pointAt: n(d1), upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "new digest keeps DataSource on old until success",
			in:      Input{Digest: d2, Imports: []Import{done(d1, 1), in(d2, PhaseRunning)}, DataSourceAt: n(d1), Keep: 3, GarbageCollect: true},
			pointAt: n(d1), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportProgressing, progressing: true},
		{name: "gc keeps importsToKeep newest after success",
			in: Input{Digest: d4, DataSourceAt: n(d3), Keep: 2, GarbageCollect: true,
				Imports: []Import{done(d1, 1), done(d2, 2), done(d3, 3), done(d4, 4)}},
			delete: []string{n(d1), n(d2)}, pointAt: n(d4), upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "gc ordered by import time, not name",
			in: Input{Digest: d1, DataSourceAt: n(d1), Keep: 2, GarbageCollect: true,
				Imports: []Import{done(d1, 9), done(d2, 1), done(d3, 5)}},
			delete: []string{n(d2)}, pointAt: n(d1), upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "gc never deletes an import without import time",
			in: Input{Digest: d3, DataSourceAt: n(d3), Keep: 1, GarbageCollect: true,
				Imports: []Import{{Name: n(d1), Digest: d1, Phase: PhaseSucceeded}, done(d2, 2), done(d3, 3)}},
			delete: []string{n(d2)}, pointAt: n(d3), upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "gc waits while the newest import runs",
			in: Input{Digest: d4, DataSourceAt: n(d3), Keep: 1, GarbageCollect: true,
				Imports: []Import{done(d1, 1), done(d2, 2), done(d3, 3), in(d4, PhasePending)}},
			pointAt: n(d3), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportScheduled},
		{name: "garbageCollect Never keeps everything",
			in: Input{Digest: d3, DataSourceAt: n(d2), Keep: 1,
				Imports: []Import{done(d1, 1), done(d2, 2), done(d3, 3)}},
			pointAt: n(d3), upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "failed import reported, DataSource stays",
			in:      Input{Digest: d2, DataSourceAt: n(d1), Keep: 3, GarbageCollect: true, Imports: []Import{done(d1, 1), in(d2, PhaseFailed)}},
			pointAt: n(d1), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportFailed},
		{name: "forced poll replaces failed import",
			in:     Input{Digest: d2, Retry: true, DataSourceAt: n(d1), Keep: 3, GarbageCollect: true, Imports: []Import{done(d1, 1), in(d2, PhaseFailed)}},
			create: n(d2), wait: true, delete: []string{n(d2)}, pointAt: n(d1), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportFailed},
		{name: "new digest replaces failed import",
			in: Input{Digest: d3, DataSourceAt: n(d1), Keep: 3, GarbageCollect: true,
				Imports: []Import{done(d1, 1), in(d2, PhaseFailed)}},
			create: n(d3), delete: []string{n(d2)}, pointAt: n(d1), upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportScheduled},
		{name: "superseded running import deleted",
			in:     Input{Digest: d3, Keep: 3, GarbageCollect: true, Imports: []Import{in(d2, PhaseRunning)}},
			create: n(d3), delete: []string{n(d2)}, upReason: cdiconst.ReasonOutdated, progReason: cdiconst.ReasonImportScheduled},
		{name: "foreign DataSource left alone",
			in:       Input{Digest: d1, ForeignDataSource: true, Keep: 3, GarbageCollect: true, Imports: []Import{done(d1, 1)}},
			upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
		{name: "http server without validator: reported, nothing imported",
			in:       Input{Unpollable: &Condition{Status: true, Reason: cdiconst.ReasonNoValidator, Message: "sends neither"}},
			upReason: cdiconst.ReasonNoValidator, progReason: cdiconst.ReasonNoImport},
		{name: "unstable validator after an import: DataSource and GC as before",
			in: Input{Digest: d2, DataSourceAt: n(d2), Keep: 1, GarbageCollect: true, Imports: []Import{done(d1, 1), done(d2, 2)},
				Unpollable: &Condition{Reason: cdiconst.ReasonUnstableValidator}},
			delete: []string{n(d1)}, pointAt: n(d2), upReason: cdiconst.ReasonUnstableValidator, progReason: cdiconst.ReasonNoImport},
		{name: "datasource target kept even when old",
			in: Input{Digest: d3, DataSourceAt: n(d1), Keep: 1, GarbageCollect: true, ForeignDataSource: true,
				Imports: []Import{done(d1, 1), done(d2, 2), done(d3, 3)}},
			delete: []string{n(d2)}, upToDate: true, upReason: cdiconst.ReasonUpToDate, progReason: cdiconst.ReasonNoImport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Source = "fedora"
			p := Decide(tc.in)
			create := ""
			if p.Create != nil {
				create = p.Create.Name
				if p.Create.Digest != tc.in.Digest {
					t.Errorf("Create.Digest = %q, want %q", p.Create.Digest, tc.in.Digest)
				}
			}
			if create != tc.create || p.WaitDeleted != tc.wait {
				t.Errorf("Create = %q (wait %v), want %q (wait %v)", create, p.WaitDeleted, tc.create, tc.wait)
			}
			if !slices.Equal(p.Delete, tc.delete) {
				t.Errorf("Delete = %q, want %q", p.Delete, tc.delete)
			}
			if p.PointAt != tc.pointAt {
				t.Errorf("PointAt = %q, want %q", p.PointAt, tc.pointAt)
			}
			if p.UpToDate.Status != tc.upToDate || p.UpToDate.Reason != tc.upReason {
				t.Errorf("UpToDate = %+v, want %v %s", p.UpToDate, tc.upToDate, tc.upReason)
			}
			if p.Progressing.Status != tc.progressing || p.Progressing.Reason != tc.progReason {
				t.Errorf("Progressing = %+v, want %v %s", p.Progressing, tc.progressing, tc.progReason)
			}
		})
	}
}

func TestFailedImportMessageInCondition(t *testing.T) {
	p := Decide(Input{Source: "fedora", Digest: d2, Imports: []Import{in(d2, PhaseFailed)}})
	if want := "no disk under /disk/"; !strings.Contains(p.Progressing.Message, want) {
		t.Errorf("Progressing message %q does not carry the cause %q", p.Progressing.Message, want)
	}
}
