package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/graph"
)

// The demo's tenant and app. The secret only ever travels between two parts of this process.
const (
	demoTenantID = "8f3c2a10-5b7e-4c1d-9a2f-6e4d3c2b1a09"
	demoClientID = "2d9e8f7a-6b5c-4d3e-8f1a-0b9c8d7e6f5a"
	demoSecret   = "demo-only-secret"
)

// DemoOptions is the demo's command line.
type DemoOptions struct {
	Alerts  int             // the backlog waiting in the simulated tenant
	For     time.Duration   // 0: until ctx ends
	Listen  string          // where outside subscribers reach the embedded server; "" = nowhere
	Sources map[string]bool // the sources exported, by name
}

// Demo is `alertexport demo`: the simulator, the embedded NATS server and the real worker, with
// a subscriber that prints each alert on stdout. No Microsoft account, no network, no config
// file. It reports every failure itself, on stderr or in its log; the error returned is for
// the exit code (a *ConfigError when the export could not start).
func Demo(ctx context.Context, o DemoOptions, stdout, stderr io.Writer, now func() time.Time) error {
	enabled := o.Sources
	if o.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.For)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "alertexport-demo-*")
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return err
	}
	defer os.RemoveAll(dir)

	srv, err := sim.Start(sim.Options{Seed: now().UnixNano()})
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return err
	}
	defer srv.Close()
	srv.AddReader(sim.Reader{ClientID: demoClientID, Secret: demoSecret}, demoTenantID)
	ep := srv.Endpoint(demoTenantID)
	ca := srv.CloudApps(demoTenantID)
	gr := srv.Graph(demoTenantID)
	start := now()
	ep.Generate(o.Alerts-o.Alerts/3, sim.EndpointGenerate{From: start.Add(-6 * time.Hour), To: start})
	ca.Generate(o.Alerts/3, sim.CloudAppsGenerate{From: start.Add(-6 * time.Hour), To: start})
	if enabled[graph.Name] { // and Graph's own: Defender for Identity, Office 365, …
		gr.Generate(o.Alerts/3, sim.GraphGenerate{From: start.Add(-6 * time.Hour), To: start})
	}
	inc := srv.Incidents(demoTenantID)
	if enabled[graph.IncidentsName] { // grouping Graph alerts of their own
		inc.Generate(max(1, o.Alerts/5), sim.IncidentsGenerate{From: start.Add(-6 * time.Hour), To: start, MaxAlerts: 5})
	}

	cfg, err := demoConfig(dir, srv, o.Listen, enabled)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return err
	}
	fmt.Fprintf(stdout, "alertexport demo: a simulated tenant with %d alerts at %s, exported from %s; embedded NATS", o.Alerts, srv.URL(), strings.Join(slices.Sorted(maps.Keys(enabled)), ", "))
	if o.Listen != "" {
		fmt.Fprintf(stdout, " on nats://%s (try: go tool nats-sub -s nats://%s 'alerts.>')", o.Listen, o.Listen)
	}
	fmt.Fprintln(stdout, "\nNew alerts arrive and old ones change every few seconds. Ctrl-C stops.")

	// The tenant keeps living: a few new alerts and status changes every couple of seconds.
	var wg sync.WaitGroup
	defer wg.Wait()
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		ticks := 0
		for {
			select {
			case <-liveCtx.Done():
				return
			case <-t.C:
				ep.Generate(2, sim.EndpointGenerate{VisibleAfter: 3 * time.Second})
				ep.UpdateRandom(1, 0)
				ca.Generate(1, sim.CloudAppsGenerate{VisibleAfter: 2 * time.Second})
				ca.CloseRandom(1, 0)
				if enabled[graph.Name] {
					gr.Generate(1, sim.GraphGenerate{VisibleAfter: time.Second})
					gr.UpdateRandom(1, 0)
				}
				if enabled[graph.IncidentsName] { // grows, is assigned, resolved, merged; a new one now and then
					inc.UpdateRandom(1, 0)
					if ticks++; ticks%3 == 0 {
						inc.Generate(1, sim.IncidentsGenerate{})
					}
				}
			}
		}
	})

	sum := &summary{bySev: map[string]int{}, bySource: map[string]int{}}
	var sub *nats.Subscription
	runErr := Run(ctx, cfg, demoEnv, NewLogger(cfg.Log, stderr), func(r Running) {
		sub, err = r.NATS.Subscribe(strings.SplitN(cfg.NATS.Subject, ".", 2)[0]+".>", func(m *nats.Msg) {
			sum.add(stdout, m)
		})
		if err != nil {
			fmt.Fprintf(stderr, "demo: subscribe: %v\n", err)
		}
		sum.metrics = r.Metrics.Registry
	})
	stopLive()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	sum.print(stdout)
	return runErr
}

// demoEnv is the demo's environment: only the simulated app's secret.
func demoEnv(k string) (string, bool) {
	if k == "DEMO_CLIENT_SECRET" {
		return demoSecret, true
	}
	return "", false
}

// demoConfig is the config a user would write for the simulated tenant, parsed by the real
// loader.
func demoConfig(dir string, srv *sim.Server, listen string, enabled map[string]bool) (*config.Config, error) {
	ca := filepath.Join(dir, "simulator-ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		return nil, err
	}
	doc := fmt.Sprintf(`[log]
level = "warn"
format = "text"

[worker]
data_dir = %q
http_addr = ""
ca_file = %q

[nats]
embedded_listen = %q

[defaults]
schedule = "@every 2s"
lookback = "10m"
start_from = "24h"
`, filepath.Join(dir, "data"), ca, listen)
	tenant := sim.TenantTable{Name: "contoso", TenantID: demoTenantID, ClientID: demoClientID, SecretEnv: "DEMO_CLIENT_SECRET"}
	for _, a := range apis.All() {
		if enabled[a.Name] {
			tenant.Sources = append(tenant.Sources, sim.SourceTable{Source: a.Name})
		}
	}
	doc += "\n" + tenant.TOML(srv.URL())
	path := filepath.Join(dir, "demo.toml")
	cfg, _, err := config.Parse(path, []byte(doc), demoEnv)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// summary counts what the demo's subscriber saw.
type summary struct {
	mu       sync.Mutex
	total    int
	dead     int
	bySev    map[string]int
	bySource map[string]int
	metrics  prometheus.Gatherer
}

func (s *summary) add(w io.Writer, m *nats.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Header.Get(envelope.HeaderError) != "" {
		s.dead++
		PrintAlert(w, m, false)
		return
	}
	var a envelope.Alert
	if err := json.Unmarshal(m.Data, &a); err != nil {
		s.dead++
		return
	}
	s.total++
	s.bySev[a.Severity]++
	s.bySource[a.Source]++
	PrintAlert(w, m, false)
}

func (s *summary) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "\nsummary: %d versions received", s.total)
	for _, src := range slices.Sorted(maps.Keys(s.bySource)) {
		fmt.Fprintf(w, "; %s %d", TerminalSafe(src), s.bySource[src])
	}
	fmt.Fprint(w, "\n  by severity:")
	for _, sev := range []string{"high", "medium", "low", "informational", "unknown"} {
		fmt.Fprintf(w, " %s %d", sev, s.bySev[sev])
	}
	fmt.Fprintln(w)
	if s.metrics != nil {
		fmt.Fprintf(w, "  duplicates dropped by JetStream %d, dead letters %d, failed polls %d, API requests %d, token requests %d\n",
			counter(s.metrics, "alertexport_duplicates_total"), s.dead, counter(s.metrics, "alertexport_poll_errors_total"),
			counter(s.metrics, "alertexport_api_requests_total"), counter(s.metrics, "alertexport_token_requests_total"))
	}
}

// counter sums every series of a counter.
func counter(g prometheus.Gatherer, name string) int {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return int(total)
}
