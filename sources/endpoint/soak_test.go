package endpoint

import (
	"context"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestEveryVisibleVersionExactlyOnce is the acceptance test: a 20,000-alert backlog,
// then live arrivals, updates of old alerts and late indexing over many polls. Every version
// that a poll could see is exported, none twice, and nothing else.
func TestEveryVisibleVersionExactlyOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("long")
	}
	f := newFixture(t, setup{lookback: "10m"})
	now := f.Clock.Now()
	f.ep.Generate(20000, sim.EndpointGenerate{From: now.Add(-23 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 2500}))

	seen := map[string]bool{} // msg IDs of every version visible at the start of some poll
	note := func() {
		for id, ts := range f.visible() {
			if ts.After(now.Add(-24 * time.Hour)) {
				seen[msgID(id, ts)] = true
			}
		}
	}
	late := []time.Duration{0, 0, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}
	for i := range 40 {
		note()
		e.MustPoll(t)
		f.Clock.Advance(time.Minute)
		f.ep.Generate(25, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Minute), To: f.Clock.Now(), VisibleAfter: late[i%len(late)]})
		f.ep.UpdateRandom(15, late[(i+2)%len(late)])
	}
	// Quiet time: everything gets indexed, and two polls take it in.
	f.Clock.Advance(6 * time.Minute)
	for range 2 {
		note()
		e.MustPoll(t)
	}

	if d := e.Duplicates(); len(d) > 0 {
		t.Errorf("%d versions exported twice, e.g. %v", len(d), d[:min(5, len(d))])
	}
	missing := 0
	for id := range seen {
		if e.Got[id] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("visible version %s never exported", id)
			}
		}
	}
	extra := 0
	for id := range e.Got {
		if !seen[id] {
			extra++
		}
	}
	if missing+extra > 0 {
		t.Errorf("%d visible versions missing, %d exported that no poll could see", missing, extra)
	}
	t.Logf("%d versions exported in %d requests", len(e.Got), len(f.Requests(Name)))
}

// TestBacklogThroughFaults: a whole backlog read while the API answers 10 % of requests with a
// 5xx, 5 % with a 429, and some slowly or truncated. Polls that run out of retries fail with
// their checkpoint unchanged; polling on, every version arrives (repeats after a failed poll are
// JetStream's to drop: same message IDs).
func TestBacklogThroughFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(3000, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	f.ep.SetFaultRates(sim.FaultRates{ServerError: 0.10, Throttle: 0.05, Slow: 0.03, Truncate: 0.03, SlowDelay: 50 * time.Millisecond})
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 100}))
	failed := 0
	for i := 0; i < 40; i++ {
		if err := e.Poll(context.Background()); err != nil {
			failed++
			continue
		}
		if len(e.Missing(Name, f.visible())) == 0 {
			break
		}
	}
	if m := e.Missing(Name, f.visible()); len(m) > 0 {
		t.Fatalf("%d versions never exported after 40 polls (%d failed)", len(m), failed)
	}
	st := f.Calls.Statuses()
	if st[429] == 0 || st[500]+st[503] == 0 {
		t.Errorf("calls by status %v: the faults did not happen", st)
	}
	t.Logf("%d polls failed; calls by status %v", failed, st)
}
