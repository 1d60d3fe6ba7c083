package cloudapps

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

// TestVersionDatedWrongDoesNotMoveCursors: an alert closed with a resolveTime in 2099, and one
// raised in 2099, are each exported once, and neither cursor follows them past the service's clock (its Date header, or this machine's
// clock when the Date is missing or wrong), so every alert raised and closed after them is still
// exported.
func TestVersionDatedWrongDoesNotMoveCursors(t *testing.T) {
	t.Parallel()
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		change func(a *simulator.CloudAppsAlert)
		reason string
		date   func(now time.Time) string // nil: the service's clock
	}{
		{name: "future resolveTime", change: closeAt(y2099), reason: sources.HeldFuture},
		{name: "raised in 2099", change: func(a *simulator.CloudAppsAlert) { a.Timestamp = y2099 }, reason: sources.HeldFuture},
		{name: "future resolveTime, Date header missing", change: closeAt(y2099), reason: sources.HeldFuture,
			date: func(time.Time) string { return "" }},
		{name: "future resolveTime, wrong Date in 2099", change: closeAt(y2099), reason: sources.HeldFuture,
			date: func(time.Time) string { return y2099.Add(time.Hour).Format(http.TimeFormat) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sourcetest.Setup{})
			f.Sim.SetDateHeader(c.date)
			var held sourcetest.HeldLog
			e := sourcetest.NewExporter(t, f.source(Options{HeldBack: held.Add}))
			ids := f.ca.Generate(5, simulator.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			a, ok := f.ca.Latest(ids[0])
			if !ok {
				t.Fatal("no generated alert")
			}
			a.ID = "6700000000000000000000aa"
			a.Timestamp = f.Clock.Now().Add(-30 * time.Minute)
			c.change(&a)
			f.ca.Put(a, f.Clock.Now())
			for range 5 {
				e.MustPoll(t)
				limit := f.Clock.Now().Add(sources.Ahead)
				if e.Saved.Cursor.After(limit) || e.Saved.ResolutionCursor.After(limit) {
					t.Fatalf("cursors %v and %v passed the service's clock plus a minute (%v)", e.Saved.Cursor, e.Saved.ResolutionCursor, limit)
				}
				f.Clock.Advance(time.Minute)
				f.ca.Generate(3, simulator.CloudAppsGenerate{}) // alerts raised after it
				f.ca.CloseRandom(1, 0)                          // and closed after it
			}
			e.MustPoll(t)
			e.CheckExactlyOnce(t, Name, f.visible())
			if n := held.Count(c.reason); n != 1 {
				t.Errorf("held back (%s) %d times, want once", c.reason, n)
			}
		})
	}
}

// closeAt closes an alert as resolved at t.
func closeAt(t time.Time) func(a *simulator.CloudAppsAlert) {
	return func(a *simulator.CloudAppsAlert) {
		a.ResolutionStatusValue = 2
		a.ResolveTime = &t
	}
}

// TestAlertRaisedAt1601: an API that does not filter as documented sends, for date ≥ the
// cursor, an alert raised at Windows' zero date (1601) and a dead letter with that version. Both
// are exported once, neither steers paging or a cursor, and the alert after them is exported.
func TestAlertRaisedAt1601(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	zero := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	next := f.Clock.Now().Add(-time.Minute).Truncate(time.Millisecond)
	url := f.Hostile(t, "POST /api/v1/alerts/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":[
			{"_id":"6700000000000000000001aa","timestamp":%d,"resolutionStatusValue":0,"title":"zero date","severityValue":2},
			{"_id":"6700000000000000000002aa","timestamp":%d,"resolutionStatusValue":0,"title":7},
			{"_id":"6700000000000000000003aa","timestamp":%d,"resolutionStatusValue":0,"title":"the next one","severityValue":0}],
			"hasNext":false,"max":100,"total":3}`, zero.UnixMilli(), zero.UnixMilli(), next.UnixMilli())
	})
	var held sourcetest.HeldLog
	s := f.Tenant.CloudApps
	s.APIURL = url
	api := f.API(Name, s)
	e := sourcetest.NewExporter(t, New(f.Tenant, s, api, Options{Now: f.Clock.Now, HeldBack: held.Add}))
	e.MustPoll(t)
	e.MustPoll(t)
	for _, v := range []struct {
		id string
		t  time.Time
	}{{"6700000000000000000001aa", zero}, {"6700000000000000000002aa", zero}, {"6700000000000000000003aa", next}} {
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
