package cloudapps

import (
	"net/http"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

type fixture struct {
	*sourcetest.World
	ca *sim.CloudAppsTenant
}

func newFixture(t testing.TB, s sourcetest.Setup) *fixture {
	t.Helper()
	w := sourcetest.New(t, s)
	return &fixture{World: w, ca: w.Sim.CloudApps(sourcetest.TenantID)}
}

func (f *fixture) source(o Options) *Source {
	api := f.API(Name, f.Tenant.Source(Name))
	api.ThrottleWait = 300 * time.Millisecond // the documented minute, scaled down
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(f.Tenant.Source(Name)), api, o)
}

// visible is the oracle: each alert's version as a query at the simulator's time shows it.
func (f *fixture) visible() map[string]time.Time {
	now := f.Clock.Now()
	out := map[string]time.Time{}
	for _, v := range f.ca.Versions() {
		if !v.VisibleAt.After(now) {
			out[v.ID] = v.Version
		}
	}
	return out
}

func TestBacklogOfManyPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.ca.Generate(1000, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if n := len(f.Requests(Name)); n < 10 {
		t.Errorf("%d requests for 1,000 alerts at 100 a page", n)
	}
	for _, r := range f.Requests(Name) {
		if r.Status != 200 {
			t.Errorf("request %+v", r)
		}
	}
}

func TestSharedTimestampAcrossPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	at := f.Clock.Now().Add(-time.Hour).Truncate(time.Millisecond)
	f.ca.Generate(30, sim.CloudAppsGenerate{From: at.Add(-time.Hour), To: at.Add(-time.Minute)})
	f.ca.Generate(250, sim.CloudAppsGenerate{From: at, To: at, SameTimestamp: true})
	f.ca.Generate(30, sim.CloudAppsGenerate{From: at.Add(time.Minute), To: f.Clock.Now()})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if len(e.Got) != 310 {
		t.Errorf("exported %d versions, want 310", len(e.Got))
	}
}

func TestClosedAfterExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	f.ca.Generate(40, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	f.Clock.Advance(time.Minute)
	closed := f.ca.CloseRandom(5, 0)
	if len(closed) == 0 {
		t.Fatal("nothing to close")
	}
	for range 4 { // the closing, then three polls inside the lookback that must not repeat it
		e.MustPoll(t)
		f.Clock.Advance(time.Minute)
	}
	f.Clock.Advance(20 * time.Minute) // and past the lookback
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	for _, id := range closed {
		v := f.visible()[id]
		env := e.Envs[envelope.MsgID("contoso", Name, id, v)]
		if env == nil || env.Event != envelope.Updated || env.ResolvedAt == nil {
			t.Errorf("closing of %s: %+v, want one updated message with resolved_at", id, env)
		}
	}
}

func TestLateIndexing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	var late []time.Duration
	e := sourcetest.NewExporter(t, f.source(Options{Late: func(d time.Duration) { late = append(late, d) }}))
	f.ca.Generate(10, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e.MustPoll(t)
	f.ca.Generate(3, sim.CloudAppsGenerate{VisibleAfter: 3 * time.Minute})
	for range 6 {
		f.Clock.Advance(time.Minute)
		f.ca.Generate(1, sim.CloudAppsGenerate{}) // traffic moves the cursor on
		e.MustPoll(t)
	}
	e.CheckExactlyOnce(t, Name, f.visible())
	if len(late) != 3 {
		t.Errorf("late reports %v, want 3", late)
	}
}

func TestThrottled(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]sim.APIFault{
		"429 without Retry-After": {Status: 429},
		"429 with Retry-After":    {Status: 429, RetryAfter: time.Second},
		"a body saying throttled": {Status: 403, Throttled: true},
		"a 503 saying throttled":  {Status: 503, Throttled: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sourcetest.Setup{})
			f.ca.Generate(150, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			f.ca.Fail(1, fault)
			e := sourcetest.NewExporter(t, f.source(Options{}))
			e.MustPoll(t)
			e.CheckExactlyOnce(t, Name, f.visible())
			reqs := f.Requests(Name)
			if len(reqs) < 2 {
				t.Fatalf("requests: %+v", reqs)
			}
			wait := 300 * time.Millisecond
			if fault.RetryAfter > 0 {
				wait = fault.RetryAfter
			}
			if gap := reqs[1].Time.Sub(reqs[0].Time); gap < wait {
				t.Errorf("asked again after %v, want at least %v", gap, wait)
			}
		})
	}
}

// TestUnderTheRateLimit: with the API enforcing 30 a minute (scaled down: a minute lasts 2 s
// here), a backlog of 5,000 alerts drains in one poll without a single throttled request.
func TestUnderTheRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{Options: sim.Options{RateLimits: map[string]sim.RateLimits{sim.APICloudApps: sim.LimitTo(sim.RateLimit{Requests: 30, Per: 2 * time.Second})}}})
	f.ca.Generate(5000, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-20 * time.Hour), To: f.Clock.Now()})
	src := f.source(Options{})
	src.api.Limiter = httpclientLimiter(30, 2*time.Second)
	e := sourcetest.NewExporter(t, src)
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if st := f.Calls.Statuses(); st[429] > 0 {
		t.Errorf("calls by status %v: throttled", st)
	}
}

func TestEveryVersionExactlyOnceWithClosingsAndLateIndexing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	now := f.Clock.Now()
	f.ca.Generate(2000, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	seen := map[string]bool{}
	note := func() {
		for id, v := range f.visible() {
			seen[envelope.MsgID("contoso", Name, id, v)] = true
		}
	}
	delays := []time.Duration{0, 30 * time.Second, 2 * time.Minute, 4 * time.Minute}
	for i := range 25 {
		note()
		e.MustPoll(t)
		f.Clock.Advance(time.Minute)
		f.ca.Generate(8, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-time.Minute), To: f.Clock.Now(), VisibleAfter: delays[i%len(delays)]})
		f.ca.CloseRandom(6, delays[(i+1)%len(delays)])
	}
	f.Clock.Advance(5 * time.Minute)
	note()
	e.MustPoll(t)
	if d := e.Duplicates(); len(d) > 0 {
		t.Errorf("duplicates: %v", d[:min(5, len(d))])
	}
	missing := 0
	for id := range seen {
		if e.Got[id] == 0 {
			missing++
			if missing < 5 {
				t.Errorf("visible version %s never exported", id)
			}
		}
	}
	for id := range e.Got {
		if !seen[id] {
			t.Errorf("exported %s, which no poll could see", id)
		}
	}
	t.Logf("%d versions in %d requests", len(e.Got), len(f.Requests(Name)))
}

func httpclientLimiter(n int, per time.Duration) *httpclient.Limiter {
	return httpclient.NewLimiter(httpclient.Limit{Requests: n, Per: per})
}

// TestClosingStampedBeforeItsAlert: a resolveTime earlier than the timestamp (the documented
// example has one) is exported once, not again at every poll.
func TestClosingStampedBeforeItsAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	ts := f.Clock.Now().Add(-time.Minute).Truncate(time.Millisecond)
	resolved := ts.Add(-time.Hour)
	f.ca.Put(sim.CloudAppsAlert{ID: "603f704aaf7417985bbf3b22", ContextID: sourcetest.TenantID, Title: "Honeytoken activity",
		ResolutionStatusValue: 2, SeverityValue: 1, Timestamp: ts, ResolveTime: &resolved}, ts)
	e := sourcetest.NewExporter(t, f.source(Options{}))
	for range 5 {
		e.MustPoll(t)
		f.Clock.Advance(time.Minute)
	}
	if len(e.Got) != 1 || len(e.Duplicates()) > 0 {
		t.Errorf("handed over %v, want the one version once", e.Got)
	}
}

// TestQuietTenantCheckpointStaysSmall: old alerts are closed while no new one is raised; the
// checkpoint keeps only what the lookback needs.
func TestQuietTenantCheckpointStaysSmall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sourcetest.Setup{})
	f.ca.Generate(400, sim.CloudAppsGenerate{From: f.Clock.Now().Add(-20 * time.Hour), To: f.Clock.Now().Add(-2 * time.Hour)})
	e := sourcetest.NewExporter(t, f.source(Options{}))
	e.MustPoll(t)
	for range 30 {
		f.Clock.Advance(time.Minute)
		f.ca.CloseRandom(5, 0)
		e.MustPoll(t)
	}
	e.CheckExactlyOnce(t, Name, f.visible())
	if n := e.Saved.Seen.Len(); n > 80 {
		t.Errorf("the checkpoint remembers %d versions; 10 minutes of closings at 5 a minute need about 55", n)
	}
}

// hostile is a source whose API answers with answer, on the simulator's TLS server (see
// sourcetest.World.Hostile), with options o (Now: the simulator's clock unless set).
func (f *fixture) hostile(t *testing.T, answer http.HandlerFunc, o Options) *Source {
	t.Helper()
	s := f.Tenant.Source(Name)
	s.APIURL = f.Hostile(t, "POST /api/v1/alerts/", answer)
	if o.Now == nil {
		o.Now = f.Clock.Now
	}
	return New(f.Tenant.Settings(s), f.API(Name, s), o)
}
