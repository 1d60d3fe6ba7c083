// Package worker runs the export: one job per enabled (tenant, source), each on its cron schedule,
// each poll → publish → checkpoint, with the metrics and health of docs/operations.md. It knows the
// Source and Sink interfaces and the checkpoint Store, nothing of any one API or of NATS beyond KV.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/httpclient"
)

// Job is one (tenant, source) to export.
type Job struct {
	Tenant, Source string
	Schedule       cron.Schedule // evaluated in UTC
	Poller         sources.Source
}

// Key is the job's checkpoint key: <tenant>.<source>.
func (j Job) Key() string { return j.Tenant + "." + j.Source }

// Options configures a Worker.
type Options struct {
	Jobs    []Job
	Sink    sinks.Sink
	Store   Store
	Metrics *Metrics     // nil = a fresh registry
	Logger  *slog.Logger // nil = discard
	// StopGrace is how long a stop lets a running poll finish before abandoning it (its
	// checkpoint stays where it was); 0 = 10 s.
	StopGrace time.Duration
	// Connected reports whether NATS is connected, for /readyz; nil = always.
	Connected func() bool
	// Closed is non-nil once the NATS connection is closed for good (nats.go never reconnects
	// then), and says why: /healthz and /readyz fail with it. nil = never.
	Closed func() error
	// Leases, when set, lets several replicas share the jobs: a job polls only while this
	// replica holds its lease. nil = this process runs every job.
	Leases *Leases
	// Replica is this replica's name, recorded in each job's status (JobStatus); "" = the
	// Leases' name, if any.
	Replica string
	Now     func() time.Time // nil = time.Now
}

// Worker schedules and runs the jobs.
type Worker struct {
	o      Options
	log    *slog.Logger
	jobs   []*job
	status StatusStore // nil: the Store keeps no status

	mu      sync.Mutex
	stopped bool
	running sync.WaitGroup

	handlerOnce sync.Once
	handler     http.Handler
}

// job is a Job with its state.
type job struct {
	Job
	interval time.Duration

	mu           sync.Mutex
	failingSince time.Time // zero while the last poll succeeded (or none ran yet)
	lastErr      error
	runningSince time.Time // zero while no poll runs
	progress     time.Time // when the running poll last handed over a batch
	status       JobStatus // as last recorded (recordStatus)
	statusLoaded bool      // status was read from the store in this tenure of the lease
}

// hangAfter is how long a running poll may go without handing over a batch before /readyz
// calls it hung: three intervals, and never less than stalls that are normal (a page waiting
// out a throttled API, a publish waiting out a short NATS hiccup).
func (j *job) hangAfter() time.Duration { return max(3*j.interval, 5*time.Minute) }

func (j *job) noteProgress(t time.Time) {
	j.mu.Lock()
	j.progress = t
	j.mu.Unlock()
}

// New prepares a worker; Run starts it.
func New(o Options) (*Worker, error) {
	if o.Sink == nil || o.Store == nil {
		return nil, errors.New("worker: a sink and a store are required")
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Worker{o: o, log: o.Logger}
	w.status, _ = o.Store.(StatusStore)
	if o.Leases != nil {
		o.Leases.SetJobs(len(o.Jobs))
	}
	for _, j := range o.Jobs {
		if j.Schedule == nil || j.Poller == nil {
			return nil, fmt.Errorf("worker: job %s has no schedule or source", j.Key())
		}
		jb := &job{Job: j, interval: interval(j.Schedule, o.Now())}
		w.jobs = append(w.jobs, jb)
		o.Metrics.initJob(j.Tenant, j.Source, jb.interval, o.Leases == nil)
	}
	connected := o.Connected
	if connected == nil {
		connected = func() bool { return true }
	}
	o.Metrics.SetConnected(connected)
	return w, nil
}

// interval is the time between two runs of s after now (cron schedules may be irregular; this
// is the next gap).
func interval(s cron.Schedule, now time.Time) time.Duration {
	a := s.Next(now.UTC())
	return s.Next(a).Sub(a)
}

// Run polls every job once at once, then on its schedule, until ctx ends; then it stops
// scheduling, lets running polls finish for StopGrace, abandons the rest (their checkpoints stay)
// and returns.
func (w *Worker) Run(ctx context.Context) error {
	jobsCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	logger := cronLogger{w.log}
	c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(logger),
		// SkipIfStillRunning outside, Recover inside: a panicking poll must give its token
		// back (robfig/cron v3 chain.go).
		cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	var first []cron.Job
	start := time.Now() // cron's clock, not Options.Now
	for _, j := range w.jobs {
		// Each job has a context of its own, so that one job can be stopped (a lost lease)
		// without touching the others.
		jobCtx, cancel := context.WithCancel(jobsCtx)
		defer cancel()
		id := c.Schedule(splay(j.Schedule, j.Tenant, j.Source, start), cron.FuncJob(func() { w.poll(jobCtx, j) }))
		first = append(first, c.Entry(id).WrappedJob)
	}
	c.Start()
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	if w.o.Leases != nil {
		go w.o.Leases.Renew(renewCtx)
	}
	for i, job := range first {
		// Through the chain, so the schedule's first tick skips while it runs.
		j := w.jobs[i]
		d := firstDelay(j.Tenant, j.Source, len(w.jobs), j.interval)
		if d == 0 {
			go job.Run()
			continue
		}
		go func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				job.Run()
			case <-ctx.Done():
			}
		}()
	}
	w.log.Info("worker started", "jobs", len(w.jobs))

	<-ctx.Done()
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	c.Stop() // no new polls; running ones (cron's and the first) are tracked by w.running
	done := make(chan struct{})
	go func() { w.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.o.StopGrace):
		w.log.Warn("stopping: abandoning running polls; their checkpoints stay where they were", "grace", w.o.StopGrace.String())
		abandon()
		select {
		case <-done:
		case <-time.After(w.o.StopGrace):
			w.log.Error("stopping: polls did not end after being abandoned; leaving them", "grace", w.o.StopGrace.String())
		}
	}
	stopRenew()
	if w.o.Leases != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		w.o.Leases.ReleaseAll(rctx)
		cancel()
	}
	w.log.Info("worker stopped")
	return nil
}

// poll runs one poll of j: load the checkpoint, hand each batch to the sink, save the
// checkpoint a batch carries once the sink has accepted everything before it.
func (w *Worker) poll(ctx context.Context, j *job) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.running.Add(1)
	w.mu.Unlock()
	defer w.running.Done()

	m := w.o.Metrics
	if l := w.o.Leases; l != nil {
		held, err := l.Acquire(ctx, j.Key())
		if err != nil {
			w.log.Warn("cannot take or renew the job's lease; skipping this run", "job", j.Key(), "err", err)
		}
		if !held {
			m.leaseHeld.WithLabelValues(j.Tenant, j.Source).Set(0)
			w.clearFailing(j)
			j.forgetStatus() // the replica that runs it records its status
			return           // another replica runs it
		}
		m.leaseHeld.WithLabelValues(j.Tenant, j.Source).Set(1)
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		l.guard(j.Key(), cancel)
		defer l.unguard(j.Key())
	}
	w.loadStatus(ctx, j)
	m.polls.WithLabelValues(j.Tenant, j.Source).Inc()
	start := w.o.Now()
	j.mu.Lock()
	j.runningSince, j.progress = start, start
	j.mu.Unlock()
	published, err := w.pollSafely(ctx, j)
	j.mu.Lock()
	j.runningSince = time.Time{}
	j.mu.Unlock()
	if err != nil {
		if errors.Is(err, errLostLease) || errors.Is(context.Cause(ctx), errLostLease) {
			m.leaseHeld.WithLabelValues(j.Tenant, j.Source).Set(0)
			w.clearFailing(j)
			j.forgetStatus()
			w.log.Info("poll stopped: the lease moved to another replica; its checkpoint stays", "tenant", j.Tenant, "source", j.Source, "published", published)
			return
		}
		if ctx.Err() != nil && w.isStopped() {
			w.log.Info("poll abandoned at stop; its checkpoint stays where it was", "tenant", j.Tenant, "source", j.Source, "published", published)
			return
		}
		m.pollErrors.WithLabelValues(j.Tenant, j.Source).Inc()
		j.mu.Lock()
		if j.failingSince.IsZero() {
			j.failingSince = start
			m.failingSince.WithLabelValues(j.Tenant, j.Source).Set(float64(start.Unix()))
		}
		j.lastErr = err
		j.mu.Unlock()
		w.log.Error("poll failed; the checkpoint did not move", "tenant", j.Tenant, "source", j.Source, "published", published, "err", err)
		w.recordStatus(ctx, j, w.o.Now(), err)
		return
	}
	w.clearFailing(j)
	done := w.o.Now()
	m.lastSuccess.WithLabelValues(j.Tenant, j.Source).Set(float64(done.Unix()))
	w.recordStatus(ctx, j, done, nil)
	lvl := slog.LevelDebug
	if published > 0 {
		lvl = slog.LevelInfo
	}
	w.log.Log(ctx, lvl, "poll done", "tenant", j.Tenant, "source", j.Source, "published", published, "took", w.o.Now().Sub(start).Round(time.Millisecond).String())
}

// clearFailing forgets j's failures: its poll succeeded, or another replica runs it now (whose
// failures are that replica's to report, on /readyz and in the failing-since metric).
func (w *Worker) clearFailing(j *job) {
	j.mu.Lock()
	j.failingSince, j.lastErr = time.Time{}, nil
	j.mu.Unlock()
	w.o.Metrics.failingSince.WithLabelValues(j.Tenant, j.Source).Set(0)
}

// pollSafely is pollOnce with a panic turned into the poll's error, so that it is counted,
// logged with its stack and seen by /readyz like any failure (cron's Recover stays as the
// backstop).
func (w *Worker) pollSafely(ctx context.Context, j *job) (published int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return w.pollOnce(ctx, j)
}

func (w *Worker) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

func (w *Worker) pollOnce(ctx context.Context, j *job) (int, error) {
	key := j.Key()
	if l := w.o.Leases; l != nil {
		// Checked again right before every API request: a replica frozen past its lease
		// (SIGSTOP, a paused VM) must not send the one it was about to when it wakes, while
		// another replica runs the job.
		ctx = httpclient.WithGate(ctx, func() error {
			if !l.Held(key) {
				return errLostLease
			}
			return nil
		})
	}
	cp, rev, err := w.o.Store.Load(ctx, key)
	if err != nil {
		return 0, err
	}
	m := w.o.Metrics
	pub := Publisher{Sink: w.o.Sink, Tenant: j.Tenant, Source: j.Source, Metrics: m, Logger: w.log}
	published := 0
	// Overlapped: a batch is published while the source reads the next page; a checkpoint
	// still waits for everything before it.
	overlapped, wait := sources.Overlap(func(ctx context.Context, b sources.Batch) error {
		j.noteProgress(w.o.Now())
		if w.o.Leases != nil && !w.o.Leases.Held(key) {
			return errLostLease // stop before the next page
		}
		o, err := pub.Publish(ctx, b.Messages)
		if err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		published += o.Published
		if b.Checkpoint != nil {
			if w.o.Leases != nil && !w.o.Leases.Held(key) {
				return errLostLease // never write a checkpoint for a job another replica runs
			}
			next, err := w.o.Store.Save(ctx, key, b.Checkpoint, rev)
			if err != nil {
				return err
			}
			rev = next
			w.log.Debug("checkpoint saved", "tenant", j.Tenant, "source", j.Source, "revision", rev)
			m.lastCheckpoint.WithLabelValues(j.Tenant, j.Source).Set(float64(w.o.Now().Unix()))
			if !b.Checkpoint.Cursor.IsZero() {
				m.cursor.WithLabelValues(j.Tenant, j.Source).Set(float64(b.Checkpoint.Cursor.UnixNano()) / 1e9)
			}
		}
		return nil
	})
	emit := func(ctx context.Context, b sources.Batch) error {
		// Checked before the batch is handed over, not only when it is published, so that a
		// replica that lost its lease stops before its next page.
		if w.o.Leases != nil && !w.o.Leases.Held(key) {
			return errLostLease
		}
		return overlapped(ctx, b)
	}
	err = j.Poller.Poll(ctx, cp, emit)
	if werr := wait(); werr != nil && (err == nil || errors.Is(werr, errLostLease)) {
		err = werr // a lost lease explains whatever else went wrong meanwhile
	}
	return published, err
}

// Ready reports whether the worker is fit for traffic and, if not, why: NATS is not
// connected, or one short line per job in trouble (its key, since when, a short reason). The
// full errors stay in the log: a panic's stack or an API's body is no business of a probe,
// which more people may reach than the log.
func (w *Worker) Ready() (bool, string) {
	if err := w.closed(); err != nil {
		return false, err.Error()
	}
	if w.o.Connected != nil && !w.o.Connected() {
		return false, "NATS is not connected"
	}
	now := w.o.Now()
	var why []string
	for _, j := range w.jobs {
		j.mu.Lock()
		since, err, running, progress := j.failingSince, j.lastErr, j.runningSince, j.progress
		j.mu.Unlock()
		if !since.IsZero() && now.Sub(since) > 3*j.interval {
			why = append(why, fmt.Sprintf("%s has been failing since %s: %s", j.Key(), since.UTC().Format(time.RFC3339), shortReason(err)))
		}
		// A poll that hangs (NATS refusing every publish, say) never returns an error. A long
		// poll that moves (a backlog draining page by page) is not hung.
		if !running.IsZero() && now.Sub(progress) > j.hangAfter() {
			why = append(why, fmt.Sprintf("%s has been polling since %s, with nothing handed over since %s", j.Key(),
				running.UTC().Format(time.RFC3339), progress.UTC().Format(time.RFC3339)))
		}
	}
	if len(why) > 0 {
		return false, strings.Join(why, "\n")
	}
	return true, "ok"
}

// closed is why the NATS connection is closed for good, or nil.
func (w *Worker) closed() error {
	if w.o.Closed == nil {
		return nil
	}
	return w.o.Closed()
}

// maxReason bounds a job's reason on /readyz, in characters.
const maxReason = 200

// shortReason is err in one short line: for an API's answer its status and error code, else
// the first line of the message (a panic's stack follows on the next lines), cut to maxReason
// characters, control characters replaced.
func shortReason(err error) string {
	if err == nil {
		return "no error recorded"
	}
	var api *httpclient.Error
	s := err.Error()
	if errors.As(err, &api) {
		s = api.API + " API: no answer: " + api.Message
		if api.Status != 0 {
			s = fmt.Sprintf("%s API: HTTP %d %s", api.API, api.Status, api.Code)
		}
	}
	s, _, _ = strings.Cut(s, "\n")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > maxReason {
		s = string([]rune(s)[:maxReason-1]) + "…"
	}
	return s
}

// cronLogger sends robfig/cron's logs to slog (its default logger writes to stdout).
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
