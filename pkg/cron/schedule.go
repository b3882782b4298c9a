package cron

import (
	"fmt"
	"hash/fnv"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// Schedule is a parsed DataImportCron schedule; the zero Schedule never fires (no polling).
type Schedule struct {
	spec  string
	sched robfig.Schedule
}

// ParseSchedule parses a standard five-field cron expression or descriptor (@hourly); "" means no polling.
func ParseSchedule(spec string) (Schedule, error) {
	if spec == "" {
		return Schedule{}, nil
	}
	s, err := parseStandard(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("parse schedule %q: %w", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return Schedule{}, fmt.Errorf("schedule %q never fires", spec)
	}
	return Schedule{spec: spec, sched: s}, nil
}

// parseStandard calls robfig's parser, turning its panics on malformed input (e.g. "TZ=") into errors.
func parseStandard(spec string) (s robfig.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("malformed schedule (%v)", p)
		}
	}()
	return robfig.ParseStandard(spec)
}

// Polls reports whether the schedule fires at all.
func (s Schedule) Polls() bool { return s.sched != nil }

// Next returns the first fire time after t, or the zero time when the schedule never fires.
func (s Schedule) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(t)
}

// PollDue reports whether a cron last polled at last (zero: never) should poll now: always when forced or
// never polled, otherwise when the schedule fired since last.
func PollDue(s Schedule, last, now time.Time, force bool) bool {
	switch {
	case force, last.IsZero():
		return true
	case !s.Polls():
		return false
	}
	return !s.Next(last).After(now)
}

// RequeueAfter is how long to wait from now until the next fire after last, plus a jitter in [0, maxJitter)
// derived from key so that crons sharing a schedule spread out but each keeps a stable offset. It returns 0
// when the schedule never fires.
func RequeueAfter(s Schedule, last, now time.Time, key string, maxJitter time.Duration) time.Duration {
	if !s.Polls() {
		return 0
	}
	if last.IsZero() || last.After(now) {
		last = now
	}
	next := s.Next(last)
	if !next.After(now) {
		next = s.Next(now)
	}
	if next.IsZero() {
		return 0 // no fire time within robfig's five-year search
	}
	wait := next.Sub(now)
	if maxJitter > 0 {
		h := fnv.New64a()
		h.Write([]byte(key))
		wait += time.Duration(h.Sum64() % uint64(maxJitter))
	}
	return wait
}
