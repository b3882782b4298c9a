package cron

import (
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		polls   bool
		wantErr bool
	}{
		{"", false, false},
		{"0 */12 * * *", true, false},
		{"@hourly", true, false},
		{"* * * *", false, true},
		{"61 * * * *", false, true},
		{"not a schedule", false, true},
		{"0 0 31 2 *", false, true}, // February 31st never comes
		{"TZ=", false, true},        // robfig panics on this; found by FuzzParseSchedule
	} {
		s, err := ParseSchedule(tc.spec)
		if (err != nil) != tc.wantErr || s.Polls() != tc.polls {
			t.Errorf("ParseSchedule(%q) = polls %v, err %v; want polls %v, error %v", tc.spec, s.Polls(), err, tc.polls, tc.wantErr)
		}
	}
}

func TestPollDue(t *testing.T) {
	hourly, _ := ParseSchedule("0 * * * *")
	base := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		s     Schedule
		last  time.Time
		now   time.Time
		force bool
		want  bool
	}{
		{"never polled", hourly, time.Time{}, base, false, true},
		{"never polled, no schedule", Schedule{}, time.Time{}, base, false, true},
		{"no schedule after first poll", Schedule{}, base, base.Add(48 * time.Hour), false, false},
		{"forced without schedule", Schedule{}, base, base.Add(time.Minute), true, true},
		{"before next fire", hourly, base, base.Add(29 * time.Minute), false, false},
		{"at next fire", hourly, base, base.Add(30 * time.Minute), false, true},
		{"long after", hourly, base, base.Add(5 * time.Hour), false, true},
	} {
		if got := PollDue(tc.s, tc.last, tc.now, tc.force); got != tc.want {
			t.Errorf("%s: PollDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRequeueAfter(t *testing.T) {
	hourly, _ := ParseSchedule("0 * * * *")
	now := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
	if got := RequeueAfter(Schedule{}, now, now, "a", time.Minute); got != 0 {
		t.Errorf("no schedule: RequeueAfter = %v, want 0", got)
	}
	for _, tc := range []struct {
		name string
		last time.Time
	}{
		{"polled now", now},
		{"never polled", time.Time{}},
		{"missed fire", now.Add(-3 * time.Hour)},
	} {
		seen := map[time.Duration]bool{}
		for _, key := range []string{"ns/a", "ns/b", "ns/c", "ns/d"} {
			got := RequeueAfter(hourly, tc.last, now, key, time.Minute)
			if got < 30*time.Minute || got >= 31*time.Minute {
				t.Errorf("%s: RequeueAfter(%s) = %v, want in [30m, 31m)", tc.name, key, got)
			}
			if again := RequeueAfter(hourly, tc.last, now, key, time.Minute); again != got {
				t.Errorf("%s: jitter of %s not stable: %v then %v", tc.name, key, got, again)
			}
			seen[got] = true
		}
		if len(seen) < 2 {
			t.Errorf("%s: four keys got the same jitter", tc.name)
		}
	}
}
