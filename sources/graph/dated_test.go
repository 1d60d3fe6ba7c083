package graph

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/simulator"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestVersionDatedWrongDoesNotMoveCursor: an alert whose lastUpdateDateTime is 2099 is exported
// once, and the cursor stays at the service's clock — its Date header, or this machine's clock
// when the Date is missing or wrong (before, a missing Date left the cursor unbounded) — so
// every alert after it is still exported.
func TestVersionDatedWrongDoesNotMoveCursor(t *testing.T) {
	t.Parallel()
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		date func(now time.Time) string // nil: the service's clock
	}{
		{name: "2099"},
		{name: "2099 with the Date header missing", date: func(time.Time) string { return "" }},
		{name: "2099 with a wrong Date in 2099", date: func(time.Time) string { return y2099.Add(time.Hour).Format(http.TimeFormat) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sourcetest.Setup{})
			f.Sim.SetDateHeader(c.date)
			var held sourcetest.HeldLog
			e := sourcetest.NewExporter(t, f.source(Options{HeldBack: held.Add}))
			f.g.Generate(5, simulator.GraphGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			created := f.Clock.Now().Add(-time.Minute)
			f.g.Put(simulator.GraphAlert{ID: "da2099", ProviderAlertID: "da2099", Title: "dated 2099", Status: "new", Severity: "high",
				Classification: "unknown", Determination: "unknown", ServiceSource: "microsoftDefenderForEndpoint",
				DetectionSource: "microsoftDefenderForEndpoint", CreatedDateTime: &created, LastUpdateDateTime: &y2099}, time.Time{})
			for range 5 {
				e.MustPoll(t)
				if limit := f.Clock.Now().Add(sources.Ahead); e.Saved.Cursor.After(limit) {
					t.Fatalf("cursor %v passed the service's clock plus a minute (%v)", e.Saved.Cursor, limit)
				}
				f.Clock.Advance(time.Minute)
				f.g.Generate(3, simulator.GraphGenerate{}) // alerts after it are still exported
			}
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
	url := f.Hostile(t, "GET /v1.0/security/alerts_v2", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[
			{"id":"da2026_next","lastUpdateDateTime":%q,"severity":"low","title":"the next one"},
			{"id":"da1601_zero","lastUpdateDateTime":"1601-01-01T00:00:00Z","severity":"high","title":"zero date"},
			{"id":"da1601_broken","lastUpdateDateTime":"1601-01-01T00:00:00Z","severity":7}]}`, next.Format(time.RFC3339Nano))
	})
	var held sourcetest.HeldLog
	s := f.Tenant.Graph
	s.APIURL = url
	src := New(f.Tenant, s, f.API(Name, s), Options{Now: f.Clock.Now, HeldBack: held.Add})
	e := sourcetest.NewExporter(t, src)
	e.MustPoll(t)
	e.MustPoll(t)
	zero := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []struct {
		id string
		t  time.Time
	}{{"da1601_zero", zero}, {"da1601_broken", zero}, {"da2026_next", next}} {
		if n := e.Got[envelope.MsgID("contoso", Name, v.id, v.t)]; n != 1 {
			t.Errorf("%s handed over %d times, want once", v.id, n)
		}
	}
	if len(e.Dead) != 1 {
		t.Errorf("%d dead letters, want the broken one", len(e.Dead))
	}
	if !e.Saved.Cursor.Equal(next) {
		t.Errorf("cursor = %v, want the next alert's %v", e.Saved.Cursor, next)
	}
	if n := held.Count(sources.HeldAncient); n != 2 {
		t.Errorf("held back (before 2000) %d times, want 2", n)
	}
}
