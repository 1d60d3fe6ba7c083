package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/registry"
)

// The app registration every tenant grants, and where the child finds its secret.
const (
	clientID     = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
	clientSecret = "bench-secret"
	secretEnv    = "ALERTEXPORT_BENCH_SECRET"
)

// backlogSpan is how far back the throughput and rate-limited backlogs reach: a week, so that
// the lookback each later poll re-reads holds few of them.
const backlogSpan = 7 * 24 * time.Hour

// tenant is one simulated tenant and its name in the config.
type tenant struct{ name, id string }

// newTenants names n tenants with distinct tenant IDs.
func newTenants(n int) []tenant {
	ts := make([]tenant, n)
	for i := range ts {
		ts[i] = tenant{name: fmt.Sprintf("t%03d", i), id: fmt.Sprintf("5c0e2f4a-1b3d-4e5f-8a7b-%012x", i+1)}
	}
	return ts
}

// scaledLimits are an API's documented limits with every window divided by the time scale: at
// -time-scale 60, Cloud Apps' 30 calls a minute become 30 a second.
func scaledLimits(api string, timeScale float64) []sim.RateLimit {
	var out []sim.RateLimit
	e, _ := registry.Lookup(api)
	for _, l := range e.Limits {
		out = append(out, sim.RateLimit{Requests: l.Requests, Per: time.Duration(float64(l.Per) / timeScale)})
	}
	return out
}

// startSimulator starts the simulator with the scenario's rate limits: for ratelimited the
// documented ones, scaled in time by -time-scale; none otherwise. A 429's Retry-After
// (Endpoint, Graph) is when the scaled window lets a call through again, in whole seconds, at
// least 1; Cloud Apps sends none (the simulator's default, Microsoft documents none).
func startSimulator(o options) (*sim.Server, error) {
	so := sim.Options{Seed: o.seed}
	if o.scenario == scenarioRateLimited {
		so.RateLimits = map[string]sim.RateLimits{
			sim.APIEndpoint:  sim.LimitTo(scaledLimits(sourceEndpoint, o.timeScale)...),
			sim.APICloudApps: sim.LimitTo(scaledLimits(sourceCloudApps, o.timeScale)...),
			sim.APIGraph:     sim.LimitTo(scaledLimits(sourceGraph, o.timeScale)...),
		}
	} else {
		so.RateLimits = map[string]sim.RateLimits{sim.APIEndpoint: sim.NoRateLimits(), sim.APICloudApps: sim.NoRateLimits(), sim.APIGraph: sim.NoRateLimits()}
	}
	srv, err := sim.Start(so)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	return srv, nil
}

// addTenant makes t exist in the simulator with the app granted for the three APIs.
func addTenant(srv *sim.Server, t tenant) {
	srv.AddReader(sim.Reader{ClientID: clientID, Secret: clientSecret}, t.id)
}

// backlog is how many alerts each API holds per tenant.
type backlog struct{ endpoint, cloudApps, graph int }

func (b backlog) total() int { return b.endpoint + b.cloudApps + b.graph }

// of is the count for one API.
func (b backlog) of(api string) int {
	switch api {
	case sourceEndpoint:
		return b.endpoint
	case sourceCloudApps:
		return b.cloudApps
	case sourceGraph:
		return b.graph
	}
	return 0
}

// generate puts a backlog into t, alerts updated in [from, to]. Graph's are Graph-only alerts
// (Defender for Identity, Office 365 …), one version each.
func generate(srv *sim.Server, t tenant, n backlog, from, to time.Time) {
	if n.endpoint > 0 {
		srv.Endpoint(t.id).Generate(n.endpoint, sim.EndpointGenerate{From: from, To: to})
	}
	if n.cloudApps > 0 {
		srv.CloudApps(t.id).Generate(n.cloudApps, sim.CloudAppsGenerate{From: from, To: to})
	}
	if n.graph > 0 {
		srv.Graph(t.id).Generate(n.graph, sim.GraphGenerate{From: from, To: to})
	}
}

// splitAlerts divides n alerts between the sources -source names.
func splitAlerts(source string, n int) backlog {
	switch source {
	case sourceEndpoint:
		return backlog{endpoint: n}
	case sourceCloudApps:
		return backlog{cloudApps: n}
	case sourceGraph:
		return backlog{graph: n}
	}
	return backlog{endpoint: n - n/2, cloudApps: n / 2}
}

// childConfig is what the child's config.toml says.
type childConfig struct {
	dataDir, httpAddr, caFile, natsURL, simURL string
	schedule, startFrom                        string
	tenants                                    []tenant
	sources                                    backlog // the APIs with alerts get a table
	// rateLimits are each API's rate_limits; none: the key is left out (the documented limits).
	rateLimits map[string][]sim.RateLimit
}

// write renders the config to path.
func (c childConfig) write(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `[log]
level = "info"
format = "json"
[worker]
data_dir = %q
http_addr = %q
ca_file = %q
[nats]
url = %q
duplicate_window = "1h"
[defaults]
schedule = %q
lookback = "10m"
start_from = %q
`, c.dataDir, c.httpAddr, c.caFile, c.natsURL, c.schedule, c.startFrom)
	for _, t := range c.tenants {
		table := sim.TenantTable{Name: t.name, TenantID: t.id, ClientID: clientID, SecretEnv: secretEnv}
		for _, api := range []string{sourceEndpoint, sourceCloudApps, sourceGraph} {
			if c.sources.of(api) == 0 {
				continue
			}
			src := sim.SourceTable{Source: api}
			if limits := c.rateLimits[api]; len(limits) > 0 {
				q := make([]string, len(limits))
				for i, l := range limits {
					q[i] = strconv.Quote(fmt.Sprintf("%d/%v", l.Requests, l.Per))
				}
				src.Lines = append(src.Lines, fmt.Sprintf("rate_limits = [%s]", strings.Join(q, ", ")))
			}
			table.Sources = append(table.Sources, src)
		}
		b.WriteString(table.TOML(c.simURL))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing the child's config: %w", err)
	}
	return nil
}

// freeAddr finds a free loopback port for the child's http_addr.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// durationConfig renders d for a config (whole hours, rounded up, at least one).
func durationConfig(d time.Duration) string {
	return fmt.Sprintf("%dh", max(1, int((d+time.Hour-1)/time.Hour)))
}
