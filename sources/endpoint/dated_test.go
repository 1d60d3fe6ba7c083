package endpoint

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestVersionDatedWrongDoesNotMoveCursor: an alert dated 2099 is exported once, and the cursor
// stays at the service's clock (its Date header, or this machine's clock when the Date is
// missing or wrong), so every alert after it is still exported.
func TestVersionDatedWrongDoesNotMoveCursor(t *testing.T) {
	t.Parallel()
	for _, c := range sourcetest.DateCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			f.Sim.SetDateHeader(c.Date)
			var held sourcetest.HeldLog
			e := sourcetest.NewExporter(t, f.newSource(Options{HeldBack: held.Add}))
			f.ep.Generate(5, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			created, y2099 := f.Clock.Now().Add(-time.Minute), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
			f.ep.Put(sim.EndpointAlert{ID: "da639999999999999999_2099", Severity: "High", Status: "New", Title: "dated 2099",
				AlertCreationTime: &created, LastUpdateTime: &y2099}, f.Clock.Now())
			// Alerts after it are still exported.
			e.PollUnderTheClock(t, f.Clock, 5, func() { f.ep.Generate(3, sim.EndpointGenerate{}) })
			e.MustPoll(t)
			e.CheckExactlyOnce(t, Name, f.visible())
			if n := held.Count(sources.HeldFuture); n != 1 {
				t.Errorf("held back (future) %d times, want once", n)
			}
		})
	}
}

// TestVersionDated1601DoesNotMoveCursor: Windows' zero date, sent by an API that does not filter
// as documented, once in an alert and once in an alert that cannot be decoded (a dead letter
// with that version): both are exported, neither wraps through UnixNano into 2185 and carries
// the cursor, and the next alert is exported.
func TestVersionDated1601DoesNotMoveCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	stamp := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	next := now.Add(-time.Minute) // the alert after it
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[
			{"id":"da1601_zero","lastUpdateTime":"1601-01-01T00:00:00Z","severity":"High","title":"zero date"},
			{"id":"da1601_broken","lastUpdateTime":"1601-01-01T00:00:00Z","severity":7},
			{"id":"da2026_next","lastUpdateTime":%q,"severity":"Low","title":"the next one"}]}`, stamp(next))
	})
	var held sourcetest.HeldLog
	e := sourcetest.NewExporter(t, f.hostile(t, answer, Options{HeldBack: held.Add}))
	e.MustPoll(t)
	e.MustPoll(t)
	e.CheckZeroDate(t, Name, &held, [2]string{"da1601_zero", "da1601_broken"}, "da2026_next", next)
}

// TestStrayIsSavedWhenTheCursorStays: a poll whose only new version is a stray (dated 2099),
// its message already handed over in a full batch, saves its checkpoint all the same — before,
// nothing marked it changed, the stray was never saved, and every poll exported it again.
func TestStrayIsSavedWhenTheCursorStays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	e := sourcetest.NewExporter(t, f.newSource(Options{BatchSize: 1}))
	f.ep.Generate(3, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now().Add(-time.Minute)})
	e.MustPoll(t)
	created, y2099 := f.Clock.Now().Add(-time.Minute), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	f.ep.Put(sim.EndpointAlert{ID: "da639999999999999999_2099", Severity: "High", Status: "New", Title: "dated 2099",
		AlertCreationTime: &created, LastUpdateTime: &y2099}, f.Clock.Now())
	for range 3 {
		e.MustPoll(t)
	}
	e.CheckExactlyOnce(t, Name, f.visible())
	if !e.Saved.Strays.Has("da639999999999999999_2099", y2099) {
		t.Errorf("the checkpoint's strays are %v, want the 2099 version", e.Saved.Strays)
	}
}

// TestClockBehindThenFixed: while this machine's clock is a day behind the API's (and so
// counts, being the earlier), every new version is held back: exported once, the cursor stays.
// Once the clock is right again the versions still read become ordinary ones: the cursor moves
// past them and the checkpoint forgets them — before, they stayed strays for as long as they
// were read, and the cursor never moved.
func TestClockBehindThenFixed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	local := f.Clock.Skewed(-24 * time.Hour)
	var held sourcetest.HeldLog
	e := sourcetest.NewExporter(t, f.newSource(Options{Now: local.Now, HeldBack: held.Add}))
	f.ep.Generate(5, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now().Add(-2 * time.Minute)})
	e.MustPoll(t)
	origin := e.Saved.Origin
	f.Clock.Advance(time.Minute)
	f.ep.Generate(5, sim.EndpointGenerate{})
	e.MustPoll(t)
	if n := held.Count(sources.HeldFuture); n == 0 || !e.Saved.Cursor.IsZero() || e.Saved.Strays.Len() != n {
		t.Fatalf("with the clock a day behind: %d held back, cursor %v, %d strays; want them all held, no cursor", n, e.Saved.Cursor, e.Saved.Strays.Len())
	}
	local.Fix()
	f.Clock.Advance(time.Minute)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if !e.Saved.Cursor.After(origin) || e.Saved.Strays.Len() != 0 {
		t.Errorf("once the clock is right: cursor %v (origin %v), strays %v; want the cursor moved and no strays", e.Saved.Cursor, origin, e.Saved.Strays)
	}
}
