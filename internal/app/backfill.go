package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/worker"
)

// BackfillOptions chooses what Backfill exports again: [Since, Until) of the jobs matching
// Tenant and Source ("" matches every one).
type BackfillOptions struct {
	Since, Until   time.Time
	Tenant, Source string
}

// Backfill is `alertexport backfill`: export [since, until) again for the chosen jobs, with the
// live export's message IDs (JetStream drops what it already holds) and without touching the
// live checkpoints. Progress and a summary per job go to w. A *ConfigError is a config or a
// choice of jobs to fix.
func Backfill(ctx context.Context, cfg *config.Config, env config.LookupEnv, log *slog.Logger, w io.Writer, o BackfillOptions) error {
	d, err := newDaemon(ctx, cfg, env, log)
	if err != nil {
		return &ConfigError{Err: err}
	}
	var jobs []backfillJob
	for _, j := range d.jobs {
		b, ok := j.Poller.(sources.Backfiller)
		if ok && (o.Tenant == "" || j.Tenant == o.Tenant) && (o.Source == "" || j.Source == o.Source) {
			jobs = append(jobs, backfillJob{name: j.Tenant + "/" + j.Source, tenant: j.Tenant, source: j.Source, src: b})
		}
	}
	if len(jobs) == 0 {
		return &ConfigError{Err: fmt.Errorf("no enabled job matches --tenant %q --source %q", o.Tenant, o.Source)}
	}
	// With the embedded server, reach the running daemon's through embedded_listen, or (the
	// daemon stopped) start it on data_dir ourselves.
	var probeErr error // why the server on embedded_listen did not answer, if it is set
	if client, ok := natsconn.EmbeddedClient(cfg.NATS); ok {
		probeErr = natsconn.Probe(client, env, 2*time.Second)
		switch err := probeErr; {
		case err == nil:
			d.cfg.NATS = client // a daemon is running: publish through its server
		case errors.Is(err, nats.ErrAuthorization):
			// Starting a second server on the daemon's data_dir is no way around that.
			return fmt.Errorf("a server answers on nats.embedded_listen %s but refuses this config's credentials (%v); run backfill with the config the daemon runs with", cfg.NATS.EmbeddedListen, err)
		}
	}
	if d.cfg.NATS.URL == "" {
		// Starting the embedded server on data_dir: never beside a daemon on the same store.
		if err := os.MkdirAll(cfg.Worker.DataDir, 0o700); err == nil {
			lock, err := worker.LockDataDir(cfg.Worker.DataDir)
			switch {
			case errors.Is(err, worker.ErrDataDirInUse) && probeErr != nil:
				return fmt.Errorf("%w; a daemon runs on this data_dir, but its server did not answer on nats.embedded_listen %s (%v): check that the daemon listens there, or stop it", err, cfg.NATS.EmbeddedListen, probeErr)
			case errors.Is(err, worker.ErrDataDirInUse):
				return fmt.Errorf("%w; a daemon runs on this data_dir: set nats.embedded_listen so that backfill publishes through its server, or stop it", err)
			}
			if err == nil {
				defer lock.Close()
			}
		}
	}
	defer d.close()
	if err := d.connect(ctx, env); err != nil {
		return err
	}
	sink, _, _, err := d.sinkAndStore(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "backfill: %s to %s, %d job(s); the live checkpoints stay where they are\n",
		o.Since.Format(time.RFC3339), o.Until.Format(time.RFC3339), len(jobs))
	for _, j := range jobs {
		if err := j.backfill(ctx, sink, o.Since, o.Until, w); err != nil {
			return fmt.Errorf("%s: %w", j.name, err)
		}
	}
	return nil
}

type backfillJob struct {
	name           string
	tenant, source string
	src            sources.Backfiller
}

// backfill exports one job's span again, printing progress every few seconds and a summary.
func (j backfillJob) backfill(ctx context.Context, sink sinks.Sink, since, until time.Time, w io.Writer) error {
	var versions, duplicates, batches atomic.Int64
	var reached atomic.Int64 // the newest alert time handed over, Unix ms
	start := time.Now()
	var printing sync.Mutex // the ticker's lines and the final one
	progress := func(final bool) {
		printing.Lock()
		defer printing.Unlock()
		elapsed := time.Since(start)
		rate := float64(versions.Load()) / max(elapsed.Seconds(), 0.001)
		line := fmt.Sprintf("%s: %d versions (%d already in the stream), %d batches, %.0f/s, %s",
			j.name, versions.Load(), duplicates.Load(), batches.Load(), rate, elapsed.Round(time.Second))
		if r := reached.Load(); r > 0 && !final {
			at := time.UnixMilli(r)
			done := float64(at.Sub(since)) / float64(until.Sub(since))
			if done > 0.01 && done < 1 {
				eta := time.Duration(float64(elapsed) / done * (1 - done))
				line += fmt.Sprintf(", up to %s (%.0f%%), about %s left", at.UTC().Format(time.RFC3339), 100*done, eta.Round(time.Second))
			}
		}
		if final {
			line += ", done"
		}
		fmt.Fprintln(w, line)
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				progress(false)
			}
		}
	}()
	// Overlapped: a batch is published while the source reads on.
	pub := worker.Publisher{Sink: sink, Tenant: j.tenant, Source: j.source}
	emit, wait := sources.Overlap(func(ctx context.Context, b sources.Batch) error {
		if len(b.Messages) == 0 {
			return nil
		}
		o, err := pub.Publish(ctx, b.Messages)
		if err != nil {
			return err
		}
		batches.Add(1)
		versions.Add(int64(len(b.Messages)))
		duplicates.Add(int64(o.Duplicates))
		if !o.Newest.IsZero() && o.Newest.UnixMilli() > reached.Load() {
			reached.Store(o.Newest.UnixMilli())
		}
		return nil
	})
	err := j.src.Backfill(ctx, since, until, emit)
	if werr := wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	progress(true)
	return nil
}
