package worker

import (
	"fmt"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestSplay: an "@every" schedule fires on its own phase from the start's whole second, an
// interval after it, then every interval; a cron expression is left as it is.
func TestSplay(t *testing.T) {
	start := time.Date(2026, 12, 5, 10, 0, 0, 300_000_000, time.UTC)
	every, err := cron.ParseStandard("@every 1m")
	if err != nil {
		t.Fatal(err)
	}
	s := splay(every, "contoso", "endpoint", start)
	phase := Phase("contoso", "endpoint", time.Minute)
	first := s.Next(start)
	if want := start.Truncate(time.Second).Add(phase + time.Minute); !first.Equal(want) {
		t.Fatalf("first tick %v, want the start's second + phase %v + 1m", first, phase)
	}
	for i, t0 := range []time.Time{first, first.Add(time.Second), first.Add(time.Minute - time.Nanosecond)} {
		if got, want := s.Next(t0), first.Add(time.Minute); !got.Equal(want) {
			t.Errorf("case %d: Next(%v) = %v, want %v", i, t0, got, want)
		}
	}
	if got := s.Next(start.Add(-time.Hour)); !got.Equal(first) {
		t.Errorf("before the start: %v, want the first tick %v", got, first)
	}
	hourly, err := cron.ParseStandard("0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got := splay(hourly, "contoso", "endpoint", start); got != hourly {
		t.Errorf("a cron expression was changed: %#v", got)
	}
}

// TestPhaseSpreadsJobs: the phases of 2,000 jobs at "@every 1m" fill the minute: no second
// holds more than three times its share.
func TestPhaseSpreadsJobs(t *testing.T) {
	perSecond := make([]int, 60)
	for i := range 1000 {
		for _, src := range []string{"endpoint", "cloudapps"} {
			p := Phase(fmt.Sprintf("t%03d", i), src, time.Minute)
			if p < 0 || p >= time.Minute {
				t.Fatalf("phase %v outside the minute", p)
			}
			perSecond[p/time.Second]++
		}
	}
	for s, n := range perSecond {
		if n > 3*2000/60 {
			t.Errorf("second %d holds %d of 2,000 polls", s, n)
		}
	}
	if Phase("a", "b", 0) != 0 {
		t.Error("a zero interval has a phase")
	}
}

// TestFirstDelay: a worker of up to firstPerSecond jobs polls them all at once; with 2,000,
// the first polls are spread over ten seconds, none past the job's interval.
func TestFirstDelay(t *testing.T) {
	if d := firstDelay("contoso", "endpoint", firstPerSecond, time.Minute); d != 0 {
		t.Errorf("%d jobs: first poll after %v, want at once", firstPerSecond, d)
	}
	perSecond := map[time.Duration]int{}
	for i := range 1000 {
		for _, src := range []string{"endpoint", "cloudapps"} {
			d := firstDelay(fmt.Sprintf("t%03d", i), src, 2000, time.Minute)
			if d < 0 || d >= 10*time.Second || d%time.Second != 0 {
				t.Fatalf("first poll after %v, want a whole second under 10 s", d)
			}
			perSecond[d]++
		}
	}
	if len(perSecond) != 10 {
		t.Errorf("first polls in %d distinct seconds, want 10", len(perSecond))
	}
	if d := firstDelay("contoso", "endpoint", 2000, 3*time.Second); d >= 3*time.Second {
		t.Errorf("first poll after %v, past the interval", d)
	}
}
