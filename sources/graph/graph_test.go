package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

type fixture struct {
	*sourcetest.World
	g *sim.GraphTenant
}

func newFixture(t testing.TB, s sourcetest.Setup) *fixture {
	t.Helper()
	w := sourcetest.New(t, s)
	return &fixture{World: w, g: w.Sim.Graph(sourcetest.TenantID)}
}

func (f *fixture) source(o Options) *Source {
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(f.Tenant.Source(Name)), f.API(Name, f.Tenant.Source(Name)), o)
}

// continuing is the source with ContinueFrom set to from.
func (f *fixture) continuing(from func(context.Context) (time.Time, error)) *Source {
	src := f.source(Options{})
	src.ContinueFrom(from)
	return src
}

// visible is the oracle: each alert's version as a query at the simulator's time shows it.
func (f *fixture) visible() map[string]time.Time {
	vs := f.g.Versions()
	return sourcetest.Newest(f.Clock.Now(), len(vs), func(i int) (string, time.Time, time.Time) {
		return vs[i].ID, vs[i].LastUpdateDateTime, vs[i].VisibleAt
	})
}

// filters are the $filter of every Graph request, in order.
func (f *fixture) filters() []string {
	var out []string
	for _, r := range f.Requests("graph") {
		q, _ := url.ParseQuery(r.Query)
		out = append(out, q.Get("$filter"))
	}
	return out
}

// TestNextLinkPagingAcross5000Alerts: a backlog of 5,000 alerts is read in one poll by following
// @odata.nextLink, 1,000 a page; every alert arrives once, and a second poll sends nothing.
func TestNextLinkPagingAcross5000Alerts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(5000, sim.GraphGenerate{From: now.Add(-20 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	reqs := f.Requests("graph")
	if len(reqs) != 5 && len(reqs) != 6 {
		t.Errorf("%d requests for 5,000 alerts at 1,000 a page, want 5 (or 6 with an empty last page)", len(reqs))
	}
	for i, r := range reqs {
		q, _ := url.ParseQuery(r.Query)
		if r.Status != 200 {
			t.Errorf("request %d: %d", i, r.Status)
		}
		if i > 0 && q.Get("$skiptoken") == "" {
			t.Errorf("request %d did not follow the nextLink: %s", i, r.Query)
		}
	}
	before := len(e.Got)
	e.MustPoll(t)
	if len(e.Got) != before || len(e.Duplicates()) > 0 {
		t.Errorf("the second poll exported %d more", len(e.Got)-before)
	}
}

// TestUpdatesReExportedOnce: each update is a new version, exported once as "updated"; the
// first versions were "created".
func TestUpdatesReExportedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(300, sim.GraphGenerate{From: now.Add(-2 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	for _, env := range e.Envs {
		// Created before the job's coverage began (start_from): nobody exported its creation.
		older := env.CreatedAt != nil && env.CreatedAt.Before(now.Add(-24*time.Hour))
		if want := map[bool]string{false: envelope.Created, true: envelope.Updated}[older]; env.Event != want {
			t.Errorf("%s (created %v): event %q on first export, want %q", env.ID, env.CreatedAt, env.Event, want)
		}
	}
	for round := range 3 {
		f.Clock.Advance(time.Minute)
		ids := f.g.UpdateRandom(40, 0)
		f.Clock.Advance(time.Second)
		e.MustPoll(t)
		for _, id := range ids {
			latest, _ := f.g.Latest(id)
			env := e.Envs[envelope.MsgID("contoso", Name, id, latest.LastUpdateDateTime.UTC())]
			if env == nil {
				t.Fatalf("round %d: the update of %s was not exported", round, id)
			}
			if env.Event != envelope.Updated {
				t.Errorf("round %d: %s event %q, want updated", round, id, env.Event)
			}
		}
	}
	e.CheckExactlyOnce(t, Name, f.visible())
}

// TestAlertsChangingWhilePaging: while a poll pages through 2,000 alerts 100 at a time, alerts
// are updated and added at every page (the skiptoken holds a position in a list that shifts).
// Nothing is skipped, nothing handed over twice; the next poll has the versions made meanwhile.
func TestAlertsChangingWhilePaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(2000, sim.GraphGenerate{From: now.Add(-5 * time.Hour), To: now})
	before := f.visible()
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 100, BatchSize: 100}))
	updated := map[string]bool{}
	e.During = func() {
		f.Clock.Advance(time.Second)
		for _, id := range f.g.UpdateRandom(5, 0) {
			updated[id] = true
		}
		f.g.Generate(3, sim.GraphGenerate{})
	}
	e.MustPoll(t)
	// Every alert there, unchanged, from start to end was read in that poll. (One updated
	// meanwhile went to the top of the list, above the page being read: the next poll has it.)
	for id := range before {
		if updated[id] {
			continue
		}
		found := false
		for _, env := range e.Envs {
			if env.ID == id {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s was there during the whole poll and was skipped", id)
		}
	}
	e.During = nil
	f.Clock.Advance(time.Second)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
}

// TestLateIndexing: a version indexed 3 minutes after its lastUpdateDateTime is exported by the
// poll after it shows, within the lookback, and reported as late.
func TestLateIndexing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(50, sim.GraphGenerate{From: now.Add(-time.Hour), To: now})
	var late []time.Duration
	e := sourcetest.NewExporter(t, f.source(Options{Late: func(d time.Duration) { late = append(late, d) }}))
	e.MustPoll(t)
	f.g.Generate(5, sim.GraphGenerate{VisibleAfter: 3 * time.Minute})
	f.Clock.Advance(30 * time.Second)
	f.g.Generate(5, sim.GraphGenerate{})
	e.MustPoll(t) // the late ones are not visible yet
	f.Clock.Advance(3 * time.Minute)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if len(late) != 5 {
		t.Errorf("%d versions reported late, want the 5 indexed late", len(late))
	}
}

// TestServiceSourcesFilter: service_sources is asked of the API, and only those alerts come;
// min_severity is checked by the source, not sent (a severity that changes while paging would
// shift the list).
func TestServiceSourcesFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{ServiceSources: []string{"microsoftDefenderForIdentity"}, MinSeverity: "medium"})
	now := f.Clock.Now()
	f.g.Generate(100, sim.GraphGenerate{From: now.Add(-time.Hour), To: now, ServiceSource: "microsoftDefenderForIdentity"})
	f.g.Generate(100, sim.GraphGenerate{From: now.Add(-time.Hour), To: now, ServiceSource: "microsoftDefenderForOffice365"})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	for _, q := range f.filters() {
		if !strings.Contains(q, "serviceSource eq 'microsoftDefenderForIdentity'") || strings.Contains(q, "severity") {
			t.Errorf("$filter %q: want the serviceSource clause and no severity", q)
		}
	}
	n := 0
	for _, env := range e.Envs {
		n++
		if env.Severity != envelope.SeverityMedium && env.Severity != envelope.SeverityHigh && env.Severity != envelope.SeverityUnknown {
			t.Errorf("%s: severity %s below min_severity", env.ID, env.Severity)
		}
		if a, _ := f.g.Latest(env.ID); a.ServiceSource != "microsoftDefenderForIdentity" {
			t.Errorf("%s from %s exported", env.ID, a.ServiceSource)
		}
	}
	if n == 0 {
		t.Error("nothing exported")
	}
}

// TestFirstPollContinuesFromOlderSources: a tenant switched to Graph after its endpoint job
// stood still for three days reaches back to where that job would read next, beyond start_from,
// so that the switch leaves no gap; without older checkpoints, or with ones older than 30 days,
// start_from rules.
func TestFirstPollContinuesFromOlderSources(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	older := now.Add(-72 * time.Hour)
	f.g.Generate(20, sim.GraphGenerate{From: now.Add(-70 * time.Hour), To: now.Add(-50 * time.Hour)})
	e := sourcetest.NewExporter(t, f.continuing(func(context.Context) (time.Time, error) { return older, nil }))
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if want := "lastUpdateDateTime ge " + older.UTC().Format("2006-01-02T15:04:05.0000000Z"); f.filters()[0] != want {
		t.Errorf("first $filter %q, want %q", f.filters()[0], want)
	}
	// A checkpoint left from months ago is not followed: start_from rules, and a warning says so.
	h := newFixture(t, sourcetest.Setup{})
	e = sourcetest.NewExporter(t, h.continuing(func(context.Context) (time.Time, error) { return now.Add(-90 * 24 * time.Hour), nil }))
	e.MustPoll(t)
	if want := "lastUpdateDateTime ge " + h.Clock.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15:04:05.0000000Z"); h.filters()[0] != want {
		t.Errorf("first $filter %q, want %q (a 90-day-old checkpoint must not be followed)", h.filters()[0], want)
	}
	// Without older checkpoints, start_from (24h) rules.
	g := newFixture(t, sourcetest.Setup{})
	e = sourcetest.NewExporter(t, g.continuing(func(context.Context) (time.Time, error) { return time.Time{}, nil }))
	e.MustPoll(t)
	if want := "lastUpdateDateTime ge " + g.Clock.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15:04:05.0000000Z"); g.filters()[0] != want {
		t.Errorf("first $filter %q, want %q", g.filters()[0], want)
	}
}

// TestGraphErrorBody: an error answer in Graph's shape fails the poll with its status, code,
// message and request-id, and the checkpoint does not move.
func TestGraphErrorBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{Roles: map[string][]string{"https://graph.microsoft.com": {"User.Read.All"}}})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	err := e.Poll(context.Background())
	var he *httpclient.Error
	if !errors.As(err, &he) || he.Status != 403 || he.Code == "" || he.RequestID == "" {
		t.Fatalf("poll error %v, want a 403 with Graph's code and request-id", err)
	}
	for _, want := range []string{"HTTP 403", "request-id", "SecurityAlert.Read.All", "grant admin consent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if e.Saved.Cursor != (time.Time{}) {
		t.Error("a failed poll moved the cursor")
	}
}

// TestBrokenPagesAreRetried: 500s, 429s and truncated pages are retried; the poll ends with
// everything once.
func TestBrokenPagesAreRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(1500, sim.GraphGenerate{From: now.Add(-time.Hour), To: now})
	f.g.Fail(1, sim.APIFault{Status: 500})
	f.g.Fail(1, sim.APIFault{Truncate: true})
	f.g.Fail(1, sim.APIFault{Status: 429, RetryAfter: time.Second})
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 500}))
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
}

// TestForeignNextLink: a nextLink to another host is refused; the token is never sent there.
func TestForeignNextLink(t *testing.T) {
	t.Parallel()
	s := &Source{id: sources.Identity{Tenant: "contoso"}}
	s.base, _ = url.Parse("https://graph.microsoft.com/v1.0/security/alerts_v2")
	for _, tt := range []struct {
		link string
		ok   bool
	}{
		{`"https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=x"`, true},
		{`"https://evil.example/v1.0/security/alerts_v2?$skiptoken=x"`, false},
		{`"http://graph.microsoft.com/v1.0/security/alerts_v2"`, false},
		{`42`, false},
	} {
		_, err := s.nextLink([]byte(tt.link))
		if (err == nil) != tt.ok {
			t.Errorf("nextLink %s: err %v", tt.link, err)
		}
	}
}

// TestBackfill: [since, until) is exported again with the live message IDs and no checkpoint.
func TestBackfill(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(300, sim.GraphGenerate{From: now.Add(-10 * time.Hour), To: now})
	testBackfill(t, Name, now, func() *Source { return f.source(Options{}) }, f.visible)
}

// testBackfill exports the last 10 hours live, then backfills [now − 6h, now − 2h) and checks
// it against the oracle visible.
func testBackfill(t *testing.T, name string, now time.Time, source func() *Source, visible func() map[string]time.Time) {
	t.Helper()
	live := sourcetest.NewExporter(t, source())
	live.MustPoll(t)
	since, until := now.Add(-6*time.Hour), now.Add(-2*time.Hour)
	live.CheckBackfill(t, name, sourcetest.Backfill(t, source(), since, until), visible(), since, until)
}

// TestMinSeverityCursorMoves: alerts min_severity leaves out still move the cursor, so a tenant
// of low alerts is not re-read from further back at every poll.
func TestMinSeverityCursorMoves(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{MinSeverity: "high"})
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 100}))
	var lowers []string
	for round := range 4 {
		f.Clock.Advance(20 * time.Minute)
		now := f.Clock.Now()
		for _, id := range f.g.Generate(150, sim.GraphGenerate{From: now.Add(-5 * time.Minute), To: now}) {
			_ = f.g.Update(id, func(a *sim.GraphAlert) { a.Severity = "low" }, 0)
		}
		before := len(f.Requests("graph"))
		e.MustPoll(t)
		if n := len(f.Requests("graph")) - before; round > 0 && n > 3 {
			t.Errorf("round %d: %d requests for 150 new alerts at 100 a page: the poll re-reads what it left out", round, n)
		}
		lowers = append(lowers, f.filters()[before])
	}
	if lowers[1] == lowers[3] {
		t.Errorf("the lower bound did not move: %v", lowers)
	}
	for _, env := range e.Envs {
		if env.Severity != envelope.SeverityHigh && env.Severity != envelope.SeverityUnknown {
			t.Errorf("%s exported at %s", env.ID, env.Severity)
		}
	}
}

// TestCheckpointOnlyAtTheEndOfThePass: the batches of a pass carry no checkpoint but the last;
// a pass that fails midway leaves the checkpoint where it was, and the next poll exports
// everything, re-sending what the failed pass had sent under the same message IDs.
func TestCheckpointOnlyAtTheEndOfThePass(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(1000, sim.GraphGenerate{From: now.Add(-time.Hour), To: now})
	src := f.source(Options{PageSize: 100, BatchSize: 100})
	var batches, withCP int
	cp := sources.Checkpoint{}.Clone()
	err := src.Poll(context.Background(), cp, func(_ context.Context, b sources.Batch) error {
		batches++
		if b.Checkpoint != nil {
			withCP++
			if !b.Checkpoint.Origin.IsZero() && b.Checkpoint.Cursor.IsZero() {
				return nil // the origin, saved before reading
			}
			if len(b.Messages) == 0 && batches < 10 {
				t.Errorf("batch %d: a checkpoint before the pass ended", batches)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if batches < 10 || withCP != 2 {
		t.Errorf("%d batches, %d with a checkpoint; want ≥ 10 and 2 (the origin, then the end)", batches, withCP)
	}
	// A pass that fails at its 5th page moves nothing; the next one sends the rest once.
	e := sourcetest.NewExporter(t, f.source(Options{PageSize: 100, BatchSize: 100}))
	f.g.Fail(4, sim.APIFault{Delay: time.Millisecond}) // 4 good pages
	f.g.Fail(1, sim.APIFault{Status: 400})             // then a refusal, not retried
	if err := e.Poll(context.Background()); err == nil {
		t.Fatal("the poll did not fail")
	}
	if !e.Saved.Cursor.IsZero() || len(e.Got) != 400 {
		t.Errorf("a pass failed at its 5th page: cursor %v, %d versions handed over (want zero, 400)", e.Saved.Cursor, len(e.Got))
	}
	e.MustPoll(t)
	// Everything arrives; what the failed pass handed over comes again with the same message
	// IDs (JetStream drops them: the checkpoint did not say they were published).
	if m := e.Missing(Name, f.visible()); len(m) > 0 {
		t.Errorf("%d versions missing after the retry, e.g. %v", len(m), m[:min(3, len(m))])
	}
	if d := e.Duplicates(); len(d) != 400 {
		t.Errorf("%d versions handed over twice, want the 400 of the failed pass", len(d))
	}
}

// TestCursorHeldAtTheServiceClock: the cursor never passes the Date of the pass's first answer,
// so a version stamped while the pass paged is read by the next poll whatever the order.
func TestCursorHeldAtTheServiceClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.g.Generate(50, sim.GraphGenerate{From: now.Add(-time.Hour), To: now.Add(10 * time.Minute)}) // stamped ahead of the service clock
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	if c := e.Saved.Cursor; c.After(now) {
		t.Errorf("cursor %v is past the service's clock %v", c, now)
	}
}

// TestLargeFirstPassRemembersLittle: a first pass over a day's backlog keeps in the checkpoint's
// Seen only the versions that can be within the lookback of the cursor it ends on (the rest are
// recognized by their hash), and exports every version once. (TestAlertsChangingWhilePaging and
// TestUpdatesReExportedOnce run the same code with alerts moving while it pages.)
func TestLargeFirstPassRemembersLittle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{Lookback: "10m"})
	now := f.Clock.Now()
	f.g.Generate(3000, sim.GraphGenerate{From: now.Add(-20 * time.Hour), To: now}) // ≈ 25 in 10 minutes
	src := f.source(Options{PageSize: 100, BatchSize: 100})
	e := sourcetest.NewExporter(t, src)
	most := 0
	p := src.newPoll(sources.Checkpoint{}, nil)
	p.lower = now.Add(-24 * time.Hour)
	p.Outbox.Emit = func(ctx context.Context, b sources.Batch) error {
		most = max(most, p.cp.Seen.Len())
		return e.Emit(ctx, b)
	}
	if err := p.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if most > 100 {
		t.Errorf("Seen held %d versions during the pass; the lookback holds about 25", most)
	}
	e.CheckExactlyOnce(t, Name, f.visible())
}

// hostile is a source whose API answers with answer, on the simulator's TLS server (see
// sourcetest.World.Hostile), with options o (Now: the simulator's clock unless set).
func (f *fixture) hostile(t *testing.T, answer http.HandlerFunc, o Options) *Source {
	t.Helper()
	s := f.Tenant.Source(Name)
	s.APIURL = f.Hostile(t, "GET /v1.0/security/alerts_v2", answer)
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(s), f.API(Name, s), o)
}
