package graph

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestVersionDatedWrongDoesNotMoveCursor: an alert whose lastUpdateDateTime is 2099 is exported
// once, and the cursor stays at the service's clock — its Date header, or this machine's clock
// when the Date is missing or wrong (before, a missing Date left the cursor unbounded) — so
// every alert after it is still exported.
func TestVersionDatedWrongDoesNotMoveCursor(t *testing.T) {
	t.Parallel()
	for _, c := range sourcetest.DateCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sourcetest.Setup{})
			f.Sim.SetDateHeader(c.Date)
			var held sourcetest.HeldLog
			e := sourcetest.NewExporter(t, f.source(Options{HeldBack: held.Add}))
			f.g.Generate(5, sim.GraphGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			created, y2099 := f.Clock.Now().Add(-time.Minute), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
			f.g.Put(sim.GraphAlert{ID: "da2099", ProviderAlertID: "da2099", Title: "dated 2099", Status: "new", Severity: "high",
				Classification: "unknown", Determination: "unknown", ServiceSource: "microsoftDefenderForEndpoint",
				DetectionSource: "microsoftDefenderForEndpoint", CreatedDateTime: &created, LastUpdateDateTime: &y2099}, time.Time{})
			// Alerts after it are still exported.
			e.PollUnderTheClock(t, f.Clock, 5, func() { f.g.Generate(3, sim.GraphGenerate{}) })
			e.MustPoll(t)
			e.CheckExactlyOnce(t, Name, f.visible())
			if n := held.Count(sources.HeldFuture); n != 1 {
				t.Errorf("held back (future) %d times, want once", n)
			}
		})
	}
}

// TestVersionDated1601IsExported: an API that does not filter as documented sends, for
// lastUpdateDateTime ≥ the cursor, an alert dated Windows' zero date (1601) and a dead letter
// with that version. Before, the pass skipped them in silence; now both are exported once, and
// neither moves the cursor.
func TestVersionDated1601IsExported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	next := f.Clock.Now().Add(-time.Minute)
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[
			{"id":"da2026_next","lastUpdateDateTime":%q,"severity":"low","title":"the next one"},
			{"id":"da1601_zero","lastUpdateDateTime":"1601-01-01T00:00:00Z","severity":"high","title":"zero date"},
			{"id":"da1601_broken","lastUpdateDateTime":"1601-01-01T00:00:00Z","severity":7}]}`, next.Format(time.RFC3339Nano))
	})
	var held sourcetest.HeldLog
	e := sourcetest.NewExporter(t, f.hostile(t, answer, Options{HeldBack: held.Add}))
	e.MustPoll(t)
	e.MustPoll(t)
	e.CheckZeroDate(t, Name, &held, [2]string{"da1601_zero", "da1601_broken"}, "da2026_next", next)
}

// TestClockBehindThenFixed: while this machine's clock is a day behind the API's Date, every
// new version is held back (exported once, the cursor stays); once it is right again, the
// versions still read become ordinary ones, the cursor moves past them and the strays go.
func TestClockBehindThenFixed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	local := f.Clock.Skewed(-24 * time.Hour)
	e := sourcetest.NewExporter(t, f.source(Options{Now: local.Now}))
	f.g.Generate(5, sim.GraphGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now().Add(-2 * time.Minute)})
	e.MustPoll(t)
	if !e.Saved.Cursor.IsZero() || e.Saved.Strays.Len() == 0 {
		t.Fatalf("with the clock a day behind: cursor %v, %d strays; want every version held", e.Saved.Cursor, e.Saved.Strays.Len())
	}
	local.Fix()
	f.Clock.Advance(time.Minute)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if e.Saved.Cursor.IsZero() || e.Saved.Strays.Len() != 0 {
		t.Errorf("once the clock is right: cursor %v, strays %v; want the cursor moved and no strays", e.Saved.Cursor, e.Saved.Strays)
	}
}
