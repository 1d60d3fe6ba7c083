package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"

	"github.com/alertexport/alertexport/config"
	atestutil "github.com/alertexport/alertexport/internal/testutil"
	jssink "github.com/alertexport/alertexport/sinks/jetstream"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// script is a Source for worker tests: each poll hands over the same versions and a checkpoint,
// after running hook (which may block, fail or panic).
type script struct {
	n     int
	polls atomic.Int32
	hook  func(ctx context.Context, poll int32) error
}

func (s *script) Poll(ctx context.Context, cp sources.Checkpoint, emit sources.Emit) error {
	n := s.polls.Add(1)
	if s.hook != nil {
		if err := s.hook(ctx, n); err != nil {
			return err
		}
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var msgs []sources.Message
	for i := range s.n {
		id := fmt.Sprintf("da%d_1", i)
		title := "test alert"
		msgs = append(msgs, sources.Message{MsgID: envelope.MsgID("contoso", "endpoint", id, at), Tenant: "contoso", Source: "endpoint",
			Alert: &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Event: "created",
				Severity: "high", Status: "new", Title: &title, UpdatedAt: at, Raw: []byte(`{}`)}})
	}
	return emit(ctx, sources.Batch{Messages: msgs, Checkpoint: &sources.Checkpoint{Cursor: at}})
}

// failingStore fails the first n saves: the process dying between the publish and the
// checkpoint write.
type failingStore struct {
	Store
	n atomic.Int32
}

func (f *failingStore) Save(ctx context.Context, key string, cp *sources.Checkpoint, rev uint64) (uint64, error) {
	if f.n.Add(-1) >= 0 {
		return 0, errors.New("killed before the checkpoint was written")
	}
	return f.Store.Save(ctx, key, cp, rev)
}

func every(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setupJS is a real server with the product's stream and checkpoint bucket.
func setupJS(t *testing.T) (*jssink.Sink, *KVStore, jetstream.JetStream) {
	t.Helper()
	_, nc, js := runJetStream(t)
	cfg := config.NATS{Mode: "jetstream", Subject: "alerts.{source}.{tenant}.{severity}", Stream: "ALERTS",
		DuplicateWindow: time.Hour, MaxAge: 24 * time.Hour}
	sink, err := jssink.New(context.Background(), nc, cfg, jssink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := NewKVStore(context.Background(), js, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sink, kv, js
}

func streamCount(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), "ALERTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestCrashBetweenPublishAndCheckpoint: the flow dies after JetStream acknowledged a poll's
// messages and before its checkpoint was written. The next poll starts from the old checkpoint
// and sends the same versions again; JetStream drops them (same Nats-Msg-Id) and the checkpoint
// then moves.
func TestCrashBetweenPublishAndCheckpoint(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	store := &failingStore{Store: kv}
	store.n.Store(1)
	src := &script{n: 25}
	m := NewMetrics()
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: src}},
		Sink: sink, Store: store, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.pollOnce(ctx, w.jobs[0]); err == nil {
		t.Fatal("the poll whose checkpoint write was killed succeeded")
	}
	if cp, _, _ := kv.Load(ctx, "contoso.endpoint"); !cp.Cursor.IsZero() {
		t.Fatal("the checkpoint moved")
	}
	if n := streamCount(t, js); n != 25 {
		t.Fatalf("stream holds %d after the first poll, want 25", n)
	}
	published, err := w.pollOnce(ctx, w.jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := streamCount(t, js); n != 25 {
		t.Errorf("stream holds %d after the re-send, want still 25", n)
	}
	if d := testutil.ToFloat64(m.duplicates.WithLabelValues("contoso", "endpoint")); d != 25 || published != 0 {
		t.Errorf("re-send: %v duplicates, %d published; want 25 and 0", d, published)
	}
	if cp, _, _ := kv.Load(ctx, "contoso.endpoint"); cp.Cursor.IsZero() {
		t.Error("the checkpoint did not move after the re-send")
	}
}

// runWorker starts w.Run and returns a stop function that cancels it and waits for it.
func runWorker(t *testing.T, w *Worker) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() time.Duration {
		start := time.Now()
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return")
			}
		})
		return time.Since(start)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestFirstPollRunsAtStart: a job whose schedule fires hourly still polls at once.
func TestFirstPollRunsAtStart(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	polled := make(chan struct{}, 1)
	src := &script{n: 1, hook: func(context.Context, int32) error { polled <- struct{}{}; return nil }}
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: src}}, Sink: sink, Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	select {
	case <-polled:
	case <-time.After(10 * time.Second):
		t.Fatal("no poll at start")
	}
}

// TestPanickingPollRunsAgain: a poll that panics is recovered, and the job keeps its schedule
// (Recover inside SkipIfStillRunning).
func TestPanickingPollRunsAgain(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	again := make(chan struct{}, 1)
	src := &script{n: 1, hook: func(_ context.Context, n int32) error {
		if n == 1 {
			panic("a bug in a source")
		}
		select {
		case again <- struct{}{}:
		default:
		}
		return nil
	}}
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1s"), Poller: src}}, Sink: sink, Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	select {
	case <-again:
	case <-time.After(10 * time.Second):
		t.Fatal("the job never ran again after a panic")
	}
}

// TestStopAbandonsAHungPoll: a stop waits StopGrace for a running poll, then abandons it; its
// checkpoint stays where it was.
func TestStopAbandonsAHungPoll(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	started := make(chan struct{})
	var sawCancel atomic.Bool
	src := &script{n: 1, hook: func(ctx context.Context, _ int32) error {
		close(started)
		<-ctx.Done()
		sawCancel.Store(true)
		return ctx.Err()
	}}
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: src}},
		Sink: sink, Store: kv, StopGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runWorker(t, w)
	<-started
	stop()
	if !sawCancel.Load() {
		t.Error("the hung poll was not cancelled")
	}
	if cp, _, _ := kv.Load(context.Background(), "contoso.endpoint"); !cp.Cursor.IsZero() {
		t.Error("an abandoned poll moved the checkpoint")
	}
}

// TestReadiness: ready while NATS is connected and no job has failed for three intervals.
func TestReadiness(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	var connected atomic.Bool
	connected.Store(true)
	src := &script{n: 0, hook: func(context.Context, int32) error { return errors.New("HTTP 503") }}
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: src}},
		Sink: sink, Store: kv, Connected: connected.Load, Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := w.Ready(); !ok {
		t.Fatalf("not ready before any poll: %s", why)
	}
	w.poll(context.Background(), w.jobs[0])
	later := start.Add(2 * time.Minute)
	now.Store(&later)
	if ok, why := w.Ready(); !ok {
		t.Errorf("not ready after failing for 2 of 3 intervals: %s", why)
	}
	later = start.Add(4 * time.Minute)
	now.Store(&later)
	if ok, why := w.Ready(); ok || !strings.Contains(why, "contoso.endpoint") || !strings.Contains(why, "HTTP 503") {
		t.Errorf("Ready after failing 4 intervals = %v %q, want false naming the job and its error", ok, why)
	}
	src.hook = nil
	w.poll(context.Background(), w.jobs[0])
	if ok, why := w.Ready(); !ok {
		t.Errorf("not ready after a successful poll: %s", why)
	}
	connected.Store(false)
	if ok, why := w.Ready(); ok || !strings.Contains(why, "NATS") {
		t.Errorf("Ready while NATS is down = %v %q", ok, why)
	}
}

// TestPanicsAndHangsShowOnReadyz: a poll that panics counts as a failed poll, and one that
// never returns makes the job not ready after three intervals.
func TestPanicsAndHangsShowOnReadyz(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	release := make(chan struct{})
	src := &script{n: 0, hook: func(_ context.Context, n int32) error {
		switch n {
		case 1:
			panic("a bug in a source")
		case 2:
			return nil
		}
		<-release
		return nil
	}}
	m := NewMetrics()
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: src}},
		Sink: sink, Store: kv, Metrics: m, Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	w.poll(context.Background(), w.jobs[0])
	if n := testutil.ToFloat64(m.pollErrors.WithLabelValues("contoso", "endpoint")); n != 1 {
		t.Errorf("a panicking poll counted %v errors, want 1", n)
	}
	if err := w.jobs[0].lastErr; err == nil || !strings.Contains(err.Error(), "a bug in a source") {
		t.Errorf("last error = %v, want the panic", err)
	}
	w.poll(context.Background(), w.jobs[0]) // succeeds: the job is healthy again
	done := make(chan struct{})
	go func() { w.poll(context.Background(), w.jobs[0]); close(done) }()
	atestutil.WaitFor(t, "the poll to start", func() bool {
		w.jobs[0].mu.Lock()
		defer w.jobs[0].mu.Unlock()
		return !w.jobs[0].runningSince.IsZero()
	})
	later := start.Add(10 * time.Minute)
	now.Store(&later)
	if ok, why := w.Ready(); ok || !strings.Contains(why, "nothing handed over") {
		t.Errorf("Ready with a poll hung for 10 intervals = %v %q", ok, why)
	}
	close(release)
	<-done
}
