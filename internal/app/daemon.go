package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sinks/core"
	jssink "github.com/alertexport/alertexport/sinks/jetstream"
	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/registry"
	"github.com/alertexport/alertexport/worker"
)

// Running is what a started export shows its caller: the demo subscribes through its
// connection and reads its metrics; tests probe its endpoints.
type Running struct {
	NATS    *nats.Conn
	Metrics *worker.Metrics
	Health  http.Handler // /healthz, /readyz and /metrics, served on http_addr when it is set
}

// Run is `alertexport run`: it exports on cfg until ctx ends, then stops in order. started,
// if set, is called once the export runs. Why it could not start or stopped is logged and
// returned: a *ConfigError when the config must change (found before anything started).
func Run(ctx context.Context, cfg *config.Config, env config.LookupEnv, log *slog.Logger, started func(Running)) error {
	d, err := newDaemon(ctx, cfg, env, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return &ConfigError{Err: err}
	}
	if err := d.export(ctx, env, started); err != nil {
		log.Error("stopped", "err", err)
		return err
	}
	return nil
}

// daemon is `run` assembled: NATS (embedded or not), the sink, the checkpoint store, one job per
// enabled (tenant, source), and the HTTP endpoints.
type daemon struct {
	cfg       *config.Config
	log       *slog.Logger
	metrics   *worker.Metrics
	jobs      []worker.Job
	embedded  *server.Server
	nc        *nats.Conn
	connected atomic.Bool
	httpSrv   *http.Server
	httpAddr  string                       // where the HTTP endpoints listen, once they do
	store     atomic.Pointer[worker.Store] // the checkpoints, once NATS is there

	// A connection nats.go closes for good never comes back: export ends with closedErr (exit 1)
	// so that the orchestrator restarts the process. stopping tells that from our own Drain.
	stopping  atomic.Bool
	closedErr atomic.Pointer[error]
	fail      context.CancelCauseFunc // ends export; nil outside it
}

// newDaemon builds everything that does not need NATS: tokens, sources, jobs. ctx bounds the
// token providers' requests (the daemon's lifetime).
func newDaemon(ctx context.Context, cfg *config.Config, env config.LookupEnv, log *slog.Logger) (*daemon, error) {
	d := &daemon{cfg: cfg, log: log, metrics: worker.NewMetrics()}
	// Before NATS is dialed, so that a replica that cannot reach it at start says so on /metrics.
	d.metrics.SetConnected(d.connected.Load)
	hc, err := httpclient.New(httpclient.Options{CAFile: cfg.Worker.CAFile})
	if err != nil {
		return nil, err
	}
	for _, t := range cfg.Tenants {
		if len(t.Sources()) == 0 {
			continue
		}
		prov, err := auth.New(t, auth.Options{HTTPClient: hc, Env: env, Logger: log, Context: ctx, Observe: d.metrics.Token})
		if err != nil {
			return nil, err
		}
		for _, s := range t.Sources() {
			e, ok := registry.Lookup(string(s.Kind))
			if !ok {
				log.Warn("this build cannot export this source; it is skipped", "tenant", t.Name, "source", s.Kind)
				continue
			}
			api := &httpclient.API{Name: e.Name, Tenant: t.Name, HTTP: hc, Tokens: prov, Scope: s.Scope,
				Limiter: httpclient.NewLimiter(s.RateLimits...), Logger: log, Observe: d.metrics.APICall}
			src := e.New(t.Settings(s), api, sources.Options{Logger: log, Late: d.metrics.Late(t.Name, e.Name), HeldBack: d.metrics.HeldBack(t.Name, e.Name)})
			if c, ok := src.(sources.Continuer); ok {
				c.ContinueFromOlder(d.loadCheckpoint, func(name string) time.Duration { return t.Source(name).Lookback })
			}
			d.jobs = append(d.jobs, worker.Job{Tenant: t.Name, Source: e.Name, Schedule: s.Cron, Poller: src})
		}
	}
	if len(d.jobs) == 0 {
		return nil, fmt.Errorf("no source to export: enable %s for at least one tenant", apis.Names("[tenant.%s]"))
	}
	return d, nil
}

// loadCheckpoint reads a job's checkpoint for Graph's migration policy (sources.Continuer).
// Without a checkpoint store (backfill) there is nothing to continue from.
func (d *daemon) loadCheckpoint(ctx context.Context, key string) (sources.Checkpoint, error) {
	st := d.store.Load()
	if st == nil {
		return sources.Checkpoint{}, nil
	}
	cp, _, err := (*st).Load(ctx, key)
	return cp, err
}

// connect starts the embedded server (nats.url = "") or dials the configured one. Dialing
// never gives up: a daemon started before NATS waits for it.
func (d *daemon) connect(ctx context.Context, env config.LookupEnv) error {
	opts := natsconn.Options{Logger: d.log, OnStatus: d.connected.Store, OnClosed: d.natsClosed}
	if d.cfg.NATS.URL == "" {
		s, err := natsconn.StartEmbedded(d.cfg.Worker.DataDir, d.cfg.NATS, env, d.log)
		if err != nil {
			return fmt.Errorf("embedded NATS server: %w", err)
		}
		d.embedded = s
		nc, err := natsconn.ConnectEmbedded(s, d.cfg.NATS, env, opts)
		if err != nil {
			return err
		}
		d.nc = nc
		d.connected.Store(nc.IsConnected())
		return nil
	}
	nc, err := natsconn.Connect(ctx, d.cfg.NATS, env, opts)
	if err != nil {
		return err
	}
	d.nc = nc
	d.connected.Store(nc.IsConnected())
	return nil
}

// natsClosed is natsconn's OnClosed: unless the daemon is stopping, a connection closed for
// good fails /healthz and /readyz and ends export with why.
func (d *daemon) natsClosed(err error) {
	if d.stopping.Load() {
		return
	}
	if err == nil {
		err = errors.New("no reason given")
	}
	cause := fmt.Errorf("the NATS connection was closed for good (%w), and nats.go does not reconnect after that: exiting with status 1 so that the orchestrator restarts alertexport", err)
	d.closedErr.Store(&cause)
	if d.fail != nil {
		d.fail(cause)
	}
}

// closed is why the NATS connection is closed for good, or nil.
func (d *daemon) closed() error {
	if e := d.closedErr.Load(); e != nil {
		return *e
	}
	return nil
}

// sinkAndStore sets up the stream and the checkpoint store, and returns the JetStream context
// the KV buckets live in (nil in core mode). Both wait out what is transient
// (NATS not there yet, a cluster electing a leader) until ctx ends; a refusal (a conflicting
// stream or bucket, missing permissions) is returned with what to change.
func (d *daemon) sinkAndStore(ctx context.Context) (sinks.Sink, worker.Store, jetstream.JetStream, error) {
	if d.cfg.NATS.Mode == "core" {
		st, err := worker.NewFileStore(filepath.Join(d.cfg.Worker.DataDir, "state"))
		return core.New(d.nc, d.cfg.NATS), st, nil, err
	}
	opts := jssink.Options{Logger: d.log}
	if d.embedded != nil {
		// The embedded server's storage is bounded; keep room for the KV buckets.
		opts.MaxBytes = natsconn.EmbeddedMaxStore / 10 * 8
	}
	sink, err := jssink.New(ctx, d.nc, d.cfg.NATS, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := openBucket(ctx, d, worker.StateBucket, func(ctx context.Context) (*worker.KVStore, error) {
		return worker.NewKVStore(ctx, sink.JetStream(), d.cfg.NATS.Replicas, d.log)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return sink, store, sink.JetStream(), nil
}

// openBucket opens a KV bucket with open, giving each attempt 10 s: what is transient (a
// cluster electing a leader, a create that got no answer) is retried until ctx ends, a refusal
// returned with what to change.
func openBucket[T any](ctx context.Context, d *daemon, bucket string, open func(context.Context) (T, error)) (T, error) {
	return backoff.Retry(ctx, func() (T, error) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b, err := open(actx)
		var zero T
		switch {
		case err == nil:
			return b, nil
		case jssink.ReplicasRefused(err, d.cfg.NATS.Replicas) != nil:
			return zero, backoff.Permanent(fmt.Errorf("KV bucket %s: %w", bucket, jssink.ReplicasRefused(err, d.cfg.NATS.Replicas)))
		case jssink.IsTransient(err):
			d.log.Warn("cannot open a KV bucket yet; retrying", "bucket", bucket, "err", err)
			return zero, err
		}
		return zero, backoff.Permanent(fmt.Errorf("%w; the account needs JetStream KV rights on bucket %s, and an existing bucket of that name must be a KV bucket on file storage", err, bucket))
	}, backoff.WithMaxElapsedTime(0), backoff.WithBackOff(&backoff.ExponentialBackOff{
		InitialInterval: 500 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 15 * time.Second}))
}

// serveHTTP starts /healthz, /readyz and /metrics when http_addr is set.
func (d *daemon) serveHTTP(h http.Handler) error {
	if d.cfg.Worker.HTTPAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.Worker.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http_addr: %w", err)
	}
	d.httpAddr = ln.Addr().String()
	d.httpSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := d.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("HTTP endpoints stopped", "err", err)
		}
	}()
	d.log.Info("serving /healthz, /readyz, /metrics", "addr", d.httpAddr)
	return nil
}

// export exports until ctx ends, then stops in order: no new polls, running ones finish or are
// abandoned, NATS is drained, the embedded server stops.
func (d *daemon) export(ctx context.Context, env config.LookupEnv, started func(Running)) error {
	// This replica's identity and data_dir's lock, released only after everything else (the
	// embedded server's store is in data_dir too).
	id, err := worker.OpenIdentity(d.cfg.Worker.DataDir, d.log)
	if err != nil {
		return err
	}
	defer id.Close()
	ctx, d.fail = context.WithCancelCause(ctx)
	defer d.fail(nil)
	defer d.close()
	health := worker.NewHealth(d.metrics, d.closed)
	if err := d.serveHTTP(health); err != nil {
		return err
	}
	if err := d.connect(ctx, env); err != nil {
		if ctx.Err() != nil {
			return d.closedCause(ctx) // nil: stopped while waiting for NATS
		}
		return err
	}
	sink, store, js, err := d.sinkAndStore(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return d.closedCause(ctx) // nil: stopped while waiting for NATS
		}
		return err
	}
	d.store.Store(&store)
	var leases *worker.Leases
	if js != nil {
		// Several `run` processes on one JetStream share the jobs through leases.
		leases, err = openBucket(ctx, d, worker.LeaseBucket, func(ctx context.Context) (*worker.Leases, error) {
			return worker.NewLeases(ctx, js, id.Name(), d.cfg.Worker.LeaseTTL, d.cfg.NATS.Replicas, d.log)
		})
		if err != nil {
			if ctx.Err() != nil {
				return d.closedCause(ctx) // nil: stopped while waiting for the bucket
			}
			return err
		}
	}
	wk, err := worker.New(worker.Options{Jobs: d.jobs, Sink: sink, Store: store, Metrics: d.metrics, Logger: d.log,
		Connected: d.connected.Load, Closed: d.closed, Leases: leases, Replica: id.Name()})
	if err != nil {
		return err
	}
	health.Attach(wk)
	if started != nil {
		started(Running{NATS: d.nc, Metrics: d.metrics, Health: health})
	}
	if err := wk.Run(ctx); err != nil {
		return err
	}
	return d.closedCause(ctx)
}

// closedCause is why export's ctx ended when a connection closed for good ended it, nil when it
// was a stop.
func (d *daemon) closedCause(ctx context.Context) error {
	if closed := d.closed(); closed != nil && errors.Is(context.Cause(ctx), closed) {
		return closed
	}
	return nil
}

func (d *daemon) close() {
	d.stopping.Store(true) // the Drain below closes the connection too
	if d.httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = d.httpSrv.Shutdown(sctx)
		cancel()
	}
	if d.nc != nil && !d.nc.IsClosed() {
		closed := make(chan struct{})
		d.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err := d.nc.Drain(); err != nil {
			d.nc.Close()
		}
		select { // Drain is asynchronous; nats.go bounds it by its drain timeout
		case <-closed:
		case <-time.After(10 * time.Second): // the drain timeout is 5 s
			d.nc.Close()
		}
	}
	if d.embedded != nil {
		natsconn.StopEmbedded(d.embedded)
	}
}
