package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sources/registry"
)

// bench is what all runs of a scenario share: the temp dir, the binary, the simulator with its
// backlog.
type bench struct {
	o       options
	log     *slog.Logger
	dir     string
	bin     string
	srv     *sim.Server
	caFile  string
	tenants []tenant
	// alerts generated per tenant, and the messages the stream must end with
	backlog  backlog
	expected int
	// the span the backlog's alerts were updated in, and start_from to reach before it
	from, to  time.Time
	startFrom string
}

// newBench creates the temp dir, builds the binary (unless -binary) and starts the simulator
// with the scenario's tenants and backlog.
func newBench(ctx context.Context, o options, log *slog.Logger) (*bench, error) {
	dir, err := os.MkdirTemp("", "alertexport-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dir: dir, bin: o.binary}
	ok := false
	defer func() {
		if !ok {
			b.close()
		}
	}()
	if b.bin == "" {
		log.Info("building cmd/alertexport", "dir", dir)
		if b.bin, err = buildBinary(ctx, dir); err != nil {
			return nil, err
		}
	}
	if b.srv, err = startSimulator(o); err != nil {
		return nil, err
	}
	b.caFile = filepath.Join(dir, "simulator-ca.pem")
	if err := b.srv.WriteCAFile(b.caFile); err != nil {
		return nil, err
	}
	b.generateBacklog()
	ok = true
	return b, nil
}

// generateBacklog fills the simulator: one tenant with -alerts alerts over the past week, or for
// idle -tenants tenants with -alerts alerts per source over the past hour.
func (b *bench) generateBacklog() {
	now := time.Now()
	span, tenants := backlogSpan, 1
	b.backlog = splitAlerts(b.o.source, b.o.alerts)
	if b.o.scenario == scenarioIdle {
		span, tenants = time.Hour, b.o.tenants
		b.backlog = backlog{endpoint: b.o.alerts, cloudApps: b.o.alerts}
	}
	b.startFrom = durationConfig(span + time.Hour)
	b.from, b.to = now.Add(-span), now.Add(-time.Minute)
	b.tenants = newTenants(tenants)
	start := time.Now()
	for _, t := range b.tenants {
		addTenant(b.srv, t)
		generate(b.srv, t, b.backlog, b.from, b.to)
	}
	b.expected = tenants * b.backlog.total()
	b.log.Info("backlog generated", "tenants", tenants, "endpoint_per_tenant", b.backlog.endpoint,
		"cloudapps_per_tenant", b.backlog.cloudApps, "graph_per_tenant", b.backlog.graph,
		"took", time.Since(start).Round(time.Millisecond).String())
}

func (b *bench) close() {
	if b.srv != nil {
		_ = b.srv.Close()
	}
	if b.o.keep {
		b.log.Info("kept the temp dir", "dir", b.dir)
		return
	}
	_ = os.RemoveAll(b.dir)
}

// runOnce runs the scenario once, on a NATS server and a child of its own.
func (b *bench) runOnce(ctx context.Context, i int) (*report, error) {
	if err := b.windowsClear(ctx); err != nil {
		return nil, err
	}
	e, err := b.startRun(i)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r := &report{scenario: b.o.scenario, source: b.o.source, command: b.o.command, alerts: b.expected, runs: 1}
	switch b.o.scenario {
	case scenarioIdle:
		err = b.idle(ctx, e, r)
	default:
		err = b.drain(ctx, e, r, i)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// windowsClear waits, in the rate-limited scenario, until the previous run's calls have left
// every (scaled) rate-limit window of the APIs the run uses: the simulator's windows outlive
// a child, and a new child's limiter starts with a full burst.
func (b *bench) windowsClear(ctx context.Context) error {
	if b.o.scenario != scenarioRateLimited {
		return nil
	}
	var last time.Time
	for _, q := range b.srv.APIRequests() {
		if q.Time.After(last) {
			last = q.Time
		}
	}
	if last.IsZero() {
		return nil
	}
	var window time.Duration
	for _, a := range registry.APIs {
		if b.backlog.of(a.Name) == 0 {
			continue
		}
		for _, l := range scaledLimits(a.Name, b.o.timeScale) {
			window = max(window, l.Per)
		}
	}
	wait := time.Until(last.Add(window))
	if wait <= 0 {
		return nil
	}
	b.log.Info("waiting for the previous run's calls to leave the rate-limit windows", "for", wait.Round(time.Millisecond).String())
	return sleepCtx(ctx, wait)
}

// runEnv is one run's NATS server and child, and where the simulator's logs stood when it
// started.
type runEnv struct {
	dir       string
	nats      *natsServer
	child     *child
	apiFrom   int
	tokenFrom int
	selfCPU   time.Duration // this process's CPU time when the child started
	// endProfile stops -bench-profile's profile of the product's phase (a no-op without one,
	// or once stopped).
	endProfile func()
}

// startRun starts a NATS server in a dir of the run's own, writes the child's config and
// starts the child: run, whose jobs poll at once, then every minute; or backfill over the
// whole backlog.
func (b *bench) startRun(i int) (*runEnv, error) {
	dir := filepath.Join(b.dir, fmt.Sprintf("run%d", i+1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ns, err := startNATS(filepath.Join(dir, "nats"), int32(b.o.maxPayload))
	if err != nil {
		return nil, err
	}
	e := &runEnv{dir: dir, nats: ns, apiFrom: len(b.srv.APIRequests()), tokenFrom: len(b.srv.TokenLog())}
	httpAddr, err := freeAddr()
	if err != nil {
		e.close()
		return nil, err
	}
	cfg := childConfig{dataDir: filepath.Join(dir, "data"), httpAddr: httpAddr, caFile: b.caFile, natsURL: ns.url(),
		simURL: b.srv.URL(), schedule: "@every 1m", startFrom: b.startFrom, tenants: b.tenants,
		sources: b.backlog}
	if b.o.scenario == scenarioRateLimited && b.o.timeScale != 1 {
		cfg.rateLimits = map[string][]sim.RateLimit{}
		for _, api := range []string{sourceEndpoint, sourceCloudApps, sourceGraph} {
			cfg.rateLimits[api] = scaledLimits(api, b.o.timeScale)
		}
	}
	path := filepath.Join(dir, "config.toml")
	if err := cfg.write(path); err != nil {
		e.close()
		return nil, err
	}
	args := []string{commandRun, "--config", path}
	if b.o.command == commandBackfill {
		// From before the oldest alert to after the newest: the whole backlog.
		args = []string{commandBackfill, "--config", path, "--since", b.from.Add(-time.Hour).UTC().Format(time.RFC3339),
			"--until", b.to.Add(time.Minute).UTC().Format(time.RFC3339)}
	}
	settle()
	e.selfCPU = selfCPU()
	e.endProfile = func() {}
	if b.o.benchProf != "" && i == 0 {
		stop, err := startProfile(b.o.benchProf + ".product.cpu")
		if err != nil {
			e.close()
			return nil, err
		}
		e.endProfile = sync.OnceFunc(stop)
	}
	var env []string
	if b.o.childProf != "" && i == 0 {
		env = []string{"ALERTEXPORT_CPUPROFILE=" + b.o.childProf + ".cpu", "ALERTEXPORT_MEMPROFILE=" + b.o.childProf + ".allocs",
			"ALERTEXPORT_TRACE=" + b.o.childProf + ".trace"}
	}
	if e.child, err = startChild(b.bin, args, filepath.Join(dir, "child.log"), httpAddr, env...); err != nil {
		e.close()
		return nil, err
	}
	b.log.Info("alertexport started", "command", b.o.command, "pid", e.child.pid(), "config", path)
	return e, nil
}

func (e *runEnv) close() {
	if e.endProfile != nil {
		e.endProfile()
	}
	if e.child != nil {
		e.child.kill()
	}
	e.nats.close()
}

// apiRequests are the simulator's API requests since the run started.
func (e *runEnv) apiRequests(srv *sim.Server) []sim.APIRequest {
	return srv.APIRequests()[e.apiFrom:]
}

// tokenRequests are the simulator's token requests since the run started.
func (e *runEnv) tokenRequests(srv *sim.Server) []sim.TokenRequest {
	return srv.TokenLog()[e.tokenFrom:]
}

// firstRequestAfter is the time of the first request at or after t (t if there is none).
func firstRequestAfter(reqs []sim.APIRequest, t time.Time) time.Time {
	first := time.Time{}
	for _, r := range reqs {
		if !r.Time.Before(t) && (first.IsZero() || r.Time.Before(first)) {
			first = r.Time
		}
	}
	if first.IsZero() {
		return t
	}
	return first
}

const mib = 1024 * 1024

// selfCPU is this process's CPU time (user + system) so far: the simulator's and the NATS
// server's share of the machine while the child exports.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
