package endpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/simulator"
)

const (
	tenantID = "a839b112-1253-6432-9bf6-94542403f21c"
	clientID = "0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d"
	secret   = "s3cr3t-Value~ABC"
	mde      = "https://api.securitycenter.microsoft.com"
)

// clock is the simulator's clock, which tests move: alert times, late indexing and token
// expiry follow it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a simulator with one tenant whose app may read alerts, and the real config,
// MSAL provider and API client pointed at it.
type fixture struct {
	sim    *simulator.Server
	clock  *clock
	ep     *simulator.EndpointTenant
	tenant config.Tenant
	source config.Source
	prov   *auth.Provider
	hc     *http.Client
	calls  *callLog
}

// setup configures a fixture; fields left zero take the defaults below.
type setup struct {
	minSeverity string
	lookback    string // default 10m
	roles       []string
	rateLimits  []simulator.RateLimit // nil = none (tests that want Microsoft's pass them)
}

func newFixture(t testing.TB, s setup) *fixture {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	limits := s.rateLimits
	if limits == nil {
		limits = []simulator.RateLimit{}
	}
	sim, err := simulator.Start(simulator.Options{Now: c.Now, Seed: 7, EndpointRateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddTenant(tenantID)
	sim.RegisterApp(simulator.App{ClientID: clientID, Secrets: []simulator.Secret{{Value: secret}}})
	roles := s.roles
	if roles == nil {
		roles = []string{"Alert.Read.All"}
	}
	sim.Grant(tenantID, clientID, mde, roles...)

	if s.lookback == "" {
		s.lookback = "10m"
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`
[worker]
ca_file = %q
[[tenant]]
name = "contoso"
tenant_id = %q
client_id = %q
client_secret_env = "CONTOSO_SECRET"
authority_host = %q
[tenant.endpoint]
api_url = %q
min_severity = %q
lookback = %q
start_from = "24h"
`, ca, tenantID, clientID, sim.URL(), sim.URL(), s.minSeverity, s.lookback)
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
	tenant := cfg.Tenants[0]
	prov, err := auth.New(tenant, auth.Options{HTTPClient: hc, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections) // before the simulator stops: it would wait for HTTP/2 clients
	return &fixture{sim: sim, clock: c, ep: sim.Endpoint(tenantID), tenant: tenant, source: tenant.Endpoint, prov: prov, hc: hc, calls: &callLog{}}
}

// callLog records the API client's calls, as the metrics will.
type callLog struct {
	mu    sync.Mutex
	calls []httpclient.Call
}

func (l *callLog) add(c httpclient.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[int]int{}
	for _, c := range l.calls {
		m[c.Status]++
	}
	return m
}

// fastRetry keeps failing tests short; the production bound is httpclient.DefaultRetry.
var fastRetry = httpclient.Retry{MaxTries: 4, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: 10 * time.Second}

// newSource builds the source under test the way the worker will, but without the client-side
// limiter (TestClientLimiter has it), which would make tests of many polls slow.
func (f *fixture) newSource(o Options) *Source {
	api := &httpclient.API{
		Name: Name, Tenant: f.tenant.Name, HTTP: f.hc, Tokens: f.prov, Scope: f.source.Scope,
		Retry: fastRetry, Observe: f.calls.add,
	}
	if o.Now == nil {
		o.Now = f.clock.Now
	}
	return New(f.tenant, f.source, api, o)
}

// exporter plays the worker and JetStream for a source: it keeps the saved checkpoint (through
// JSON, as storage would) and counts every message ID it is handed.
type exporter struct {
	t     *testing.T
	src   *Source
	mu    sync.Mutex
	saved sources.Checkpoint
	got   map[string]int // msg ID → times handed over
	envs  map[string]*envelope.Alert
	dead  []sources.Message
	// during, if set, runs inside every Emit: the world changing while the poll pages.
	during func()
}

func newExporter(t *testing.T, src *Source) *exporter {
	return &exporter{t: t, src: src, got: map[string]int{}, envs: map[string]*envelope.Alert{}}
}

func (e *exporter) emit(_ context.Context, b sources.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range b.Messages {
		e.got[m.MsgID]++
		if m.Alert != nil {
			if _, err := envelope.Marshal(m.Alert); err != nil {
				e.t.Errorf("%s: %v", m.MsgID, err)
			}
			e.envs[m.MsgID] = m.Alert
		} else {
			e.dead = append(e.dead, m)
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
		e.saved = cp
	}
	if e.during != nil {
		e.during()
	}
	return nil
}

// poll runs one poll from the saved checkpoint.
func (e *exporter) poll(ctx context.Context) error {
	e.mu.Lock()
	cp := e.saved
	e.mu.Unlock()
	return e.src.Poll(ctx, cp, e.emit)
}

func (e *exporter) mustPoll(t *testing.T) {
	t.Helper()
	if err := e.poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

// duplicates lists the message IDs handed over more than once.
func (e *exporter) duplicates() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var d []string
	for id, n := range e.got {
		if n > 1 {
			d = append(d, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	return d
}

func (e *exporter) has(id string, t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got[envelope.MsgID("contoso", Name, id, t)] > 0
}

// visible is the oracle: the version of each alert a query at the simulator's current time
// shows (the newest version already indexed).
func (f *fixture) visible() map[string]time.Time {
	now := f.clock.Now()
	out := map[string]time.Time{}
	for _, v := range f.ep.Versions() {
		if v.VisibleAt.After(now) {
			continue
		}
		if cur, ok := out[v.ID]; !ok || v.LastUpdateTime.After(cur) {
			out[v.ID] = v.LastUpdateTime
		}
	}
	return out
}

// missing lists the visible versions the exporter does not have.
func (e *exporter) missing(vis map[string]time.Time) []string {
	var m []string
	for id, t := range vis {
		if !e.has(id, t) {
			m = append(m, id+"@"+t.Format(time.RFC3339Nano))
		}
	}
	return m
}

func TestMain(m *testing.M) {
	// No environment proxy may divert the simulator's loopback traffic.
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}
