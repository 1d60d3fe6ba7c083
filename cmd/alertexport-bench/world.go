package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/alertexport/alertexport/sources/simulator"
)

// The app registration every tenant grants, and where the child finds its secret.
const (
	clientID          = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
	clientSecret      = "bench-secret"
	secretEnv         = "ALERTEXPORT_BENCH_SECRET"
	endpointResource  = "https://api.securitycenter.microsoft.com"
	cloudAppsResource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"
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

// startSimulator starts the simulator with the scenario's rate limits: the documented ones for
// ratelimited, none otherwise.
func startSimulator(o options) (*simulator.Server, error) {
	so := simulator.Options{Seed: o.seed}
	if o.scenario != scenarioRateLimited {
		so.EndpointRateLimits, so.CloudAppsRateLimits = []simulator.RateLimit{}, []simulator.RateLimit{}
	}
	sim, err := simulator.Start(so)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	sim.RegisterApp(simulator.App{ClientID: clientID, Secrets: []simulator.Secret{{Value: clientSecret}}})
	return sim, nil
}

// addTenant makes t exist in the simulator with the app granted for both APIs.
func addTenant(sim *simulator.Server, t tenant) {
	sim.AddTenant(t.id)
	sim.Grant(t.id, clientID, endpointResource, "Alert.Read.All")
	sim.Grant(t.id, clientID, cloudAppsResource, "Investigation.read")
}

// generate puts a backlog into t: nEndpoint and nCloudApps alerts updated in [from, to].
func generate(sim *simulator.Server, t tenant, nEndpoint, nCloudApps int, from, to time.Time) {
	if nEndpoint > 0 {
		sim.Endpoint(t.id).Generate(nEndpoint, simulator.Generate{From: from, To: to})
	}
	if nCloudApps > 0 {
		sim.CloudApps(t.id).Generate(nCloudApps, simulator.CloudAppsGenerate{From: from, To: to})
	}
}

// splitAlerts divides n alerts between the sources -source names.
func splitAlerts(source string, n int) (endpoint, cloudApps int) {
	switch source {
	case sourceEndpoint:
		return n, 0
	case sourceCloudApps:
		return 0, n
	}
	return n - n/2, n / 2
}

// childConfig is what the child's config.toml says.
type childConfig struct {
	dataDir, httpAddr, caFile, natsURL, simURL string
	schedule, startFrom                        string
	tenants                                    []tenant
	endpoint, cloudApps                        bool
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
		fmt.Fprintf(&b, `[[tenant]]
name = %q
tenant_id = %q
client_id = %q
client_secret_env = %q
authority_host = %q
`, t.name, t.id, clientID, secretEnv, c.simURL)
		if c.endpoint {
			fmt.Fprintf(&b, "[tenant.endpoint]\napi_url = %q\n", c.simURL)
		}
		if c.cloudApps {
			fmt.Fprintf(&b, "[tenant.cloudapps]\napi_url = %q\n", c.simURL)
		}
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
