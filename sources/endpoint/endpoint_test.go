package endpoint

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/sourcetest"
)

// checkExactlyOnce fails unless every visible version was handed over and none twice.
func checkExactlyOnce(t *testing.T, f *fixture, e *sourcetest.Exporter) {
	t.Helper()
	e.CheckExactlyOnce(t, Name, f.visible())
}

func latest(t *testing.T, f *fixture, id string) time.Time {
	t.Helper()
	a, ok := f.ep.Latest(id)
	if !ok || a.LastUpdateTime == nil {
		t.Fatalf("no alert %s", id)
	}
	return *a.LastUpdateTime
}

func TestBacklogLargerThanAPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(2500, sim.EndpointGenerate{From: now.Add(-23 * time.Hour), To: now})
	f.ep.Generate(50, sim.EndpointGenerate{From: now.Add(-30 * time.Hour), To: now.Add(-25 * time.Hour)}) // before start_from
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 400}))
	e.MustPoll(t)

	vis := f.visible()
	want := 0
	for id, ts := range vis {
		if ts.Before(now.Add(-24 * time.Hour)) {
			delete(vis, id)
			continue
		}
		want++
	}
	if m := e.Missing(Name, vis); len(m) > 0 {
		t.Errorf("missing %d of %d, e.g. %v", len(m), want, m[:min(3, len(m))])
	}
	if d := e.Duplicates(); len(d) > 0 {
		t.Errorf("duplicates: %v", d[:min(3, len(d))])
	}
	if len(e.Got) != want {
		t.Errorf("exported %d versions, want %d (alerts older than start_from are not exported)", len(e.Got), want)
	}
	reqs := f.Requests(Name)
	for i, r := range reqs {
		top := "$top=400"
		if i == 0 {
			top = "$top=40" // the probe
		}
		if !strings.Contains(r.Query, top+"&") && !strings.HasSuffix(r.Query, top) || !strings.Contains(r.Query, "lastUpdateTime ge ") {
			t.Errorf("request %d %q: want a time window with %s", i, r.Query, top)
		}
		if strings.Contains(r.Query, "$skip") {
			t.Errorf("request %q pages with $skip; time windows suffice here", r.Query)
		}
	}
	t.Logf("%d alerts in %d requests", want, len(reqs))
	var newest time.Time
	for _, ts := range vis {
		if ts.After(newest) {
			newest = ts
		}
	}
	if !e.Saved.Cursor.Equal(newest) {
		t.Errorf("cursor = %v, want the newest lastUpdateTime %v", e.Saved.Cursor, newest)
	}
	if e.Saved.Origin.IsZero() {
		t.Error("the first poll's origin was not saved")
	}
}

func TestIdlePollIsOneRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	f.ep.Generate(30, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	e.MustPoll(t)
	before, saved := len(f.Requests(Name)), e.Saved
	f.Clock.Advance(time.Minute)
	emitted := 0
	err := e.Source.Poll(context.Background(), saved, func(_ context.Context, b sources.Batch) error {
		emitted += len(b.Messages) + 1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Requests(Name)) - before; n != 1 {
		t.Errorf("an idle poll made %d requests, want 1", n)
	}
	if emitted != 0 {
		t.Errorf("an idle poll emitted %d batches, want none", emitted)
	}
}

func TestAlertsUpdatedWhilePaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(1200, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 150, BatchSize: 40}))
	var mu sync.Mutex
	updated := 0
	e.During = func() {
		mu.Lock()
		defer mu.Unlock()
		f.Clock.Advance(time.Second)
		updated += len(f.ep.UpdateRandom(5, 0))
	}
	e.MustPoll(t)
	e.During = nil
	// Everything visible when the poll ended is in, except versions made after the poll's last
	// window was read: the next poll has those.
	f.Clock.Advance(time.Minute)
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
	t.Logf("%d updates during the poll, %d versions exported", updated, len(e.Got))
	if updated == 0 {
		t.Fatal("no update happened during the poll; the test proves nothing")
	}
}

func TestAlertUpdatedThreeTimes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	created := now.Add(-time.Minute)
	f.ep.Put(sim.EndpointAlert{ID: "da639310000000000000_42", Severity: "High", Status: "New", Title: "Suspicious PowerShell",
		Category: "Execution", DetectionSource: "WindowsDefenderAtp", AlertCreationTime: &created, LastUpdateTime: &now}, now)
	ids := []string{"da639310000000000000_42"}
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	e.MustPoll(t)
	for i, st := range []string{"InProgress", "InProgress", "Resolved"} {
		f.Clock.Advance(time.Minute)
		if err := f.ep.Update(ids[0], func(a *sim.EndpointAlert) {
			a.Status = st
			if i == 1 {
				c := "TruePositive"
				a.Classification = &c
			}
		}, 0); err != nil {
			t.Fatal(err)
		}
		e.MustPoll(t)
		e.MustPoll(t) // a second poll in the overlap re-reads the version and sends nothing
	}
	var events []string
	for _, v := range f.ep.Versions() {
		id := msgID(v.ID, v.LastUpdateTime)
		if e.Got[id] != 1 {
			t.Errorf("version %v handed over %d times, want 1", v.LastUpdateTime, e.Got[id])
		}
		if env := e.Envs[id]; env != nil {
			events = append(events, env.Event)
		}
	}
	if want := []string{"created", "updated", "updated", "updated"}; !slices.Equal(events, want) {
		t.Errorf("events = %v, want %v", events, want)
	}
}

func TestLateIndexing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{lookback: "10m"})
	var mu sync.Mutex
	var late []time.Duration
	src := f.newSource(Options{Late: func(d time.Duration) { mu.Lock(); late = append(late, d); mu.Unlock() }})
	e := sourcetest.NewExporter(t, src)
	f.ep.Generate(20, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e.MustPoll(t)

	// Indexed 3 minutes after its update (inside the lookback), then one 25 minutes late.
	inside := f.ep.Generate(1, sim.EndpointGenerate{VisibleAfter: 3 * time.Minute})
	outside := f.ep.Generate(1, sim.EndpointGenerate{VisibleAfter: 25 * time.Minute})
	insideVer, outsideVer := latest(t, f, inside[0]), latest(t, f, outside[0])
	for range 30 {
		f.Clock.Advance(time.Minute)
		f.ep.Generate(1, sim.EndpointGenerate{}) // traffic moves the cursor on
		e.MustPoll(t)
	}
	if !e.Has(Name, inside[0], insideVer) {
		t.Error("an alert indexed 3 minutes late (lookback 10m) was not exported")
	}
	if e.Has(Name, outside[0], outsideVer) {
		t.Error("an alert indexed 25 minutes late was exported; with lookback 10m the documented behaviour is that the live poll misses it (backfill recovers it)")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(late) != 1 || late[0] <= 0 || late[0] > 10*time.Minute {
		t.Errorf("late reports = %v, want one between 0 and the lookback", late)
	}
	if d := e.Duplicates(); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
}

func TestEqualLastUpdateTimeAcrossPages(t *testing.T) {
	t.Parallel()
	for _, sameCreation := range []bool{false, true} {
		name := "creation times differ"
		if sameCreation {
			name = "creation times equal too"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			at := f.Clock.Now().Add(-time.Hour).Add(123456700 * time.Nanosecond)
			f.ep.Generate(20, sim.EndpointGenerate{From: at.Add(-time.Hour), To: at.Add(-time.Minute)})
			f.ep.Generate(500, sim.EndpointGenerate{From: at, To: at, SameCreationTime: sameCreation})
			f.ep.Generate(20, sim.EndpointGenerate{From: at.Add(time.Minute), To: f.Clock.Now()})
			e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 100}))
			e.MustPoll(t)
			e.MustPoll(t)
			checkExactlyOnce(t, f, e)
			if len(e.Got) != 540 {
				t.Errorf("exported %d, want 540", len(e.Got))
			}
			skips := 0
			for _, r := range f.Requests(Name) {
				if strings.Contains(r.Query, "$skip") {
					skips++
				}
			}
			if sameCreation != (skips > 0) {
				t.Errorf("%d requests with $skip; want them only when nothing else can narrow the window", skips)
			}
		})
	}
}

func TestThrottledWithRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	f.ep.Generate(10, sim.EndpointGenerate{})
	f.ep.Fail(1, sim.APIFault{Status: 429, RetryAfter: 2 * time.Second})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
	reqs := f.Requests(Name)
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 {
		t.Fatalf("requests = %+v, want a 429 then a 200", reqs)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 2*time.Second {
		t.Errorf("asked again %v after a 429 with Retry-After: 2", gap)
	}
}

func TestTruncatedPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	f.ep.Generate(300, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e := sourcetest.NewExporter(t, f.newSource(Options{BatchSize: 50}))
	e.MustPoll(t)
	before := e.Saved

	f.Clock.Advance(time.Minute)
	f.ep.Generate(200, sim.EndpointGenerate{})
	f.ep.Fail(int(sourcetest.FastRetry.MaxTries), sim.APIFault{Truncate: true})
	exported := maps.Clone(e.Got)
	err := e.Poll(context.Background())
	var be *httpclient.BodyError
	if !errors.As(err, &be) {
		t.Fatalf("poll = %v, want it to fail on the broken body", err)
	}
	if !e.Saved.Cursor.Equal(before.Cursor) || e.Saved.Seen.Len() != before.Seen.Len() {
		t.Errorf("the checkpoint moved (cursor %v) after a failed poll, want %v", e.Saved.Cursor, before.Cursor)
	}
	// What the failed poll handed over, JetStream stored; the next poll sends it again with the
	// same message IDs and JetStream drops the repeats. Forget it here, so that the next poll
	// must bring everything.
	t.Logf("the failed poll handed over %d versions", len(e.Got)-len(exported))
	e.Got = exported
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
}

func TestServerErrorsFailThePollCleanly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	f.ep.Generate(5, sim.EndpointGenerate{})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	f.ep.Fail(100, sim.APIFault{Status: 500})
	err := e.Poll(context.Background())
	var ae *httpclient.Error
	if !errors.As(err, &ae) || ae.Status != 500 {
		t.Fatalf("poll = %v, want an *httpclient.Error with status 500", err)
	}
	if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "InternalServerError") {
		t.Errorf("error %q should name the status and the API's error code", err)
	}
	if strings.Contains(err.Error(), "lastUpdateTime ge") {
		t.Errorf("error %q should not carry the query's values", err)
	}
	if n := len(f.Requests(Name)); n != int(sourcetest.FastRetry.MaxTries) {
		t.Errorf("%d requests, want %d (retried up to the bound)", n, sourcetest.FastRetry.MaxTries)
	}
	if !e.Saved.Cursor.IsZero() || len(e.Got) != 0 {
		t.Error("a failed poll handed something over")
	}
}

func TestForbiddenIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{roles: []string{"Machine.Read.All"}})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	err := e.Poll(context.Background())
	var ae *httpclient.Error
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("poll = %v, want a 403", err)
	}
	if !strings.Contains(err.Error(), "Alert.Read.All") || !strings.Contains(err.Error(), "admin consent") {
		t.Errorf("error %q should say which permission to grant", err)
	}
	if n := len(f.Requests(Name)); n != 1 {
		t.Errorf("%d requests, want 1: a 403 does not go away by asking again", n)
	}
}

func TestTokenExpiryMidBackfill(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(1500, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now.Add(-time.Hour)})
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 200, BatchSize: 100}))
	emits, jumped := 0, false
	e.During = func() {
		if emits++; emits > 1 && !jumped { // after a page was read with the first token
			// Two hours pass for the simulator: the token MSAL cached (valid by the local clock)
			// has expired for the API.
			f.Clock.Advance(2 * time.Hour)
			jumped = true
		}
	}
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
	st := f.Calls.Statuses()
	if st[401] != 1 {
		t.Errorf("calls by status = %v, want exactly one 401", st)
	}
	if n := f.Sim.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2 (the first and one renewal)", n)
	}
}

func TestMinSeverityFiltersOnTheServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{minSeverity: "medium"})
	f.ep.Generate(300, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	e.MustPoll(t)
	q, _ := url.ParseQuery(f.Requests(Name)[0].Query)
	if fl := q.Get("$filter"); !strings.Contains(fl, "severity ne 'Informational' and severity ne 'Low'") {
		t.Errorf("$filter %q does not filter severities on the server", fl)
	}
	counts := map[string]int{}
	for _, env := range e.Envs {
		counts[env.Severity]++
	}
	if counts["low"]+counts["informational"] > 0 || counts["medium"] == 0 || counts["high"] == 0 {
		t.Errorf("severities exported = %v, want medium, high (and unknown) only", counts)
	}
}

func TestFirstPollReachesBackStartFrom(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	e := sourcetest.NewExporter(t, f.newSource(Options{}))
	e.MustPoll(t) // an empty tenant
	q, _ := url.ParseQuery(f.Requests(Name)[0].Query)
	want := "lastUpdateTime ge " + literal(f.Clock.Now().Add(-24*time.Hour))
	if fl := q.Get("$filter"); !strings.HasPrefix(fl, want) {
		t.Errorf("first $filter = %q, want it to start with %q", fl, want)
	}
	// With nothing exported yet, later polls keep reaching back to the origin.
	origin := e.Saved.Origin
	f.Clock.Advance(2 * time.Hour)
	e.MustPoll(t)
	q, _ = url.ParseQuery(f.Requests(Name)[1].Query)
	if fl := q.Get("$filter"); !strings.HasPrefix(fl, "lastUpdateTime ge "+literal(origin)) {
		t.Errorf("second $filter = %q, want it to start at the origin %v", fl, origin)
	}
}

func TestBrokenPagesAreRetried(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]sim.APIFault{
		"truncated": {Truncate: true}, "invalid JSON": {InvalidJSON: true}, "503": {Status: 503}, "dropped": {Drop: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			f.ep.Generate(400, sim.EndpointGenerate{From: f.Clock.Now().Add(-time.Hour), To: f.Clock.Now()})
			f.ep.Fail(2, fault)
			e := sourcetest.NewExporter(t, f.newSource(Options{BatchSize: 50}))
			e.MustPoll(t)
			if n := len(f.Requests(Name)); n < 3 && !fault.Drop {
				t.Errorf("%d requests, want the 2 failures and a success", n)
			}
			// A broken page may have handed over some alerts before it broke; the retry does not
			// hand them over again.
			checkExactlyOnce(t, f, e)
		})
	}
}

// TestClientLimiter: with the API enforcing its limits (scaled down in time here), the
// client-side limiter keeps every request under them: no 429 at all.
func TestClientLimiter(t *testing.T) {
	t.Parallel()
	limits := []sim.RateLimit{{Requests: 10, Per: time.Second}, {Requests: 25, Per: 3 * time.Second}}
	f := newFixture(t, setup{rateLimits: limits})
	f.ep.Generate(5, sim.EndpointGenerate{})
	src := f.newSource(Options{})
	src.api.Limiter = httpclient.NewLimiter(httpclient.Limit{Requests: 10, Per: time.Second}, httpclient.Limit{Requests: 25, Per: 3 * time.Second})
	e := sourcetest.NewExporter(t, src)
	for range 40 {
		e.MustPoll(t)
	}
	if st := f.Calls.Statuses(); st[429] > 0 || st[200] != 40 {
		t.Errorf("calls by status = %v, want 40 × 200 and no 429", st)
	}
}

// TestDeadLetters: an alert the source cannot decode or version is handed over as a dead letter
// with its bytes and the reason, never dropped and never fatal; the alerts around it go on.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	src := f.newSource(Options{})
	var got []sources.Message
	p := src.newPoll(sources.Checkpoint{}, func(_ context.Context, b sources.Batch) error {
		got = append(got, b.Messages...)
		return nil
	})
	for _, raw := range []string{
		`{"id":"a","lastUpdateTime":"2025-01-01T00:00:00Z","severity":7}`,
		`{"id":"b","lastUpdateTime":"not a time"}`,
		`{"lastUpdateTime":"2025-01-01T00:00:00Z","title":"no id"}`,
		`{"id":"c","lastUpdateTime":"2025-01-01T00:00:00Z","title":"fine"}`,
		`"not an alert"`,
		"{\"id\":\"d\",\"lastUpdateTime\":\"2025-01-01T00:00:00Z\",\"title\":\"\xff\xfe\"}",
	} {
		var st stats
		if err := p.take(context.Background(), []byte(raw), &st); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	if err := p.Flush(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var dead, alerts int
	for _, m := range got {
		switch {
		case m.Alert != nil:
			alerts++
		case m.Err == nil || len(m.Raw) == 0 || m.MsgID == "" || m.Tenant != "contoso" || m.Source != Name:
			t.Errorf("dead letter without reason, bytes, message ID, tenant or source: %+v", m)
		default:
			dead++
			// With an id and a lastUpdateTime a dead letter keeps its version's message ID.
			if !strings.HasPrefix(m.MsgID, "contoso.endpoint.deadletter.") && !strings.HasPrefix(m.MsgID, "contoso.endpoint.a.") && !strings.HasPrefix(m.MsgID, "contoso.endpoint.d.") {
				t.Errorf("dead letter msg ID %q", m.MsgID)
			}
		}
	}
	if dead != 5 || alerts != 1 {
		t.Errorf("%d dead letters and %d alerts, want 5 and 1", dead, alerts)
	}
}

// TestCrowdedInstantWithoutCreationTimes: more than a page of alerts share one lastUpdateTime
// and have no alertCreationTime, and one at that instant has one; all are exported.
func TestCrowdedInstantWithoutCreationTimes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	at := f.Clock.Now().Add(-time.Hour)
	created := at.Add(-time.Minute)
	for i := range 301 {
		a := sim.EndpointAlert{ID: fmt.Sprintf("da639300000000000000_%d", i), Severity: "Low", Status: "New",
			Title: "crowded", Category: "Execution", DetectionSource: "WindowsDefenderAtp", LastUpdateTime: &at}
		if i == 300 {
			a.AlertCreationTime = &created
		}
		f.ep.Put(a, at)
	}
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 100}))
	e.MustPoll(t)
	checkExactlyOnce(t, f, e)
	if len(e.Got) != 301 {
		t.Errorf("exported %d, want 301", len(e.Got))
	}
}

// TestBacklogCheckpointStaysSmall: a backlog of many pages is split into windows read earliest
// first; the alerts full answers showed ahead of the cursor are not written into the
// checkpoint, which stays at about the lookback's alerts — not thousands that would outgrow
// NATS's max_payload (1 MiB by default) and stop the job for good. Everything arrives once.
func TestBacklogCheckpointStaysSmall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(12000, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now}) // 100 per 10 minutes
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 1000}))
	most := 0
	e.During = func() {
		if n := e.Saved.Seen.Len(); n > most {
			most = n
		}
	}
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	if most > 500 {
		t.Errorf("a checkpoint held %d versions; the lookback (10 min) holds about 100", most)
	}
}

// TestBacklogReadAboutOnce: a backlog ten times a page is read about once, plus the first full
// answer: the full answer's sample sizes the windows after it, instead of halving windows until
// they fit (which read every alert 2.5 times). Everything arrives once. The simulator answers in
// an order of its own for each server, and a piece aimed two sampling errors under a page still
// comes back full about once in fifty (a page read again): in 349 orders, 74 % of polls read
// 1.01×, 24 % 1.11×, 2 % 1.21×, one 1.41×. So three backlogs are read, each in its own order,
// and two must stay within 1.3× (and none over 1.6×, what halving reads at least).
func TestBacklogReadAboutOnce(t *testing.T) {
	t.Parallel()
	within := 0
	for i := range 3 {
		amp := readBacklog(t)
		t.Logf("backlog %d: read %.2f×", i+1, amp)
		if amp <= 1.3 {
			within++
		}
		if amp > 1.6 {
			t.Errorf("backlog %d: read amplification %.2f, want ≤ 1.3 (and never over 1.6)", i+1, amp)
		}
	}
	if within < 2 {
		t.Errorf("%d of 3 backlogs read within 1.3×, want at least 2", within)
	}
}

// readBacklog exports a backlog of 20,000 alerts in 2,000-alert pages, each once, and returns
// the alerts served over the alerts.
func readBacklog(t *testing.T) float64 {
	t.Helper()
	f := newFixture(t, setup{})
	now := f.Clock.Now()
	f.ep.Generate(20000, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	e := sourcetest.NewExporter(t, f.newSource(Options{PageSize: 2000}))
	e.MustPoll(t)
	e.CheckExactlyOnce(t, Name, f.visible())
	served, full := 0, 0
	reqs := f.Requests(Name)
	for _, r := range reqs {
		served += r.Results
		if r.Results == 2000 {
			full++
		}
	}
	t.Logf("%d requests (%d full) served %d alerts for 20,000", len(reqs), full, served)
	return float64(served) / 20000
}

// TestCarve: the pieces cut off a sampled window cover it in order, without gaps; a window
// that has just come back full is always cut narrower, whatever its sample (one alert, every
// alert at its start); the first piece takes a sixteenth of the sample, later ones what the
// learned density says fills 90 % of a page two sampling errors ahead.
func TestCarve(t *testing.T) {
	lo := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) int64 { return lo.Add(time.Duration(s) * time.Second).UnixNano() }
	seq := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	tests := []struct {
		name      string
		hi        time.Time // zero: open-ended
		sample    []int64
		per       float64
		fresh     bool
		wantParts int
		wantFirst int // sampled alerts in the first piece
	}{
		{name: "first cut takes a sixteenth", sample: seq(1600), fresh: true, wantParts: 2, wantFirst: 100},
		{name: "density sizes the piece", sample: seq(1600), per: 4, wantParts: 2, wantFirst: 196}, // k + 2√k = 0.9 × 1000 / 4
		{name: "the rest fits: asked whole", sample: seq(150), per: 4, wantParts: 1, wantFirst: 150},
		{name: "a fresh window is cut even when it would fit", sample: seq(150), per: 4, fresh: true, wantParts: 2, wantFirst: 149},
		{name: "one sampled alert", sample: []int64{at(5)}, fresh: true, wantParts: 2, wantFirst: 0},
		{name: "every sampled alert at the start", sample: []int64{at(0), at(0), at(0)}, fresh: true, wantParts: 2, wantFirst: 3},
		{name: "equal times stay on one side", sample: []int64{at(0), at(1), at(1), at(1), at(2)}, per: 400, fresh: true, wantParts: 2, wantFirst: 1},
		{name: "bounded window", hi: lo.Add(time.Hour), sample: seq(1600), fresh: true, wantParts: 2, wantFirst: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := window{upd: span{lo: lo, hi: tt.hi}, sample: tt.sample, dens: &density{per: tt.per}}
			parts := carve(w, 1000, tt.fresh)
			if len(parts) != tt.wantParts {
				t.Fatalf("%d parts %+v, want %d", len(parts), parts, tt.wantParts)
			}
			if parts[0].sampled != tt.wantFirst {
				t.Errorf("first piece has %d sampled alerts, want %d", parts[0].sampled, tt.wantFirst)
			}
			// Contiguous cover of [lo, hi), each part narrower than w when fresh.
			next := w.upd.lo
			for i, p := range parts {
				if !p.upd.lo.Equal(next) {
					t.Errorf("part %d starts at %v, want %v", i, p.upd.lo, next)
				}
				if tt.fresh && p.upd == w.upd {
					t.Errorf("part %d is the whole fresh window: no progress", i)
				}
				next = p.upd.hi
			}
			if !next.Equal(w.upd.hi) {
				t.Errorf("the parts end at %v, want %v", next, w.upd.hi)
			}
			// The sample is shared out: the piece's and the rest's add up.
			n := parts[0].sampled
			if len(parts) == 2 {
				n += len(parts[1].sample)
			}
			if n != len(tt.sample) {
				t.Errorf("%d sampled alerts across the parts, want %d", n, len(tt.sample))
			}
		})
	}
}
