// Command alertexport-bench measures the export on this machine, in one process, against one
// NATS server it starts itself: the raw JetStream publish ceiling, the real `alertexport run`
// binary (a child process) draining a simulated backlog, a backfill (or drain) under the APIs'
// documented rate limits scaled down in time, and the idle cost of many tenants. BENCHMARKS.md records its figures; -h explains
// the scenarios and every flag.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// Scenarios.
const (
	scenarioThroughput  = "throughput"
	scenarioRateLimited = "ratelimited"
	scenarioIdle        = "idle"
)

// Sources (-source).
const (
	sourceEndpoint  = "endpoint"
	sourceCloudApps = "cloudapps"
	sourceGraph     = "graph"
	sourceBoth      = "both"
)

// Commands the child runs (-command).
const (
	commandRun      = "run"
	commandBackfill = "backfill"
)

// options are the parsed flags.
type options struct {
	scenario   string
	source     string
	command    string
	timeScale  float64
	alerts     int
	tenants    int
	idleFor    time.Duration
	runs       int
	json       bool
	binary     string
	cpuProfile string
	benchProf  string
	childProf  string
	pending    int
	timeout    time.Duration
	stall      time.Duration
	maxPayload int
	seed       int64
	keep       bool
}

const usageHead = `alertexport-bench measures alertexport on this machine, in one process: it starts the Defender
simulator and a NATS server (embedded nats-server, JetStream on file storage in a temp dir,
127.0.0.1 on a random port), builds the real alertexport binary (or takes -binary) and runs
` + "`alertexport run`" + ` (or ` + "`backfill`" + `) as a child process against both.

Usage:
  go run ./cmd/alertexport-bench [flags]

Scenarios (-scenario):
  throughput   (default) A backlog of -alerts alerts with evidence (-source endpoint by default)
               in the simulator, no rate limits. (b) the product: the child exports the backlog;
               timed from its first API request until the stream ALERTS holds every alert
               (JetStream's time of the last stored message), then SIGTERM; peak RSS from /proc
               VmHWM, CPU time from wait4's rusage, allocations from the child's
               go_memstats_mallocs_total, API and token requests from the simulator's logs.
               (a) the raw ceiling: the messages the child published are read back and published
               again, same count, subjects of the same length, same headers and bodies, to a
               second stream RAW with nats.go jetstream PublishMsgAsync and Nats-Msg-Id, -pending
               acks outstanding at most, waiting for every ack; nothing else is timed.
               (c) the pass-through (-source endpoint): a minimal exporter in this process reads
               the same backlog in lastUpdateTime windows with $top=10000&$expand=evidence,
               windows planned from the simulator's list to hold less than a page (so each alert
               is read once), cuts each alert out of the body unparsed and publishes it with its
               message ID to a stream PASS; timed from its first request to its last ack.
               pass_ratio = (b) / (c).
               (d) the envelope pass-through: (c) again, but each alert it cuts out goes out as
               the product's own message for it (headers and envelope, read back from ALERTS
               before the timing), to a stream ENVPASS: an exporter that normalizes for free and
               sends NATS what the product sent. envpass_ratio = (b) / (d) is what building the
               envelope costs; envpass_of_pass = (d) / (c) what its bytes cost, about the
               most pass_ratio can be. Both follow an untimed warm-up export (the same as
               (c), to a stream WARMUP), so that neither pays for growing this process's
               heap; they swap order every other run: give an even -runs.
               The Cloud Apps API returns 100 alerts a call and the product keeps its documented
               30 calls a minute, so -source cloudapps drains about 2,800 alerts a minute whatever
               the machine: give it a smaller -alerts.
  ratelimited  The simulator enforces the documented rate limits (Endpoint 100 calls a minute and
               1,500 an hour, Cloud Apps 30 a minute, Graph 150 a minute) with every window
               divided by -time-scale F, and the child's config gets rate_limits scaled the same
               way (at F 60, Cloud Apps' 30 calls a minute become 30 a second on both sides).
               The child runs -command backfill (the default: ` + "`alertexport backfill --since --until`" + `
               over the whole backlog, timed from its first API request to the last alert stored
               or the last answer; it must exit 0) or run. Default -source cloudapps with 2,500
               alerts (at F 1 about a minute, at F 60 about a second). Reports, per API,
               the calls and the rate achieved (first to last request, at least one window of
               the binding limit, real and scaled), the documented limit (for Endpoint the
               binding 1,500 an hour), achieved / documented, the fullest window of each limit
               over the limit (window_ratio),
               the limit-bound rate (documented calls × the API's page size: 100 alerts for Cloud
               Apps, 1,000 for Graph, 10,000 for Endpoint) and the alerts' rate against it, the
               429 answers the simulator sent, and failed polls (run) or the exit (backfill).
               Runs share the simulator: each waits until the calls of the one before have left
               the scaled windows (at F 1 a minute for Cloud Apps and Graph, an hour for Endpoint).
  idle         -tenants tenants, each with Defender for Endpoint and Cloud Apps (one app
               registration granted in every tenant), schedule "@every 1m", -alerts alerts per job
               (default 5).
               Once that backlog is in the stream, for -idle-for: the child's CPU seconds a minute
               (process_cpu_seconds_total) and RSS (/proc/<pid>/status VmRSS each second), and
               checks one API request per idle Endpoint poll, two per idle Cloud Apps poll (raised
               and closed alerts are two questions) and one token request per (tenant, resource)
               for the whole run; and how late the polls of the window started, against every
               whole minute after the child started (p50, p99, max).

With -runs N the scenario runs N times (each on a fresh NATS server and child) and the median of
each figure is printed. Progress goes to stderr, the report to stdout (-json: one JSON object).
Linux only (rusage, /proc).

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("alertexport-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.scenario, "scenario", scenarioThroughput, "throughput | ratelimited | idle (see above)")
	fs.StringVar(&o.source, "source", "", "endpoint | cloudapps | graph | both (both: half the alerts each to endpoint and cloudapps);\ndefault endpoint, cloudapps for ratelimited; idle always runs both")
	fs.StringVar(&o.command, "command", "", "ratelimited: what the child runs, backfill (default) or run; the other scenarios always run")
	fs.Float64Var(&o.timeScale, "time-scale", 1, "ratelimited: divide every rate-limit window by this, in the simulator\nand in the child's rate_limits")
	fs.IntVar(&o.alerts, "alerts", 0, "backlog: alerts in all (throughput default 100000, ratelimited 2500),\nor per job for idle (default 5)")
	fs.IntVar(&o.tenants, "tenants", 100, "idle: number of tenants (each runs an Endpoint and a Cloud Apps job)")
	fs.DurationVar(&o.idleFor, "idle-for", 3*time.Minute, "idle: how long to measure once the backlog is exported (whole minutes)")
	fs.IntVar(&o.runs, "runs", 1, "repeat the scenario this many times and print the median of each figure")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&o.binary, "binary", "", "the alertexport binary to run (default: go build ./cmd/alertexport into the temp dir)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the raw publisher (a) of the first run to this file")
	fs.StringVar(&o.benchProf, "bench-profile", "", "write this process's CPU profile of the first run (simulator, NATS server and the\npass-through) to PREFIX.product.cpu while the product exports, PREFIX.pass.cpu during (c)\nand PREFIX.envpass.cpu during (d);\nsplit them with go tool pprof -focus internal/sim, nats-server or sources/page")
	fs.StringVar(&o.childProf, "child-profile", "", "write the product's CPU profile of the first run to PREFIX.cpu and its allocations\nto PREFIX.allocs (go tool pprof BINARY FILE; -keep keeps the binary), and its execution\ntrace to PREFIX.trace (go tool trace PREFIX.trace)")
	fs.IntVar(&o.pending, "pending", 1024, "raw publisher: most acks outstanding at once (the product's sink uses 1024)")
	fs.DurationVar(&o.timeout, "timeout", time.Hour, "give up a run after this long")
	fs.DurationVar(&o.stall, "stall", 2*time.Minute, "give up a run when the stream has not grown for this long (the export is stuck)")
	fs.IntVar(&o.maxPayload, "max-payload", 0, "the NATS server's max_payload in bytes (0: nats-server's default, 1 MiB);\nthe product's checkpoint of a large backlog outgrew 1 MiB before 93355f2:\n100,000 Endpoint alerts needed -max-payload 8388608")
	fs.Int64Var(&o.seed, "seed", 1, "simulator seed (the alerts generated)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs, the child's logs, NATS stores) and print its path")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.withDefaults()
}

// withDefaults fills in the scenario's defaults and checks the values.
func (o *options) withDefaults() error {
	switch o.scenario {
	case scenarioThroughput:
		o.source = cmp.Or(o.source, sourceEndpoint)
		o.alerts = cmp.Or(o.alerts, 100_000)
	case scenarioRateLimited:
		o.source = cmp.Or(o.source, sourceCloudApps)
		o.alerts = cmp.Or(o.alerts, 2500)
		o.command = cmp.Or(o.command, commandBackfill)
	case scenarioIdle:
		if o.source != "" && o.source != sourceBoth {
			return fmt.Errorf("-source %s: idle always runs both sources", o.source)
		}
		o.source = sourceBoth
		o.alerts = cmp.Or(o.alerts, 5)
		if o.tenants < 1 {
			return fmt.Errorf("-tenants %d: want at least 1", o.tenants)
		}
		if o.idleFor < time.Minute || o.idleFor%time.Minute != 0 {
			return fmt.Errorf("-idle-for %v: want whole minutes, at least 1m (the jobs poll every minute)", o.idleFor)
		}
	default:
		return fmt.Errorf("-scenario %q: want throughput, ratelimited or idle", o.scenario)
	}
	switch o.source {
	case sourceEndpoint, sourceCloudApps, sourceGraph, sourceBoth:
	default:
		return fmt.Errorf("-source %q: want endpoint, cloudapps, graph or both", o.source)
	}
	switch {
	case o.command == "":
		o.command = commandRun
	case o.command != commandRun && o.command != commandBackfill:
		return fmt.Errorf("-command %q: want backfill or run", o.command)
	case o.command == commandBackfill && o.scenario != scenarioRateLimited:
		return fmt.Errorf("-command backfill: only the ratelimited scenario runs backfill (%s reads the child's /metrics, which only run serves)", o.scenario)
	}
	switch {
	case !(o.timeScale > 0) || o.timeScale > 1e6:
		return fmt.Errorf("-time-scale %v: want a factor above 0 (1: real time)", o.timeScale)
	case o.timeScale != 1 && o.scenario != scenarioRateLimited:
		return fmt.Errorf("-time-scale %v: only the ratelimited scenario has limits to scale", o.timeScale)
	}
	switch {
	case o.alerts < 1:
		return fmt.Errorf("-alerts %d: want at least 1", o.alerts)
	case o.source == sourceBoth && o.scenario != scenarioIdle && o.alerts < 2:
		return errors.New("-alerts: want at least 2 with -source both")
	case o.runs < 1:
		return fmt.Errorf("-runs %d: want at least 1", o.runs)
	case o.pending < 1:
		return fmt.Errorf("-pending %d: want at least 1", o.pending)
	case o.maxPayload < 0 || o.maxPayload > 64*mib:
		return fmt.Errorf("-max-payload %d: want 0 (the default) up to 64 MiB", o.maxPayload)
	case o.stall <= 0:
		return fmt.Errorf("-stall %v: want a positive duration", o.stall)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// settle collects this process's garbage before a timed phase. The simulator holds the whole
// backlog (the bench process peaks at 2.5 GB for 100,000 alerts), so each of this process's
// collections marks about a gigabyte: 0.5–1 s of CPU that fell at random into the product's or
// the pass-through's phase and swung bench_cpu_seconds, pass_cpu_seconds and the pass-through's
// rate by a third between runs. Collected before each phase, each phase starts alike, and a
// phase that allocates less than the simulator holds has no collection of its own. (A higher
// GOGC would spare more collections but leave the heap to grow onto fresh pages, whose faults
// the first phase alone pays.)
func settle() { runtime.GC() }

// run is the command; it returns the exit code (0 ok, 1 a run failed, 2 bad flags).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertexport-bench: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := benchmark(ctx, o, log)
	if err != nil {
		fmt.Fprintf(stderr, "alertexport-bench: %v\n", err)
		return 1
	}
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertexport-bench: %v\n", err)
		return 1
	}
	return 0
}

// benchmark sets up the simulator and the binary, runs the scenario o.runs times and returns
// the median report.
func benchmark(ctx context.Context, o options, log *slog.Logger) (*report, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout*time.Duration(o.runs))
	defer cancel()
	b, err := newBench(ctx, o, log)
	if err != nil {
		return nil, err
	}
	defer b.close()
	var reports []*report
	for i := range o.runs {
		log.Info("run", "n", i+1, "of", o.runs, "scenario", o.scenario, "source", o.source, "command", o.command, "alerts", b.expected)
		r, err := b.runOnce(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		reports = append(reports, r)
		logFigures(log, i, r)
	}
	return median(reports), nil
}

// logFigures logs a run's headline figures, so that the spread behind a median shows.
func logFigures(log *slog.Logger, i int, r *report) {
	args := []any{"n", i + 1}
	for _, key := range []string{"raw_alerts_per_s", "pass_alerts_per_s", "pass_ratio", "envpass_alerts_per_s", "envpass_ratio", "envpass_of_pass", "product_alerts_per_s", "product_seconds", "api_429", "peak_rss_mib", "cpu_seconds", "idle_cpu_seconds_per_min", "idle_rss_mib_mean",
		"endpoint_calls_ratio", "cloudapps_calls_ratio", "graph_calls_ratio", "endpoint_alerts_ratio", "cloudapps_alerts_ratio", "graph_alerts_ratio"} {
		if v, ok := r.value(key); ok {
			args = append(args, key, roundFigure(v))
		}
	}
	log.Info("run done", args...)
}
