package cron

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// Phase is the coarse state of one import.
type Phase string

// Import phases.
const (
	PhasePending   Phase = "Pending"   // created, importer not running yet
	PhaseRunning   Phase = "Running"   // importer running
	PhaseSucceeded Phase = "Succeeded" // image complete and verified
	PhaseFailed    Phase = "Failed"    // importer gave up; Message says why
)

// Import is one import a cron created (a DataVolume in a cluster, a file in local mode).
type Import struct {
	Name       string    `json:"name"`
	Digest     string    `json:"digest"`
	Phase      Phase     `json:"phase"`
	Message    string    `json:"message,omitempty"`   // failure cause, one line
	ImportTime time.Time `json:"importTime,omitzero"` // when it succeeded; zero when unknown (never deleted by age)
}

// Input is the observed state of one cron.
type Input struct {
	Source            string   // managedDataSource
	Digest            string   // newest digest polled, "" before the first successful poll
	Imports           []Import // imports labelled with this cron
	DataSourceAt      string   // import the DataSource points at now, "" if none
	ForeignDataSource bool     // the DataSource is managed by another cron: leave it alone
	Keep              int      // importsToKeep
	GarbageCollect    bool     // false for garbageCollect Never
	Retry             bool     // forced poll: replace a failed import of Digest
	// Unpollable, when set, is why the source cannot tell whether it changed (an http server without a
	// stable validator); UpToDate reports it instead of the import state, and nothing new is imported.
	Unpollable *Condition
}

// Condition is a computed cron condition.
type Condition struct {
	Status  bool
	Reason  string
	Message string
}

// Plan is what to do for one cron.
type Plan struct {
	Create      *Import   // import to create (Name and Digest set), nil if none
	Delete      []string  // imports to delete, oldest first
	WaitDeleted bool      // Create reuses the name of an import in Delete: create once that one is gone
	PointAt     string    // import the DataSource should point at, "" to leave it as is
	Current     *Import   // the import of Digest, nil if none exists yet
	UpToDate    Condition // DataImportCron UpToDate
	Progressing Condition // DataImportCron Progressing
}

// ImportName is the name of the import of digest for a DataSource: source-<first 12 hex digits>.
func ImportName(source, digest string) string {
	hex := digest
	if i := strings.IndexByte(digest, ':'); i >= 0 {
		hex = digest[i+1:]
	}
	if len(hex) > cdiconst.DigestNameLength {
		hex = hex[:cdiconst.DigestNameLength]
	}
	return source + "-" + hex
}

// Decide computes the plan for one cron from its observed state.
func Decide(in Input) Plan {
	var p Plan
	if in.Digest != "" {
		p.planCurrent(in)
	}
	p.PointAt = pointAt(in, p.Current)
	if in.GarbageCollect {
		p.Delete = append(p.Delete, collect(in, p)...)
	}
	p.UpToDate, p.Progressing = conditions(in, p.Current)
	if in.Unpollable != nil {
		p.UpToDate = *in.Unpollable
		p.UpToDate.Status = false
	}
	return p
}

// planCurrent finds or schedules the import of the newest digest.
func (p *Plan) planCurrent(in Input) {
	name := ImportName(in.Source, in.Digest)
	i := slices.IndexFunc(in.Imports, func(im Import) bool { return im.Name == name })
	if i < 0 {
		p.Create = &Import{Name: name, Digest: in.Digest, Phase: PhasePending}
		return
	}
	cur := in.Imports[i]
	p.Current = &cur
	if cur.Phase == PhaseFailed && in.Retry {
		p.Delete = append(p.Delete, name)
		p.Create = &Import{Name: name, Digest: in.Digest, Phase: PhasePending}
		p.WaitDeleted = true
	}
}

// pointAt picks the DataSource target: the current import once it succeeded, else the present target while it
// is still a succeeded import, else the newest succeeded import.
func pointAt(in Input, cur *Import) string {
	if in.ForeignDataSource {
		return ""
	}
	if cur != nil && cur.Phase == PhaseSucceeded {
		return cur.Name
	}
	var best *Import
	for i := range in.Imports {
		im := &in.Imports[i]
		if im.Phase != PhaseSucceeded {
			continue
		}
		if im.Name == in.DataSourceAt {
			return im.Name
		}
		if best == nil || im.ImportTime.After(best.ImportTime) {
			best = im
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

// collect lists imports to garbage-collect: unfinished or failed imports of older digests, and succeeded
// imports beyond the Keep newest once the current import succeeded. Imports without an import time, the
// DataSource target and the current import are never collected.
func collect(in Input, p Plan) []string {
	protected := map[string]bool{in.DataSourceAt: true, p.PointAt: true}
	if p.Current != nil {
		protected[p.Current.Name] = true
	}
	settled := in.Digest == "" || (p.Current != nil && p.Current.Phase == PhaseSucceeded)
	var done []Import
	var out []string
	for _, im := range in.Imports {
		switch {
		case protected[im.Name] || im.Digest == in.Digest:
		case im.Phase != PhaseSucceeded:
			out = append(out, im.Name)
		case !im.ImportTime.IsZero():
			done = append(done, im)
		}
	}
	if !settled {
		return out
	}
	slices.SortFunc(done, func(a, b Import) int { return b.ImportTime.Compare(a.ImportTime) })
	keep := max(in.Keep, 1) - countKept(in, p)
	for i := len(done) - 1; i >= max(keep, 0); i-- {
		out = append(out, done[i].Name)
	}
	return out
}

// countKept counts the protected succeeded imports, which use up importsToKeep before any other.
func countKept(in Input, p Plan) int {
	n := 0
	for _, im := range in.Imports {
		isProtected := im.Name == in.DataSourceAt || im.Name == p.PointAt || (p.Current != nil && im.Name == p.Current.Name)
		if isProtected && im.Phase == PhaseSucceeded {
			n++
		}
	}
	return n
}

// conditions computes UpToDate and Progressing with CDI's reasons.
func conditions(in Input, cur *Import) (upToDate, progressing Condition) {
	noImport := Condition{Reason: cdiconst.ReasonNoImport, Message: "No current import"}
	switch {
	case in.Digest == "":
		return Condition{Reason: cdiconst.ReasonOutdated, Message: "No source digest polled yet"}, noImport
	case cur == nil:
		return outdated(in.Digest), Condition{Reason: cdiconst.ReasonImportScheduled, Message: "Import is scheduled"}
	}
	switch cur.Phase {
	case PhaseSucceeded:
		return Condition{Status: true, Reason: cdiconst.ReasonUpToDate, Message: "Latest import is up to date"}, noImport
	case PhaseRunning:
		return outdated(in.Digest), Condition{Status: true, Reason: cdiconst.ReasonImportProgressing, Message: "Import is progressing"}
	case PhaseFailed:
		msg := fmt.Sprintf("Import %s failed: %s", cur.Name, cur.Message)
		return outdated(in.Digest), Condition{Reason: cdiconst.ReasonImportFailed, Message: msg}
	}
	return outdated(in.Digest), Condition{Reason: cdiconst.ReasonImportScheduled, Message: "Import is scheduled"}
}

func outdated(digest string) Condition {
	return Condition{Reason: cdiconst.ReasonOutdated, Message: "Import of " + digest + " is not complete"}
}
