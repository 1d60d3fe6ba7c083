package endpoint

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/simulator"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestVersionDatedWrongDoesNotMoveCursor: an alert dated 2099 is exported once, and the cursor
// stays at the service's clock (its Date header, or this machine's clock when the Date is
// missing or wrong), so every alert after it is still exported.
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
		{name: "2099 with a wrong Date at the Unix epoch", date: func(time.Time) string { return time.Unix(0, 0).UTC().Format(http.TimeFormat) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			f.Sim.SetDateHeader(c.date)
			var held sourcetest.HeldLog
			e := sourcetest.NewExporter(t, f.newSource(Options{HeldBack: held.Add}))
			f.ep.Generate(5, simulator.Generate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			created := f.Clock.Now().Add(-time.Minute)
			f.ep.Put(simulator.EndpointAlert{ID: "da639999999999999999_2099", Severity: "High", Status: "New", Title: "dated 2099",
				AlertCreationTime: &created, LastUpdateTime: &y2099}, f.Clock.Now())
			for range 5 {
				e.MustPoll(t)
				if limit := f.Clock.Now().Add(sources.Ahead); e.Saved.Cursor.After(limit) {
					t.Fatalf("cursor %v passed the service's clock plus a minute (%v)", e.Saved.Cursor, limit)
				}
				f.Clock.Advance(time.Minute)
				f.ep.Generate(3, simulator.Generate{}) // alerts after it are still exported
			}
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
	url := f.Hostile(t, "GET /api/alerts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[
			{"id":"da1601_zero","lastUpdateTime":"1601-01-01T00:00:00Z","severity":"High","title":"zero date"},
			{"id":"da1601_broken","lastUpdateTime":"1601-01-01T00:00:00Z","severity":7},
			{"id":"da2026_next","lastUpdateTime":%q,"severity":"Low","title":"the next one"}]}`, stamp(next))
	})
	var held sourcetest.HeldLog
	s := f.Tenant.Endpoint
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
		if n := e.Got[msgID(v.id, v.t)]; n != 1 {
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
