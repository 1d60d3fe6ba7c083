package cloudapps

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// TestBackfillReadsEachAlertOnce: backfill exports every alert raised in the span as it is now
// and every closing made in the span, each once, and the API serves each of those alerts once:
// an alert raised and closed in the span is not read again by the "closed" question.
func TestBackfillReadsEachAlertOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now().Truncate(time.Millisecond)
	since, until := now.Add(-10*time.Hour), now.Add(-2*time.Hour)
	before, in, after := since.Add(-3*time.Hour), since.Add(3*time.Hour), until.Add(time.Hour)
	kinds := []struct {
		name           string
		raised, closed time.Time // closed zero: open
		exported       bool
	}{
		{"raised before, closed in the span", before, in, true},
		{"raised and closed in the span", in, in.Add(time.Hour), true},
		{"raised in the span, open", in, time.Time{}, true},
		{"raised in the span, closed after it", in, after, true},
		{"raised and closed before the span", before, before.Add(time.Hour), false},
		{"raised before the span, open", before, time.Time{}, false},
		{"raised before the span, closed after it", before, after, false},
		{"raised after the span", after, time.Time{}, false},
	}
	const perKind = 130 // more than a page in each question
	want := map[string]bool{}
	served := 0
	for k, kind := range kinds {
		for i := range perKind {
			a := sim.CloudAppsAlert{ID: fmt.Sprintf("%08x%016x", k, i), ContextID: sourcetest.TenantID, Title: kind.name,
				SeverityValue: 1, Timestamp: kind.raised.Add(time.Duration(i) * time.Second)}
			v := a.Timestamp
			if !kind.closed.IsZero() {
				closed := kind.closed.Add(time.Duration(i) * time.Second)
				a.ResolutionStatusValue, a.ResolveTime, v = 2, &closed, closed
			}
			f.ca.Put(a, v)
			if kind.exported {
				want[envelope.MsgID("contoso", Name, a.ID, v)] = true
				served++
			}
		}
	}
	got := sourcetest.Backfill(t, f.source(Options{}), since, until)
	for id, n := range got {
		if !want[id] || n > 1 {
			t.Errorf("%s exported %d times; want it %s", id, n, map[bool]string{true: "once", false: "never"}[want[id]])
		}
	}
	if missing := len(want) - len(got); missing > 0 {
		t.Errorf("%d versions of %d never exported, e.g. %v", missing, len(want), slices.Sorted(maps.Keys(want))[:3])
	}
	total := 0
	for _, r := range f.Requests(Name) {
		total += r.Results
	}
	// Paging by date reads the alerts of a page's last date again with the next page: a few.
	if total < served || total > served+perKind/4 {
		t.Errorf("the API served %d alerts for %d to export: some were read twice", total, served)
	}
	t.Logf("%d alerts served for %d versions in %d requests", total, served, len(f.Requests(Name)))
}
