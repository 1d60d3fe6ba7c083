package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/envelope/envelopetest"
)

const (
	e2eTenant = "5c0e2f4a-1b3d-4e5f-8a7b-9c0d1e2f3a4b"
	e2eClient = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
	e2eSecret = "e2e-secret"
)

// world is simulated tenants and a directory with the config pointing at them.
type world struct {
	srv      *sim.Server
	tenants  []worldTenant
	ep       *sim.EndpointTenant  // the first tenant's
	ca       *sim.CloudAppsTenant // the first tenant's
	dir      string
	config   string // path
	doc      string // its text
	natsURL  string // where the test reaches NATS
	httpAddr string
}

// worldTenant is one tenant of the config: "contoso", then "tenant1", "tenant2", …
type worldTenant struct {
	name string
	ep   *sim.EndpointTenant
	ca   *sim.CloudAppsTenant
}

// newWorld starts the simulator with one tenant and writes a config for `run`. natsURL "" =
// the embedded server, reachable at an embedded_listen address.
func newWorld(t *testing.T, natsURL string) *world {
	t.Helper()
	return newWorldN(t, natsURL, 1)
}

// newWorldN is newWorld with n tenants, each with both sources, granted to one app.
func newWorldN(t *testing.T, natsURL string, n int) *world {
	t.Helper()
	srv, err := sim.Start(sim.Options{Seed: 11, RateLimits: map[string]sim.RateLimits{sim.APIEndpoint: sim.NoRateLimits(), sim.APICloudApps: sim.NoRateLimits(),
		sim.APIIncidents: sim.NoRateLimits()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	w := &world{srv: srv, dir: t.TempDir(), httpAddr: testutil.FreeAddr(t)}
	ca := filepath.Join(w.dir, "ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	listen := ""
	w.natsURL = natsURL
	if natsURL == "" {
		listen = testutil.FreeAddr(t)
		w.natsURL = "nats://" + listen
	}
	doc := fmt.Sprintf(`[log]
level = "debug"
[worker]
data_dir = %q
http_addr = %q
ca_file = %q
lease_ttl = "3s"
[nats]
url = %q
embedded_listen = %q
duplicate_window = "1h"
[defaults]
schedule = "@every 1s"
lookback = "10m"
start_from = "24h"
`, filepath.Join(w.dir, "data"), w.httpAddr, ca, natsURL, listen)
	for i := range n {
		name, id := "contoso", e2eTenant
		if i > 0 {
			name, id = fmt.Sprintf("tenant%d", i), fmt.Sprintf("5c0e2f4a-1b3d-4e5f-8a7b-%012d", i)
		}
		srv.AddReader(sim.Reader{ClientID: e2eClient, Secret: e2eSecret}, id)
		w.tenants = append(w.tenants, worldTenant{name: name, ep: srv.Endpoint(id), ca: srv.CloudApps(id)})
		doc += sim.TenantTable{Name: name, TenantID: id, ClientID: e2eClient, SecretEnv: "E2E_SECRET",
			Sources: []sim.SourceTable{{Source: "endpoint"}, {Source: "cloudapps"}}}.TOML(srv.URL())
	}
	w.ep, w.ca = w.tenants[0].ep, w.tenants[0].ca
	w.config, w.doc = filepath.Join(w.dir, "config.toml"), doc
	if err := os.WriteFile(w.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// daemonRun is one `alertexport run` in this process, stopped as SIGTERM would.
type daemonRun struct {
	cancel context.CancelFunc
	done   chan int
	stderr *testutil.SyncBuffer
}

func (w *world) start(t *testing.T) *daemonRun {
	t.Helper()
	return w.startConfig(t, w.config)
}

// startConfig runs `alertexport run --config path` in this process.
func (w *world) startConfig(t *testing.T, path string) *daemonRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &daemonRun{cancel: cancel, done: make(chan int, 1), stderr: &testutil.SyncBuffer{}}
	c := cli{stdout: io.Discard, stderr: r.stderr, now: time.Now, env: func(k string) (string, bool) {
		if k == "E2E_SECRET" {
			return e2eSecret, true
		}
		return "", false
	}}
	go func() { r.done <- run(ctx, []string{"run", "--config", path}, c) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop sends the daemon the equivalent of SIGTERM and waits for a clean exit.
func (r *daemonRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case code := <-r.done:
		if code != 0 {
			t.Errorf("run exited %d:\n%s", code, r.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop within 30 s:\n%s", r.stderr.String())
	}
}

// streamMsgs reads every message of the ALERTS stream.
func streamMsgs(t *testing.T, url string) []*nats.Msg {
	t.Helper()
	msgs, err := readStream(url)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// readStream reads every message of the ALERTS stream: none while NATS or the stream is not
// up yet (the callers poll), an error when a read breaks off (on a cluster, while a leader is
// elected).
func readStream(url string) ([]*nats.Msg, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, nil
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "ALERTS")
	if err != nil {
		return nil, nil
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return nil, nil
	}
	// An ordered consumer streams the messages in batches: a Get per message is slow enough on
	// a busy machine that a deadline would cut the read short and fake missing messages.
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("reading the stream: %w", err)
	}
	var out []*nats.Msg
	for last := uint64(0); last < info.State.LastSeq; {
		// As many as are left, so that the last batch does not wait out FetchMaxWait for more.
		left := int(info.State.Msgs) - len(out)
		if left <= 0 {
			break
		}
		batch, err := c.Fetch(min(1000, left), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("reading the stream: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("reading the stream: %w", err)
			}
			last = md.Sequence.Stream
			if last > info.State.LastSeq {
				break // published since the snapshot
			}
			msg := nats.NewMsg(m.Subject())
			msg.Header, msg.Data = m.Headers(), m.Data()
			out = append(out, msg)
		}
		if err := batch.Error(); err != nil || n == 0 {
			return nil, fmt.Errorf("reading the stream: %d of %d messages, then %v", len(out), info.State.Msgs, err)
		}
	}
	return out, nil
}

// expected is the oracle: the msg ID of every alert's current version, as the simulator will
// show it once what is being indexed late is visible (the test waits for that).
func (w *world) expected() map[string]bool {
	want := map[string]bool{}
	for _, tn := range w.tenants {
		latest := map[string]time.Time{}
		for _, v := range tn.ep.Versions() {
			if cur, ok := latest[v.ID]; !ok || v.LastUpdateTime.After(cur) {
				latest[v.ID] = v.LastUpdateTime
			}
		}
		for id, ts := range latest {
			want[envelope.MsgID(tn.name, "endpoint", id, ts)] = true
		}
		now := time.Now().Add(time.Minute)
		cloud := map[string]time.Time{}
		for _, v := range tn.ca.Versions() {
			if !v.VisibleAt.After(now) {
				cloud[v.ID] = v.Version
			}
		}
		for id, ts := range cloud {
			want[envelope.MsgID(tn.name, "cloudapps", id, ts)] = true
		}
	}
	return want
}

// addExpected adds what the simulator shows now to all.
func (w *world) addExpected(all map[string]bool) {
	for id := range w.expected() {
		all[id] = true
	}
}

// checkStream: every expected version is in the stream exactly once, with its subject and
// headers; returns the number of messages.
func checkStream(t *testing.T, w *world, msgs []*nats.Msg, want map[string]bool) {
	t.Helper()
	count := map[string]int{}
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		count[id]++
		if m.Header.Get(envelope.HeaderError) != "" {
			continue // a dead letter: the raw bytes, not an envelope
		}
		envelopetest.Check(t, id, m.Data)
		var a envelope.Alert
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Errorf("%s: body is not an envelope: %v", id, err)
			continue
		}
		if wantSubj := "alerts." + a.Source + "." + a.Tenant + "." + a.Severity; m.Subject != wantSubj {
			t.Errorf("%s on %q, want %q", id, m.Subject, wantSubj)
		}
		for k, v := range map[string]string{"Alert-Id": a.ID, "Alert-Source": a.Source, "Alert-Tenant": a.Tenant,
			"Alert-Severity": a.Severity, "Alert-Event": a.Event, "Content-Type": "application/json"} {
			if got := m.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", id, k, got, v)
			}
		}
		if id != envelope.MsgID(a.Tenant, a.Source, a.ID, a.UpdatedAt) {
			t.Errorf("Nats-Msg-Id %q does not match the envelope", id)
		}
	}
	for id, n := range count {
		if n > 1 {
			t.Errorf("%s is in the stream %d times", id, n)
		}
	}
	for id := range want {
		if count[id] == 0 {
			t.Errorf("%s is not in the stream", id)
		}
	}
}

func hasAll(url string, t *testing.T, want map[string]bool) func() (bool, string) {
	return func() (bool, string) {
		msgs, err := readStream(url)
		if err != nil {
			return false, err.Error()
		}
		have := map[string]bool{}
		for _, m := range msgs {
			have[m.Header.Get("Nats-Msg-Id")] = true
		}
		var missing []string
		for id := range want {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		slices.Sort(missing)
		return len(missing) == 0, fmt.Sprintf("%d of %d versions missing, e.g. %v", len(missing), len(want), missing[:min(len(missing), 5)])
	}
}

// TestRunExportsEveryVersionOnce: a backlog, arrivals and updates while `run` runs; the stream
// ends with every version exactly once, right subjects and headers; a restart on the same
// data_dir resumes from the checkpoint and re-exports nothing.
func TestRunExportsEveryVersionOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	now := time.Now()
	w.ep.Generate(400, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	w.ca.Generate(300, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
	d := w.start(t)
	testutil.Eventually(t, 30*time.Second, "backlog exported", hasAll(w.natsURL, t, w.expected()))

	all := w.expected()
	for range 3 {
		w.ep.Generate(10, sim.EndpointGenerate{})
		w.ep.UpdateRandom(5, 0)
		w.ca.Generate(5, sim.CloudAppsGenerate{VisibleAfter: 2 * time.Second}) // indexed late
		w.ca.CloseRandom(4, time.Second)
		w.addExpected(all)
		testutil.Eventually(t, 20*time.Second, "arrivals and updates exported", hasAll(w.natsURL, t, all))
	}
	// Every version ever visible, each once.
	checkStream(t, w, streamMsgs(t, w.natsURL), all)
	metrics := httpGet(t, "http://"+w.httpAddr+"/metrics")
	for _, want := range []string{
		"alertexport_polls_total{source=\"endpoint\",tenant=\"contoso\"}",
		"alertexport_duplicates_total{source=\"endpoint\",tenant=\"contoso\"} 0",
		"alertexport_duplicates_total{source=\"cloudapps\",tenant=\"contoso\"} 0",
		"alertexport_token_requests_total{result=\"ok\",tenant=\"contoso\"} 2", // one per resource
		"alertexport_api_requests_total{code=\"200\",source=\"endpoint\",tenant=\"contoso\"}",
		"alertexport_lease_held{source=\"endpoint\",tenant=\"contoso\"} 1",
		"alertexport_job_interval_seconds{source=\"endpoint\",tenant=\"contoso\"} ",
		"alertexport_job_failing_since_timestamp_seconds{source=\"endpoint\",tenant=\"contoso\"} 0",
		"alertexport_token_requests_total{result=\"error\",tenant=\"contoso\"} 0",
		"\nalertexport_nats_connected 1\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	msgs := streamMsgs(t, w.natsURL)
	if n := publishedTotal(metrics); n != len(msgs) {
		t.Errorf("alertexport_alerts_published_total sums to %d, the stream holds %d", n, len(msgs))
	}
	if body := httpGet(t, "http://"+w.httpAddr+"/readyz"); !strings.Contains(body, "ok") {
		t.Errorf("/readyz = %q", body)
	}
	before := len(msgs)
	d.stop(t) // the embedded server stops with it; its store stays in data_dir

	// Restart: it resumes from the checkpoints. The overlap it re-reads is not published again
	// (no duplicates at all); what came while it was down is.
	w.ep.Generate(7, sim.EndpointGenerate{})
	w.addExpected(all)
	w.start(t)
	testutil.Eventually(t, 20*time.Second, "alerts added while stopped exported", hasAll(w.natsURL, t, all))
	msgs = streamMsgs(t, w.natsURL)
	checkStream(t, w, msgs, all)
	metrics = httpGet(t, "http://"+w.httpAddr+"/metrics")
	if n := publishedTotal(metrics); n != len(msgs)-before || n < 7 {
		t.Errorf("after the restart %d published, the stream grew by %d (want equal, at least the 7 new)", n, len(msgs)-before)
	}
	for _, src := range []string{"endpoint", "cloudapps"} {
		if want := fmt.Sprintf("alertexport_duplicates_total{source=%q,tenant=\"contoso\"} 0", src); !strings.Contains(metrics, want) {
			t.Errorf("after the restart: /metrics lacks %s: the overlap was sent again", want)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// publishedTotal sums alertexport_alerts_published_total in a /metrics page.
func publishedTotal(page string) int {
	total := 0
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, "alertexport_alerts_published_total{") {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

// TestRunSurvivesNATSOutage: the NATS server goes away for 10 s while alerts keep coming, then
// returns on the same port with the same store; nothing is lost or doubled.
func TestRunSurvivesNATSOutage(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: store, NoLog: true, NoSigs: true}
	ns := startNATS(t, opts)
	port := ns.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	w := newWorld(t, url)
	now := time.Now()
	w.ep.Generate(200, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.start(t)
	testutil.Eventually(t, 30*time.Second, "backlog exported", hasAll(url, t, w.expected()))

	ns.Shutdown()
	ns.WaitForShutdown()
	all := w.expected()
	for range 5 {
		w.ep.Generate(6, sim.EndpointGenerate{})
		w.ep.UpdateRandom(3, 0)
		time.Sleep(2 * time.Second) // the outage lasts 10 s of real time
	}
	w.addExpected(all)
	if body := httpGet(t, "http://"+w.httpAddr+"/readyz"); !strings.Contains(body, "NATS") {
		t.Errorf("/readyz during the outage = %q, want it to name NATS", body)
	}
	opts.Port = port
	startNATS(t, opts)
	testutil.Eventually(t, 60*time.Second, "everything exported after NATS came back", hasAll(url, t, all))
	checkStream(t, w, streamMsgs(t, url), all)
}

func startNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	return natstest.Start(t, func(o *server.Options) { *o = *opts })
}

// TestDemo: `demo --for 5s` works on its own and prints alerts and a summary.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "demo", "--alerts", "30", "--for", "5s")
	if r.code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Count(r.stdout, "contoso/endpoint") + strings.Count(r.stdout, "contoso/cloudapps")
	if lines < 30 || !strings.Contains(r.stdout, "contoso/cloudapps") || !strings.Contains(r.stdout, "summary: ") || !strings.Contains(r.stdout, "by severity:") {
		t.Errorf("demo printed %d alert lines, want ≥ 30 from both sources, then a summary:\n%s", lines, r.stdout)
	}
}

// TestSwitchToGraph: a tenant exported through endpoint and cloudapps is switched to graph
// mid-stream (stopped, alerts keep coming, restarted with only [tenant.graph]). Every alert
// version Graph shows is in the stream, from the old sources or from Graph; the overlap carries
// the old alert's id as provider_alert_id, so a subscriber can drop it.
func TestSwitchToGraph(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	g := w.srv.Graph(e2eTenant)
	now := time.Now()
	w.ep.Generate(200, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.ca.Generate(100, sim.CloudAppsGenerate{From: now.Add(-5 * time.Hour), To: now})
	d := w.start(t)
	testutil.Eventually(t, 30*time.Second, "the old sources' backlog exported", hasAll(w.natsURL, t, w.expected()))
	d.stop(t)

	// While it is down, the tenant moves on; then only Graph is enabled, with a start_from too
	// short to reach back to when the old sources stopped: only continuing from their
	// checkpoints gets what came meanwhile.
	stopped := time.Now()
	w.ep.Generate(20, sim.EndpointGenerate{From: stopped.Add(-2 * time.Second), To: stopped})
	w.ep.UpdateRandom(10, 0)
	w.ca.Generate(10, sim.CloudAppsGenerate{})
	w.ca.CloseRandom(5, 0)
	old := fmt.Sprintf("[tenant.endpoint]\napi_url = %q\n[tenant.cloudapps]\napi_url = %q\n", w.srv.URL(), w.srv.URL())
	if !strings.Contains(w.doc, old) {
		t.Fatal("the config has no source tables to switch")
	}
	w.doc = strings.Replace(w.doc, old, fmt.Sprintf("[tenant.graph]\napi_url = %q\nstart_from = \"1s\"\n", w.srv.URL()), 1)
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
	// The oracle: each alert's current version as Graph shows it (Defender for Endpoint alerts
	// without an incident are not in Graph: Microsoft's migration guide says so).
	latest := map[string]sim.GraphVersion{}
	for _, v := range g.Versions() {
		if cur, ok := latest[v.ID]; !ok || v.LastUpdateDateTime.After(cur.LastUpdateDateTime) {
			latest[v.ID] = v
		}
	}
	time.Sleep(3 * time.Second) // the gap: longer than Graph's start_from, not a synchronization
	d = w.start(t)
	type version struct {
		provider string
		at       int64
	}
	seen := func() (old, fromGraph map[version]bool) {
		old, fromGraph = map[version]bool{}, map[version]bool{}
		for _, m := range streamMsgs(t, w.natsURL) {
			var env envelope.Alert
			if json.Unmarshal(m.Data, &env) != nil {
				continue
			}
			if env.Source != "graph" {
				old[version{env.ID, env.UpdatedAt.UnixNano()}] = true
			} else if env.ProviderAlertID != nil {
				fromGraph[version{*env.ProviderAlertID, env.UpdatedAt.UnixNano()}] = true
			}
		}
		return old, fromGraph
	}
	testutil.Eventually(t, 60*time.Second, "every version Graph shows in the stream", func() (bool, string) {
		old, fromGraph := seen()
		missing := 0
		for _, v := range latest {
			if k := (version{v.ProviderAlertID, v.LastUpdateDateTime.UnixNano()}); !old[k] && !fromGraph[k] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d missing", missing, len(latest))
	})
	old2, fromGraph := seen()
	overlap := 0
	for k := range fromGraph {
		if old2[k] {
			overlap++
		}
	}
	if overlap == 0 {
		t.Error("no Graph message names an alert the old sources had: the overlap cannot be told apart")
	}
	t.Logf("%d versions from the old sources, %d from Graph, %d of them the same version of the same alert", len(old2), len(fromGraph), overlap)
	checkStream(t, w, streamMsgs(t, w.natsURL), nil)
	d.stop(t)
}

// TestDemoGraph: `demo --sources graph` exports through Microsoft Graph alone.
func TestDemoGraph(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "demo", "--sources", "graph", "--alerts", "30", "--for", "5s")
	if r.code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "contoso/graph"); n < 30 || strings.Contains(r.stdout, "contoso/endpoint") || !strings.Contains(r.stdout, "summary: ") {
		t.Errorf("demo printed %d Graph alert lines, want ≥ 30 and no other source:\n%s", n, r.stdout)
	}
	if r := runCLI(t, nil, "demo", "--sources", "mde"); r.code != exitBadConfig || !strings.Contains(r.stderr, `"mde" is not a source`) {
		t.Errorf("--sources mde: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestTail: `tail` prints one line per alert from the daemon's embedded server (reached through
// embedded_listen), and `--json` the envelopes.
func TestTail(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	w.ep.Generate(20, sim.EndpointGenerate{From: time.Now().Add(-time.Hour), To: time.Now()})
	w.start(t)
	testutil.Eventually(t, 30*time.Second, "backlog exported", hasAll(w.natsURL, t, w.expected()))
	for _, asJSON := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		out := &testutil.SyncBuffer{}
		c := cli{stdout: out, stderr: io.Discard, now: time.Now, env: func(string) (string, bool) { return "", false }}
		args := []string{"tail", "--config", w.config}
		if asJSON {
			args = append(args, "--json")
		}
		done := make(chan int, 1)
		go func() { done <- run(ctx, args, c) }()
		// tail shows what is published from now on: make something happen.
		want := "contoso/endpoint"
		if asJSON {
			want = `"schema":"alertexport.alert.v1"`
		}
		testutil.Eventually(t, 20*time.Second, "tail prints new alerts", func() (bool, string) {
			w.ep.Generate(1, sim.EndpointGenerate{})
			return strings.Contains(out.String(), want), out.String()
		})
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("tail exited %d", code)
		}
	}
}

// TestRunRefusesMissingSecret: run exits 2 when the secret a tenant names is not there.
func TestRunRefusesMissingSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	r := runCLI(t, nil, "run", "--config", w.config)
	if r.code != 2 || !strings.Contains(r.stderr, "E2E_SECRET") || !strings.Contains(r.stderr, "run needs them") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestRunWaitsForNATS: with NATS not there at start, run serves /healthz, says on /readyz that
// it waits for NATS, and exports everything once NATS comes; a stop then ends it cleanly.
func TestRunWaitsForNATS(t *testing.T) {
	t.Parallel()
	addr := testutil.FreeAddr(t) // nothing listens there yet
	w := newWorld(t, "nats://"+addr)
	now := time.Now()
	w.ep.Generate(50, sim.EndpointGenerate{From: now.Add(-time.Hour), To: now})
	w.ca.Generate(50, sim.CloudAppsGenerate{From: now.Add(-time.Hour), To: now})
	d := w.start(t)
	testutil.Eventually(t, 10*time.Second, "/healthz answers", func() (bool, string) {
		resp, err := http.Get("http://" + w.httpAddr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	resp, err := http.Get("http://" + w.httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "NATS") {
		t.Errorf("/readyz = %d %q, want 503 naming NATS", resp.StatusCode, body)
	}
	// The alert rules' NATSDisconnected sees a replica that never connected.
	if m := httpGet(t, "http://"+w.httpAddr+"/metrics"); !strings.Contains(m, "\nalertexport_nats_connected 0\n") {
		t.Error("/metrics lacks alertexport_nats_connected 0 while NATS is not there")
	}
	_, port, _ := net.SplitHostPort(addr)
	natstest.Start(t, func(o *server.Options) { o.Port, _ = strconv.Atoi(port) })
	testutil.Eventually(t, 60*time.Second, "everything exported once NATS came", hasAll(w.natsURL, t, w.expected()))
	checkStream(t, w, streamMsgs(t, w.natsURL), w.expected())
	testutil.Eventually(t, 10*time.Second, "/readyz to turn ready", func() (bool, string) {
		resp, err := http.Get("http://" + w.httpAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	if m := httpGet(t, "http://"+w.httpAddr+"/metrics"); !strings.Contains(m, "\nalertexport_nats_connected 1\n") {
		t.Error("/metrics lacks alertexport_nats_connected 1 once connected")
	}
	d.stop(t) // fails the test unless run exits 0
}

// TestRunThroughAPIFaults: both APIs answer a whole backlog with 10 % 500s, 5 % 429s, 5 % slow
// and 5 % truncated bodies. Every version arrives exactly once, the daemon keeps running, and
// /metrics counts the errors.
func TestRunThroughAPIFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	w.srv.SetCloudAppsRetryAfter(true) // a 429 without it holds Cloud Apps back a whole minute
	now := time.Now()
	w.ep.Generate(800, sim.EndpointGenerate{From: now.Add(-20 * time.Hour), To: now})
	// Cloud Apps allows 30 calls a minute, and the daemon keeps to that: 3 pages of backlog.
	w.ca.Generate(300, sim.CloudAppsGenerate{From: now.Add(-20 * time.Hour), To: now})
	faults := sim.FaultRates{ServerError: 0.10, Throttle: 0.05, Slow: 0.05, SlowDelay: 300 * time.Millisecond, Truncate: 0.05}
	w.ep.SetFaultRates(faults)
	w.ca.SetFaultRates(faults)
	d := w.start(t)
	start := time.Now()
	for range 3 {
		w.ep.Generate(10, sim.EndpointGenerate{})
		w.ca.Generate(10, sim.CloudAppsGenerate{})
		testutil.Eventually(t, 120*time.Second, "everything exported through the faults", hasAll(w.natsURL, t, w.expected()))
	}
	t.Logf("exported through the faults in %v", time.Since(start).Round(time.Millisecond))
	checkStream(t, w, streamMsgs(t, w.natsURL), w.expected())
	select {
	case code := <-d.done:
		t.Fatalf("run exited %d during the faults", code)
	default:
	}
	metrics := httpGet(t, "http://"+w.httpAddr+"/metrics")
	for _, src := range []string{"endpoint", "cloudapps"} {
		for _, code := range []string{"500", "429"} {
			if want := fmt.Sprintf("alertexport_api_requests_total{code=%q,source=%q,tenant=\"contoso\"}", code, src); !strings.Contains(metrics, want) {
				t.Errorf("/metrics does not count the %s answers of %s (%s)", code, src, want)
			}
		}
	}
	d.stop(t)
}

// TestBackfill: after the live export, `backfill` over the same span publishes every version
// again with the same message IDs — JetStream drops them all — and leaves the live checkpoints
// as they were.
func TestBackfill(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	now := time.Now()
	w.ep.Generate(150, sim.EndpointGenerate{From: now.Add(-10 * time.Hour), To: now})
	w.ca.Generate(120, sim.CloudAppsGenerate{From: now.Add(-10 * time.Hour), To: now})
	d := w.start(t)
	testutil.Eventually(t, 30*time.Second, "backlog exported", hasAll(w.natsURL, t, w.expected()))
	// The live polls' last checkpoints are written after their messages are acknowledged.
	testutil.Eventually(t, 30*time.Second, "the first polls to finish", func() (bool, string) {
		cps := checkpoints(t, w.natsURL)
		return !strings.Contains(cps, "still running"), cps
	})
	before := len(streamMsgs(t, w.natsURL))
	cps := checkpoints(t, w.natsURL)
	r := runCLI(t, map[string]string{"E2E_SECRET": e2eSecret}, "backfill", "--config", w.config, "--since", "12h")
	if r.code != 0 {
		t.Fatalf("backfill exited %d:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"contoso/endpoint: 150 versions (150 already in the stream)", "contoso/cloudapps: ", "done"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("backfill output lacks %q:\n%s", want, r.stderr)
		}
	}
	if after := len(streamMsgs(t, w.natsURL)); after != before {
		t.Errorf("the stream went from %d to %d messages: backfill published something new", before, after)
	}
	if got := checkpoints(t, w.natsURL); got != cps {
		t.Errorf("backfill moved the live checkpoints: %s → %s", cps, got)
	}
	d.stop(t)
}

// testJS is a JetStream context on the server(s) at url for the test's own reads, reconnecting
// through a node loss, closed when the test ends.
func testJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// checkpoints is the revision of every key of the checkpoint bucket.
func checkpoints(t *testing.T, url string) string {
	t.Helper()
	js := testJS(t, url)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, "alertexport_state")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range []string{"contoso.endpoint", "contoso.cloudapps"} {
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatalf("checkpoint %s: %v", k, err)
		}
		out = append(out, fmt.Sprintf("%s@%d", k, e.Revision()))
		if k == "contoso.cloudapps" && !strings.Contains(string(e.Value()), "resolution_cursor") {
			out = append(out, "(first poll still running)")
		}
	}
	return strings.Join(out, " ")
}
