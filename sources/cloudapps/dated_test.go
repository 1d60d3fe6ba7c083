package cloudapps

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestVersionDatedWrongDoesNotMoveCursors: an alert closed with a resolveTime in 2099 (a future
// resolveTime), and one raised in 2099, are each exported once, and neither cursor follows them
// past the service's clock (its Date header, or this machine's clock when the Date is missing or
// wrong), so every alert raised and closed after them is still exported.
func TestVersionDatedWrongDoesNotMoveCursors(t *testing.T) {
	t.Parallel()
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, alert := range []struct {
		name   string
		change func(a *sim.CloudAppsAlert)
	}{
		{"future resolveTime", closeAt(y2099)},
		{"raised in 2099", func(a *sim.CloudAppsAlert) { a.Timestamp = y2099 }},
	} {
		for _, c := range sourcetest.DateCases {
			t.Run(alert.name+": "+c.Name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, sourcetest.Setup{})
				f.Sim.SetDateHeader(c.Date)
				var held sourcetest.HeldLog
				e := sourcetest.NewExporter(t, f.source(Options{HeldBack: held.Add}))
				ids := f.ca.Generate(5, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
				a, ok := f.ca.Latest(ids[0])
				if !ok {
					t.Fatal("no generated alert")
				}
				a.ID = "6700000000000000000000aa"
				a.Timestamp = f.Clock.Now().Add(-30 * time.Minute)
				alert.change(&a)
				f.ca.Put(a, f.Clock.Now())
				// Alerts raised, and closed, after it are still exported.
				e.PollUnderTheClock(t, f.Clock, 5, func() {
					f.ca.Generate(3, sim.CloudAppsGenerate{})
					f.ca.CloseRandom(1, 0)
				})
				e.MustPoll(t)
				e.CheckExactlyOnce(t, Name, f.visible())
				if n := held.Count(sources.HeldFuture); n != 1 {
					t.Errorf("held back (future) %d times, want once", n)
				}
			})
		}
	}
}

// closeAt closes an alert as resolved at t.
func closeAt(t time.Time) func(a *sim.CloudAppsAlert) {
	return func(a *sim.CloudAppsAlert) {
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
	zero := sourcetest.ZeroDate
	next := f.Clock.Now().Add(-time.Minute).Truncate(time.Millisecond)
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":[
			{"_id":"6700000000000000000001aa","timestamp":%d,"resolutionStatusValue":0,"title":"zero date","severityValue":2},
			{"_id":"6700000000000000000002aa","timestamp":%d,"resolutionStatusValue":0,"title":7},
			{"_id":"6700000000000000000003aa","timestamp":%d,"resolutionStatusValue":0,"title":"the next one","severityValue":0}],
			"hasNext":false,"max":100,"total":3}`, zero.UnixMilli(), zero.UnixMilli(), next.UnixMilli())
	})
	var held sourcetest.HeldLog
	e := sourcetest.NewExporter(t, f.hostile(t, answer, Options{HeldBack: held.Add}))
	e.MustPoll(t)
	e.MustPoll(t)
	e.CheckZeroDate(t, Name, &held, [2]string{"6700000000000000000001aa", "6700000000000000000002aa"}, "6700000000000000000003aa", next)
}
