package graph

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

type incidentsFixture struct {
	*sourcetest.World
	inc *sim.IncidentsTenant
}

func newIncidentsFixture(t testing.TB, setup ...sourcetest.Setup) *incidentsFixture {
	t.Helper()
	var s sourcetest.Setup
	if len(setup) > 0 {
		s = setup[0]
	}
	w := sourcetest.New(t, s)
	return &incidentsFixture{World: w, inc: w.Sim.Incidents(sourcetest.TenantID)}
}

func (f *incidentsFixture) source(o Options) *Source {
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	s := f.Tenant.Source(IncidentsName)
	return NewIncidents(f.Tenant.Settings(s), f.API(IncidentsName, s), o)
}

// visible is the oracle: each incident's newest version a query at the simulator's time shows.
func (f *incidentsFixture) visible() map[string]time.Time {
	vs := f.inc.Versions()
	return sourcetest.Newest(f.Clock.Now(), len(vs), func(i int) (string, time.Time, time.Time) {
		return vs[i].ID, vs[i].LastUpdateDateTime, vs[i].VisibleAt
	})
}

// version is the exported envelope of incident id at t, failing the test when there is none.
func version(t *testing.T, e *sourcetest.Exporter, id string, at time.Time) *envelope.Incident {
	t.Helper()
	in := e.Incidents[envelope.MsgID("contoso", IncidentsName, id, at.UTC())]
	if in == nil {
		t.Fatalf("incident %s at %s was not exported", id, at.Format(time.RFC3339Nano))
	}
	return in
}

// latest is the exported envelope of incident id's newest stored version, and that version.
func (f *incidentsFixture) latest(t *testing.T, e *sourcetest.Exporter, id string) (*envelope.Incident, sim.Incident, []string) {
	t.Helper()
	inc, alerts, ok := f.inc.Latest(id)
	if !ok {
		t.Fatalf("no incident %s", id)
	}
	return version(t, e, id, inc.LastUpdateDateTime), inc, alerts
}

// checkAlertIDs fails unless every exported incident version that is the newest stored one
// lists exactly the incident's alerts.
func (f *incidentsFixture) checkAlertIDs(t *testing.T, e *sourcetest.Exporter) {
	t.Helper()
	for _, in := range e.Incidents {
		cur, alerts, _ := f.inc.Latest(in.ID)
		if !cur.LastUpdateDateTime.Equal(in.UpdatedAt) {
			continue
		}
		if !sameSet(in.AlertIDs, alerts) {
			t.Errorf("incident %s: alert_ids %v, want %v", in.ID, in.AlertIDs, alerts)
		}
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestIncidentGainsAlertBetweenPolls: an alert joins an incident after it was exported; the
// next poll exports its new version once, as updated, with the old and the new alert ids.
func TestIncidentGainsAlertBetweenPolls(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	ids := f.inc.Generate(30, sim.IncidentsGenerate{From: now.Add(-2 * time.Hour), To: now, MaxAlerts: 4})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	before, _, alertsBefore := f.latest(t, e, ids[4])
	if before.Event != envelope.Created {
		t.Errorf("first export: event %q, want created", before.Event)
	}
	f.checkAlertIDs(t, e)

	f.Clock.Advance(time.Minute)
	joined, err := f.inc.AddAlert(ids[4], 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	e.MustPoll(t)
	after, _, _ := f.latest(t, e, ids[4])
	if after.Event != envelope.Updated || !after.UpdatedAt.After(before.UpdatedAt) {
		t.Errorf("the grown version: event %q, updated_at %v (was %v)", after.Event, after.UpdatedAt, before.UpdatedAt)
	}
	if want := append(slices.Clone(alertsBefore), joined); !sameSet(after.AlertIDs, want) {
		t.Errorf("alert_ids %v, want %v", after.AlertIDs, want)
	}
	if got := len(e.Got); got != 31 {
		t.Errorf("%d versions handed over, want the 30 incidents and the grown one", got)
	}
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
	for _, r := range f.Requests(sim.APIIncidents) {
		if q, _ := url.ParseQuery(r.Query); r.Path == "/v1.0/security/incidents" && q.Get("$expand") != "" {
			t.Errorf("the list was asked with $expand=%s; it must be read without it (docs/incidents.md)", q.Get("$expand"))
		}
	}
}

// TestIncidentStatusAndAssignmentChanges: an incident assigned and taken in progress, then
// resolved with a classification: each change is one version, mapped.
func TestIncidentStatusAndAssignmentChanges(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	ids := f.inc.Generate(5, sim.IncidentsGenerate{From: now.Add(-time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	id := ids[2]
	steps := []struct {
		change                       func(*sim.Incident)
		status, assigned, classified string
	}{
		{func(i *sim.Incident) {
			i.Status, i.AssignedTo, i.Classification, i.Determination = "inProgress", new("KaiC@contoso.com"), "unknown", "unknown"
		}, envelope.IncidentInProgress, "KaiC@contoso.com", ""},
		{func(i *sim.Incident) { i.AssignedTo = new("secops@contoso.com") }, envelope.IncidentInProgress, "secops@contoso.com", ""},
		{func(i *sim.Incident) { i.Status = "awaitingAction" }, envelope.IncidentAwaitingAction, "secops@contoso.com", ""},
		{func(i *sim.Incident) {
			i.Status, i.Classification, i.Determination = "resolved", "truePositive", "multiStagedAttack"
		}, envelope.IncidentResolved, "secops@contoso.com", "true_positive"},
	}
	for n, step := range steps {
		f.Clock.Advance(time.Minute)
		if err := f.inc.Update(id, step.change, 0); err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Second)
		e.MustPoll(t)
		got, _, _ := f.latest(t, e, id)
		if got.Event != envelope.Updated || got.Status != step.status || str(got.AssignedTo) != step.assigned || str(got.Classification) != step.classified {
			t.Errorf("step %d: event %q, status %q, assigned_to %q, classification %q; want updated, %q, %q, %q",
				n, got.Event, got.Status, str(got.AssignedTo), str(got.Classification), step.status, step.assigned, step.classified)
		}
	}
	if got := len(e.Got); got != 5+len(steps) {
		t.Errorf("%d versions handed over, want %d", got, 5+len(steps))
	}
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
}

// TestIncidentMerge: Defender merges one incident into another: the merged one is exported
// redirected, naming the other, without alerts; the other's version has them all.
func TestIncidentMerge(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	ids := f.inc.Generate(6, sim.IncidentsGenerate{From: now.Add(-time.Hour), To: now, MaxAlerts: 3})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	_, fromAlerts, _ := f.inc.Latest(ids[1])
	_, intoAlerts, _ := f.inc.Latest(ids[3])
	f.Clock.Advance(time.Minute)
	if err := f.inc.Merge(ids[1], ids[3], 0); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	e.MustPoll(t)
	from, _, _ := f.latest(t, e, ids[1])
	if from.Status != envelope.IncidentRedirected || str(from.RedirectIncidentID) != ids[3] || len(from.AlertIDs) != 0 {
		t.Errorf("merged incident: status %q, redirect_incident_id %q, alert_ids %v; want redirected, %s, none",
			from.Status, str(from.RedirectIncidentID), from.AlertIDs, ids[3])
	}
	into, _, _ := f.latest(t, e, ids[3])
	if want := append(slices.Clone(intoAlerts), fromAlerts...); !sameSet(into.AlertIDs, want) || into.RedirectIncidentID != nil {
		t.Errorf("the incident merged into: alert_ids %v, redirect %v; want %v, null", into.AlertIDs, into.RedirectIncidentID, want)
	}
	// Both versions have the same lastUpdateDateTime: both are exported.
	if !from.UpdatedAt.Equal(into.UpdatedAt) {
		t.Errorf("the merge's versions: %v and %v", from.UpdatedAt, into.UpdatedAt)
	}
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
}

// TestLargeIncidentWhoseExpansionFails: an incident of 150 alerts, which makes List incidents
// with $expand=alerts answer 500 (elastic/integrations#18144), is exported with all 150 ids,
// and every other incident flows beside it.
func TestLargeIncidentWhoseExpansionFails(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	ids := f.inc.Generate(40, sim.IncidentsGenerate{From: now.Add(-2 * time.Hour), To: now.Add(-time.Minute)})
	large := ids[17]
	if _, err := f.inc.AddAlerts(large, 150, 0); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 10}))
	e.MustPoll(t)
	got, _, alerts := f.latest(t, e, large)
	if len(alerts) <= sim.DefaultIncidentExpandLimit || !sameSet(got.AlertIDs, alerts) {
		t.Errorf("the large incident: %d alert ids exported, want its %d", len(got.AlertIDs), len(alerts))
	}
	f.checkAlertIDs(t, e)
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
	if s := f.Calls.Statuses(); s[http.StatusInternalServerError] > 0 {
		t.Errorf("statuses %v: the product asked what Graph cannot answer", s)
	}
}

// TestIncidentWhoseAlertsCannotBeRead: Get incident fails for one incident on every try;
// the others are exported, the cursor waits at the failed one, which is exported once it can
// be read; one that cannot be read for an hour is a dead letter and lets the cursor go.
func TestIncidentWhoseAlertsCannotBeRead(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	ids := f.inc.Generate(20, sim.IncidentsGenerate{From: now.Add(-30 * time.Minute), To: now})
	broken, _, _ := f.inc.Latest(ids[9])
	f.inc.BreakGet(broken.ID, http.StatusInternalServerError)
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	if len(e.Got) != 19 || e.Has(IncidentsName, broken.ID, broken.LastUpdateDateTime) {
		t.Errorf("%d versions handed over; want the 19 others, not the broken one", len(e.Got))
	}
	if e.Saved.Cursor.After(broken.LastUpdateDateTime) {
		t.Errorf("cursor %v passed the incident not read (%v)", e.Saved.Cursor, broken.LastUpdateDateTime)
	}
	f.Clock.Advance(time.Minute)
	e.MustPoll(t) // still broken: nothing new, nothing twice
	f.inc.BreakGet(broken.ID, 0)
	f.Clock.Advance(time.Minute)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
	f.checkAlertIDs(t, e)

	// Broken for good: an hour after its version, a dead letter with the reason.
	f.Clock.Advance(time.Minute)
	if err := f.inc.Update(ids[3], func(i *sim.Incident) { i.AssignedTo = new("KaiC@contoso.com") }, 0); err != nil {
		t.Fatal(err)
	}
	stuck, _, _ := f.inc.Latest(ids[3])
	f.inc.BreakGet(ids[3], http.StatusInternalServerError)
	f.Clock.Advance(time.Second)
	e.MustPoll(t)
	if len(e.Dead) != 0 || e.Saved.Cursor.After(stuck.LastUpdateDateTime) {
		t.Fatalf("within the hour: %d dead letters, cursor %v (version %v)", len(e.Dead), e.Saved.Cursor, stuck.LastUpdateDateTime)
	}
	f.Clock.Advance(maxStuck + time.Minute)
	e.MustPoll(t)
	if len(e.Dead) != 1 || e.Dead[0].Err == nil || !strings.Contains(e.Dead[0].Err.Error(), "could not be read") ||
		!bytes.Contains(e.Dead[0].Raw, []byte(`"`+ids[3]+`"`)) {
		t.Fatalf("dead letters %+v, want the one of incident %s with its reason", e.Dead, ids[3])
	}
	if e.Saved.Cursor.Before(stuck.LastUpdateDateTime) {
		t.Errorf("cursor %v still held before the dead-lettered version %v", e.Saved.Cursor, stuck.LastUpdateDateTime)
	}
	before := len(e.Got)
	e.MustPoll(t)
	if len(e.Got) != before || len(e.Dead) != 1 {
		t.Errorf("the next poll handed over %d more, %d dead letters", len(e.Got)-before, len(e.Dead))
	}
}

// TestIncidentsWithEqualTimesAcrossAPageBoundary: five incidents share one lastUpdateDateTime
// and pages hold two; three were read by a poll before the other two showed up at the same
// instant. Each is exported once.
func TestIncidentsWithEqualTimesAcrossAPageBoundary(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	at := f.Clock.Now().Add(-10 * time.Second)
	first := f.inc.Generate(3, sim.IncidentsGenerate{From: at, To: at})
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 2, BatchSize: 1}))
	e.MustPoll(t)
	if !e.Saved.Cursor.Equal(at) {
		t.Fatalf("cursor %v, want %v", e.Saved.Cursor, at)
	}
	f.Clock.Advance(time.Second)
	second := f.inc.Generate(2, sim.IncidentsGenerate{From: at, To: at})
	e.MustPoll(t)
	for _, id := range append(first, second...) {
		if !e.Has(IncidentsName, id, at) {
			t.Errorf("incident %s at the shared instant was not exported", id)
		}
	}
	if len(e.Got) != 5 {
		t.Errorf("%d versions handed over, want 5", len(e.Got))
	}
	e.CheckExactlyOnce(t, IncidentsName, f.visible())
}

// TestIncidentsRestartBetweenPublishAndCheckpoint: the process dies after its messages were
// published and before the checkpoint was saved; a new source from the old checkpoint hands
// the same versions over again with the same message IDs and bodies (JetStream drops them),
// then goes on.
func TestIncidentsRestartBetweenPublishAndCheckpoint(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	f.inc.Generate(25, sim.IncidentsGenerate{From: now.Add(-time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	saved := e.Saved
	f.Clock.Advance(time.Minute)
	f.inc.UpdateRandom(8, 0)
	f.inc.Generate(4, sim.IncidentsGenerate{})
	f.Clock.Advance(time.Second)

	errCrash := errors.New("killed before the checkpoint")
	published := map[string][]byte{}
	err := f.source(Options{}).Poll(context.Background(), saved, func(_ context.Context, b sources.Batch) error {
		for _, m := range b.Messages {
			published[m.MsgID] = m.Body
		}
		if b.Checkpoint != nil && !b.Checkpoint.Cursor.Equal(saved.Cursor) {
			return errCrash
		}
		return nil
	})
	if !errors.Is(err, errCrash) || len(published) == 0 {
		t.Fatalf("poll: %v, %d published; want the crash after publishing", err, len(published))
	}
	restarted := sourcetest.NewExporter(t, f.source(Options{}))
	restarted.Saved = saved
	restarted.MustPoll(t)
	for id, body := range published {
		again := restarted.Got[id]
		if again != 1 {
			t.Errorf("%s: published before the crash, handed over %d times after the restart", id, again)
			continue
		}
		if in := restarted.Incidents[id]; in == nil || !bytes.Equal(mustMarshal(t, in), body) {
			t.Errorf("%s: the body after the restart differs from the one published before", id)
		}
	}
	if len(restarted.Got) != len(published) {
		t.Errorf("after the restart %d versions, before the crash %d", len(restarted.Got), len(published))
	}
	// Then the restarted job goes on from its checkpoint: nothing more.
	restarted.MustPoll(t)
	if len(restarted.Got) != len(published) || len(restarted.Duplicates()) > 0 {
		t.Errorf("the next poll handed over %d more", len(restarted.Got)-len(published))
	}
	for id := range f.visible() {
		latest, _, _ := f.inc.Latest(id)
		if !e.Has(IncidentsName, id, latest.LastUpdateDateTime) && !restarted.Has(IncidentsName, id, latest.LastUpdateDateTime) {
			t.Errorf("incident %s at %v exported by neither run", id, latest.LastUpdateDateTime)
		}
	}
}

func mustMarshal(t *testing.T, in *envelope.Incident) []byte {
	t.Helper()
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIncidentWireForms: Microsoft's examples write the enums in PascalCase and the custom
// tags as tags; each form is read to the same envelope, and raw is the incident as listed,
// without alerts.
func TestIncidentWireForms(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	f.inc.SetStyleShare(1)
	now := f.Clock.Now()
	f.inc.Generate(60, sim.IncidentsGenerate{From: now.Add(-time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	statuses := map[string]string{"active": envelope.IncidentActive, "inProgress": envelope.IncidentInProgress,
		"resolved": envelope.IncidentResolved, "awaitingAction": envelope.IncidentAwaitingAction, "redirected": envelope.IncidentRedirected}
	var pascal, tagged int
	for _, in := range e.Incidents {
		cur, _, _ := f.inc.Latest(in.ID)
		switch cur.Style {
		case sim.IncidentStylePascalCase:
			pascal++
		case sim.IncidentStyleTags:
			tagged++
		}
		if in.Status != statuses[cur.Status] || in.Severity != cur.Severity {
			t.Errorf("incident %s (style %d): status %q severity %q, want %q %q", in.ID, cur.Style, in.Status, in.Severity, statuses[cur.Status], cur.Severity)
		}
		if want := append(slices.Clone(cur.CustomTags), cur.SystemTags...); !slices.Equal(in.Tags, want) {
			t.Errorf("incident %s (style %d): tags %v, want %v", in.ID, cur.Style, in.Tags, want)
		}
		if bytes.Contains(in.Raw, []byte(`"alerts"`)) {
			t.Errorf("incident %s: raw carries the alerts", in.ID)
		}
		if str(in.URL) != cur.IncidentWebURL || str(in.Title) != cur.DisplayName {
			t.Errorf("incident %s: url %q title %q", in.ID, str(in.URL), str(in.Title))
		}
	}
	if pascal == 0 || tagged == 0 {
		t.Errorf("%d PascalCase and %d tags incidents; the test needs both", pascal, tagged)
	}
}

// TestIncidentStatusMapping: Graph's statuses in either case map to the envelope's; anything
// else, unknownFutureValue included, is unknown.
func TestIncidentStatusMapping(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"active": envelope.IncidentActive, "Active": envelope.IncidentActive,
		"inProgress": envelope.IncidentInProgress, "InProgress": envelope.IncidentInProgress,
		"resolved": envelope.IncidentResolved, "RESOLVED": envelope.IncidentResolved,
		"redirected": envelope.IncidentRedirected, "Redirected": envelope.IncidentRedirected,
		"awaitingAction": envelope.IncidentAwaitingAction, "AwaitingAction": envelope.IncidentAwaitingAction,
		"unknownFutureValue": envelope.IncidentUnknown, "": envelope.IncidentUnknown, "closed": envelope.IncidentUnknown,
	} {
		if got := incidentStatus(in); got != want {
			t.Errorf("incidentStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIncidentsBackfill: backfill exports each incident whose version is in the range once, as
// it is now, with the live export's message IDs, and hands over no checkpoint.
func TestIncidentsBackfill(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t)
	now := f.Clock.Now()
	f.inc.Generate(60, sim.IncidentsGenerate{From: now.Add(-10 * time.Hour), To: now})
	testBackfill(t, IncidentsName, now, func() *Source { return f.source(Options{}) }, f.visible)
}

// TestIncidentsMinSeverity: min_severity leaves out incidents below it without reading their
// alerts, and they still move the cursor. (Severity unknown is not below any: it is exported,
// as for alerts.)
func TestIncidentsMinSeverity(t *testing.T) {
	t.Parallel()
	f := newIncidentsFixture(t, sourcetest.Setup{MinSeverity: "high"})
	now := f.Clock.Now()
	f.inc.Generate(60, sim.IncidentsGenerate{From: now.Add(-time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	high := 0
	for id, v := range f.visible() {
		cur, _, _ := f.inc.Latest(id)
		if cur.Severity == "high" || cur.Severity == "unknown" {
			high++
			if !e.Has(IncidentsName, id, v) {
				t.Errorf("%s incident %s not exported", cur.Severity, id)
			}
		}
	}
	if len(e.Got) != high || high == 0 || high == 60 {
		t.Errorf("%d exported, %d high or unknown of 60", len(e.Got), high)
	}
	gets := 0
	for _, r := range f.Requests(sim.APIIncidents) {
		if r.Path != "/v1.0/security/incidents" {
			gets++
		}
	}
	if gets != high {
		t.Errorf("%d incidents read on their own, want the %d exported", gets, high)
	}
	if newest := slices.MaxFunc(slices.Collect(maps.Values(f.visible())), time.Time.Compare); !e.Saved.Cursor.Equal(newest) {
		t.Errorf("cursor %v, want the newest version read, %v", e.Saved.Cursor, newest)
	}
}
