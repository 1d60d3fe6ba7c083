package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/registry"
	"github.com/alertexport/alertexport/worker"
)

// backfill is `alertexport backfill`: export [since, until) again for the chosen jobs, with the
// live export's message IDs (JetStream drops what it already holds) and without touching the
// live checkpoints.
func (c cli) backfill(ctx context.Context, args []string) int {
	fs := c.newFlags("backfill")
	path := c.configFlag(fs)
	sinceFlag := fs.String("since", "", "start of the span: RFC 3339 (2026-11-01T00:00:00Z) or a duration ago (72h)")
	untilFlag := fs.String("until", "", "end of the span, exclusive (default: now); same forms")
	tenant := fs.String("tenant", "", "only this tenant")
	source := fs.String("source", "", "only this source: "+registry.Names("%s"))
	if code, ok := parse(fs, args); !ok {
		return code
	}
	now := c.now().UTC()
	since, err := parseWhen(*sinceFlag, now)
	if err != nil || *sinceFlag == "" {
		fmt.Fprintf(c.stderr, "backfill: --since %q: want an RFC 3339 time or a duration ago such as 72h\n", *sinceFlag)
		return exitBadConfig
	}
	until := now
	if *untilFlag != "" {
		if until, err = parseWhen(*untilFlag, now); err != nil {
			fmt.Fprintf(c.stderr, "backfill: --until %q: want an RFC 3339 time or a duration ago such as 24h\n", *untilFlag)
			return exitBadConfig
		}
	}
	if !since.Before(until) {
		fmt.Fprintf(c.stderr, "backfill: --since %s is not before --until %s\n", since.Format(time.RFC3339), until.Format(time.RFC3339))
		return exitBadConfig
	}
	cfg, warns, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		return exitBadConfig
	}
	if missing := environmentProblems(warns); missing > 0 {
		fmt.Fprintf(c.stderr, "%d of the warnings above name a secret or file that is missing here; backfill needs them\n", missing)
		return exitBadConfig
	}
	log := newLogger(cfg.Log, c.stderr)
	d, err := newDaemon(ctx, cfg, c.env, log)
	if err != nil {
		fmt.Fprintf(c.stderr, "backfill: %v\n", err)
		return exitBadConfig
	}
	var jobs []backfillJob
	for _, j := range d.jobs {
		b, ok := j.Poller.(sources.Backfiller)
		if ok && (*tenant == "" || j.Tenant == *tenant) && (*source == "" || j.Source == *source) {
			jobs = append(jobs, backfillJob{name: j.Tenant + "/" + j.Source, tenant: j.Tenant, source: j.Source, src: b})
		}
	}
	if len(jobs) == 0 {
		fmt.Fprintf(c.stderr, "backfill: no enabled job matches --tenant %q --source %q\n", *tenant, *source)
		return exitBadConfig
	}
	// With the embedded server, reach the running daemon's through embedded_listen, or (the
	// daemon stopped) start it on data_dir ourselves.
	var probeErr error // why the server on embedded_listen did not answer, if it is set
	if client, ok := natsconn.EmbeddedClient(cfg.NATS); ok {
		probeErr = natsconn.Probe(client, c.env, 2*time.Second)
		switch err := probeErr; {
		case err == nil:
			d.cfg.NATS = client // a daemon is running: publish through its server
		case errors.Is(err, nats.ErrAuthorization):
			// Starting a second server on the daemon's data_dir is no way around that.
			fmt.Fprintf(c.stderr, "backfill: a server answers on nats.embedded_listen %s but refuses this config's credentials (%v); run backfill with the config the daemon runs with\n", cfg.NATS.EmbeddedListen, err)
			return exitFailure
		}
	}
	if d.cfg.NATS.URL == "" {
		// Starting the embedded server on data_dir: never beside a daemon on the same store.
		if err := os.MkdirAll(cfg.Worker.DataDir, 0o700); err == nil {
			lock, err := worker.LockDataDir(cfg.Worker.DataDir)
			switch {
			case errors.Is(err, worker.ErrDataDirInUse) && probeErr != nil:
				fmt.Fprintf(c.stderr, "backfill: %v; a daemon runs on this data_dir, but its server did not answer on nats.embedded_listen %s (%v): check that the daemon listens there, or stop it\n", err, cfg.NATS.EmbeddedListen, probeErr)
				return exitFailure
			case errors.Is(err, worker.ErrDataDirInUse):
				fmt.Fprintf(c.stderr, "backfill: %v; a daemon runs on this data_dir: set nats.embedded_listen so that backfill publishes through its server, or stop it\n", err)
				return exitFailure
			}
			if err == nil {
				defer lock.Close()
			}
		}
	}
	defer d.close()
	if err := d.connect(ctx, c.env); err != nil {
		fmt.Fprintf(c.stderr, "backfill: %v\n", err)
		return exitFailure
	}
	sink, _, err := d.sinkAndStore(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "backfill: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stderr, "backfill: %s to %s, %d job(s); the live checkpoints stay where they are\n",
		since.Format(time.RFC3339), until.Format(time.RFC3339), len(jobs))
	for _, j := range jobs {
		if err := j.run(ctx, sink, since, until, c.stderr); err != nil {
			fmt.Fprintf(c.stderr, "backfill: %s: %v\n", j.name, err)
			return exitFailure
		}
	}
	return exitOK
}

type backfillJob struct {
	name           string
	tenant, source string
	src            sources.Backfiller
}

// run backfills one job, printing progress every few seconds and a summary.
func (j backfillJob) run(ctx context.Context, sink sinks.Sink, since, until time.Time, w io.Writer) error {
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

// parseWhen reads an RFC 3339 time, or a duration meaning that long before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("not a time or a duration")
	}
	return now.Add(-d), nil
}
