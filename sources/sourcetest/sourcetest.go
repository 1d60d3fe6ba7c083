// Package sourcetest is what the sources' tests share: a simulated tenant with the real config
// loader, MSAL provider and API client pointed at it, and an Exporter that plays the worker and
// JetStream for a source (keeping the checkpoint through JSON, counting every message ID).
package sourcetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/envelope/envelopetest"
	"github.com/alertexport/alertexport/sources/httpclient"
)

// The simulated tenant and its app.
const (
	TenantID = "a839b112-1253-6432-9bf6-94542403f21c"
	ClientID = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
	secret   = "s3cr3t-Value~ABC"
)

// Clock is the simulator's clock, which tests move: alert times, late indexing and token
// expiry follow it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Setup configures a World; zero fields take the defaults named.
type Setup struct {
	Lookback    string // default 10m
	MinSeverity string // for every source
	// ServiceSources is [tenant.graph] service_sources.
	ServiceSources []string
	Roles          map[string][]string // resource → roles; nil = the read role of each API
	Options        sim.Options         // Now and Seed are set here; rate limits default to none
}

// World is a simulator with one tenant, and the product's config, provider and HTTP client.
type World struct {
	Sim      *sim.Server
	Clock    *Clock
	Tenant   config.Tenant
	Provider *auth.Provider
	HTTP     *http.Client
	Calls    *CallLog

	hostile atomic.Int32 // prefixes handed out by Hostile
}

// New starts the world; every source (endpoint, cloudapps, graph, incidents) is enabled in its config.
func New(t testing.TB, s Setup) *World {
	t.Helper()
	c := &Clock{t: time.Now().UTC().Truncate(time.Second)}
	o := s.Options
	o.Now, o.Seed = c.Now, 7
	// No API limits the tests unless Setup.Options chooses otherwise.
	limits := map[string]sim.RateLimits{sim.APIEndpoint: sim.NoRateLimits(), sim.APICloudApps: sim.NoRateLimits(), sim.APIGraph: sim.NoRateLimits(),
		sim.APIIncidents: sim.NoRateLimits()}
	maps.Copy(limits, o.RateLimits)
	o.RateLimits = limits
	srv, err := sim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.AddReader(sim.Reader{ClientID: ClientID, Secret: secret, Roles: s.Roles}, TenantID)
	if s.Lookback == "" {
		s.Lookback = "10m"
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	sev := fmt.Sprintf("min_severity = %q", s.MinSeverity)
	doc := fmt.Sprintf(`
[worker]
ca_file = %q
[defaults]
lookback = %q
start_from = "24h"
`, ca, s.Lookback) + sim.TenantTable{Name: "contoso", TenantID: TenantID, ClientID: ClientID, SecretEnv: "CONTOSO_SECRET",
		Sources: []sim.SourceTable{
			{Source: "endpoint", Lines: []string{sev}},
			{Source: "cloudapps", Lines: []string{sev}},
			{Source: "graph", Lines: []string{sev, "service_sources = " + tomlList(s.ServiceSources)}},
			{Source: "incidents", Lines: []string{sev}},
		}}.TOML(srv.URL())
	env := func(k string) (string, bool) {
		if k == "CONTOSO_SECRET" {
			return secret, true
		}
		return "", false
	}
	cfg, _, cerr := config.Parse(filepath.Join(dir, "config.toml"), []byte(doc), env)
	if cerr != nil {
		t.Fatal(cerr)
	}
	hc, err := httpclient.New(httpclient.Options{CAFile: cfg.Worker.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections) // before the simulator stops: it would wait for HTTP/2 clients
	tenant := cfg.Tenants[0]
	prov, err := auth.New(tenant, auth.Options{HTTPClient: hc, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return &World{Sim: srv, Clock: c, Tenant: tenant, Provider: prov, HTTP: hc, Calls: &CallLog{}}
}

func tomlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// FastRetry keeps failing tests short; production uses httpclient.DefaultRetry.
var FastRetry = httpclient.Retry{MaxTries: 4, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: 10 * time.Second}

// API is the API client the worker would build for source s, with FastRetry and no limiter
// (tests of many polls would be slow with it; set one to test it).
func (w *World) API(name string, s config.Source) *httpclient.API {
	return &httpclient.API{Name: name, Tenant: w.Tenant.Name, HTTP: w.HTTP, Tokens: w.Provider, Scope: s.Scope,
		Retry: FastRetry, Observe: w.Calls.Add}
}

// Requests lists the simulator's log of calls to api.
func (w *World) Requests(api string) []sim.APIRequest {
	var out []sim.APIRequest
	for _, r := range w.Sim.APIRequests() {
		if r.API == api {
			out = append(out, r)
		}
	}
	return out
}

// CallLog records the API client's calls, as the metrics will.
type CallLog struct {
	mu    sync.Mutex
	calls []httpclient.Call
}

// Add records a call (httpclient.API.Observe).
func (l *CallLog) Add(c httpclient.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// Statuses counts the calls by HTTP status.
func (l *CallLog) Statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[int]int{}
	for _, c := range l.calls {
		m[c.Status]++
	}
	return m
}

// Exporter plays the worker and JetStream for a source: it keeps the saved checkpoint (through
// JSON, as storage would) and counts every message ID it is handed.
type Exporter struct {
	t      testing.TB
	Source sources.Source

	mu    sync.Mutex
	Saved sources.Checkpoint
	Got   map[string]int             // msg ID → times handed over
	Envs  map[string]*envelope.Alert // every body, read as an alert (an incident's common keys too)
	// Incidents are the incident envelopes among them, by message ID.
	Incidents map[string]*envelope.Incident
	Dead      []sources.Message
	// During, if set, runs inside every Emit: the world changing while the poll pages.
	During func()
}

// NewExporter returns an exporter for src.
func NewExporter(t testing.TB, src sources.Source) *Exporter {
	return &Exporter{t: t, Source: src, Got: map[string]int{}, Envs: map[string]*envelope.Alert{}, Incidents: map[string]*envelope.Incident{}}
}

// Emit implements sources.Emit.
func (e *Exporter) Emit(_ context.Context, b sources.Batch) error {
	e.mu.Lock()
	for _, m := range b.Messages {
		e.Got[m.MsgID]++
		if m.Alert != nil {
			body := m.Body
			if body == nil {
				var err error
				if body, err = envelope.Marshal(m.Alert); err != nil {
					e.t.Errorf("%s: %v", m.MsgID, err)
				}
			}
			envelopetest.Check(e.t, m.MsgID, body)
			var env envelope.Alert // as subscribers will read it
			if err := json.Unmarshal(body, &env); err != nil {
				e.t.Errorf("%s: the body is not an envelope: %v", m.MsgID, err)
			}
			e.Envs[m.MsgID] = &env
			if env.Schema == envelope.IncidentSchema {
				var in envelope.Incident
				if err := json.Unmarshal(body, &in); err != nil {
					e.t.Errorf("%s: the body is not an incident envelope: %v", m.MsgID, err)
				}
				e.Incidents[m.MsgID] = &in
			}
		} else {
			e.Dead = append(e.Dead, m)
		}
	}
	if b.Checkpoint != nil {
		data, err := json.Marshal(b.Checkpoint)
		if err != nil {
			e.t.Fatalf("checkpoint: %v", err)
		}
		var cp sources.Checkpoint
		if err := json.Unmarshal(data, &cp); err != nil {
			e.t.Fatalf("checkpoint: %v", err)
		}
		e.Saved = cp
	}
	during := e.During
	e.mu.Unlock()
	if during != nil {
		during()
	}
	return nil
}

// Poll runs one poll from the saved checkpoint.
func (e *Exporter) Poll(ctx context.Context) error {
	e.mu.Lock()
	cp := e.Saved
	e.mu.Unlock()
	return e.Source.Poll(ctx, cp, e.Emit)
}

// MustPoll polls and fails the test on an error.
func (e *Exporter) MustPoll(t testing.TB) {
	t.Helper()
	if err := e.Poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

// Duplicates lists the message IDs handed over more than once.
func (e *Exporter) Duplicates() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var d []string
	for id, n := range e.Got {
		if n > 1 {
			d = append(d, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	return d
}

// Has reports whether the version of alert id at t, of source, was handed over.
func (e *Exporter) Has(source, id string, t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Got[envelope.MsgID("contoso", source, id, t)] > 0
}

// Missing lists the versions (alert ID → version time) the exporter does not have.
func (e *Exporter) Missing(source string, want map[string]time.Time) []string {
	var m []string
	for id, t := range want {
		if !e.Has(source, id, t) {
			m = append(m, id+"@"+t.Format(time.RFC3339Nano))
		}
	}
	return m
}

// CheckExactlyOnce fails unless every wanted version was handed over, none twice, and no
// alert was exported as created twice.
func (e *Exporter) CheckExactlyOnce(t testing.TB, source string, want map[string]time.Time) {
	t.Helper()
	if d := e.Duplicates(); len(d) > 0 {
		t.Errorf("%d versions handed over more than once, e.g. %v", len(d), d[:min(5, len(d))])
	}
	if m := e.Missing(source, want); len(m) > 0 {
		t.Errorf("%d visible versions never exported, e.g. %v", len(m), m[:min(5, len(m))])
	}
	created := map[string]int{}
	e.mu.Lock()
	for _, env := range e.Envs {
		if env.Event == envelope.Created {
			created[env.ID]++
		}
	}
	e.mu.Unlock()
	for id, n := range created {
		if n > 1 {
			t.Errorf("alert %s was exported as created %d times", id, n)
		}
	}
}

// Golden normalizes every alert in testdata/alerts/*.json with normalize (given the alert's
// compacted bytes) and compares each whole envelope, indented, with testdata/golden/<name>.json;
// with update it rewrites the golden files instead (review the diff). It also checks that raw
// carries the alert's bytes unchanged.
func Golden(t *testing.T, update bool, normalize func(raw []byte) (*envelope.Alert, error)) {
	t.Helper()
	files, err := filepath.Glob("testdata/alerts/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test alerts: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil {
				t.Fatal(err)
			}
			raw = c.Bytes()
			env, err := normalize(raw)
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			body, err := envelope.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(body, raw) {
				t.Error("raw is not the alert's bytes unchanged")
			}
			envelopetest.Check(t, name, body)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("envelope differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}

// Count tells the alerts from the dead letters among msgs, failing the test for a dead letter
// without a reason or a message ID.
func Count(t testing.TB, msgs []sources.Message) (alerts, dead int) {
	t.Helper()
	for _, m := range msgs {
		if m.Alert != nil {
			alerts++
			continue
		}
		dead++
		if m.Err == nil || m.MsgID == "" {
			t.Errorf("dead letter without reason or ID: %+v", m)
		}
	}
	return alerts, dead
}

// HeldLog records the versions a source reports as held back from its cursor
// (sources.Options.HeldBack), by reason.
type HeldLog struct {
	mu      sync.Mutex
	reasons map[string]int
}

// Add records one (sources.Options.HeldBack).
func (l *HeldLog) Add(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reasons == nil {
		l.reasons = map[string]int{}
	}
	l.reasons[reason]++
}

// Count is how many versions were held back for reason.
func (l *HeldLog) Count(reason string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reasons[reason]
}

// Hostile serves answer on the simulator's TLS server for requests to route ("GET /api/alerts":
// a method and an API's path), under a path prefix of its own: the answers an independent
// implementation or a broken proxy may give, which the simulator never does. The returned URL is
// the api_url of a source that reads them (its tokens still come from the simulator's Entra ID).
func (w *World) Hostile(t testing.TB, route string, answer http.HandlerFunc) string {
	t.Helper()
	method, path, ok := strings.Cut(route, " ")
	if !ok {
		t.Fatalf("Hostile: route %q is not \"METHOD /path\"", route)
	}
	prefix := fmt.Sprintf("/hostile%d", w.hostile.Add(1))
	w.Sim.Handle(method+" "+prefix+path, answer)
	return w.Sim.URL() + prefix
}

// DateCases are the Date headers a source must survive with a version dated 2099 in the API:
// the service's clock (nil), none, and wrong ones (SetDateHeader). With any of them the cursor
// stays at the service's clock, or at this machine's.
var DateCases = []struct {
	Name string
	Date func(now time.Time) string
}{
	{Name: "2099"},
	{Name: "2099 with the Date header missing", Date: func(time.Time) string { return "" }},
	{Name: "2099 with a wrong Date in 2099", Date: func(time.Time) string {
		return time.Date(2099, 1, 1, 1, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	}},
	{Name: "2099 with a wrong Date at the Unix epoch", Date: func(time.Time) string { return time.Unix(0, 0).UTC().Format(http.TimeFormat) }},
}

// PollUnderTheClock polls rounds times, failing the test as soon as a cursor of the saved
// checkpoint passes the simulator's clock plus sources.Ahead; between polls the clock moves a
// minute and arrive adds what the API shows next.
func (e *Exporter) PollUnderTheClock(t testing.TB, clock *Clock, rounds int, arrive func()) {
	t.Helper()
	for range rounds {
		e.MustPoll(t)
		limit := clock.Now().Add(sources.Ahead)
		if c, r := e.Saved.Cursor, e.Saved.ResolutionCursor; c.After(limit) || r.After(limit) {
			t.Fatalf("the cursors (%v, resolution %v) passed the service's clock plus a minute (%v)", c, r, limit)
		}
		clock.Advance(time.Minute)
		arrive()
	}
}

// ZeroDate is Windows' zero date, which APIs and proxies send for "no date".
var ZeroDate = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckZeroDate checks polls of a page holding an alert and an undecodable alert (a dead letter
// with a version) both dated ZeroDate — zeroIDs — and the alert nextID at next: each was handed
// over once, the broken one as a dead letter, both were held back as before 2000, and the
// cursor stands at next.
func (e *Exporter) CheckZeroDate(t testing.TB, source string, held *HeldLog, zeroIDs [2]string, nextID string, next time.Time) {
	t.Helper()
	e.CheckExactlyOnce(t, source, map[string]time.Time{zeroIDs[0]: ZeroDate, zeroIDs[1]: ZeroDate, nextID: next})
	e.mu.Lock()
	dead, cursor := len(e.Dead), e.Saved.Cursor
	e.mu.Unlock()
	if dead != 1 {
		t.Errorf("%d dead letters, want the broken one", dead)
	}
	if !cursor.Equal(next) {
		t.Errorf("cursor = %v, want the next alert's %v", cursor, next)
	}
	if n := held.Count(sources.HeldAncient); n != 2 {
		t.Errorf("held back (before 2000) %d times, want 2", n)
	}
}

// SkewedClock is a local clock off the simulator's by a set amount until Fix: a machine whose
// time sync has failed.
type SkewedClock struct {
	clock *Clock
	off   atomic.Int64
}

// Skewed returns a local clock by off the simulator's (negative: behind).
func (c *Clock) Skewed(off time.Duration) *SkewedClock {
	s := &SkewedClock{clock: c}
	s.off.Store(int64(off))
	return s
}

// Now is the skewed time.
func (s *SkewedClock) Now() time.Time { return s.clock.Now().Add(time.Duration(s.off.Load())) }

// Fix puts the clock right.
func (s *SkewedClock) Fix() { s.off.Store(0) }

// Newest is the oracle of a simulated API's versions: each item's newest version visible at
// now. version(i) describes the i-th of n versions the simulator lists.
func Newest(now time.Time, n int, version func(i int) (id string, at, visibleAt time.Time)) map[string]time.Time {
	out := map[string]time.Time{}
	for i := range n {
		id, at, visible := version(i)
		if !visible.After(now) {
			if cur, ok := out[id]; !ok || at.After(cur) {
				out[id] = at
			}
		}
	}
	return out
}

// Backfill runs src's backfill of [since, until) and counts the message IDs it hands over,
// failing the test on an error or on a checkpoint (a backfill leaves the live ones alone).
func Backfill(t testing.TB, src sources.Backfiller, since, until time.Time) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := src.Backfill(context.Background(), since, until, func(_ context.Context, b sources.Batch) error {
		if b.Checkpoint != nil {
			t.Error("backfill handed over a checkpoint")
		}
		for _, m := range b.Messages {
			got[m.MsgID]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	return got
}

// CheckBackfill fails unless got, what a backfill of [since, until) handed over, holds each
// version of want (ID → version) in that range exactly once, and only versions the live
// export e handed over too (a backfill repeats the live message IDs).
func (e *Exporter) CheckBackfill(t testing.TB, source string, got map[string]int, want map[string]time.Time, since, until time.Time) {
	t.Helper()
	in := 0
	for id, v := range want {
		if v.Before(since) || !v.Before(until) {
			continue
		}
		in++
		if n := got[envelope.MsgID("contoso", source, id, v)]; n != 1 {
			t.Errorf("%s at %v: backfilled %d times, want once", id, v, n)
		}
	}
	if len(got) != in || in == 0 {
		t.Errorf("backfill exported %d versions, want the %d in the range", len(got), in)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range got {
		if e.Got[id] == 0 {
			t.Errorf("backfill message %s has no live twin", id)
		}
	}
}
