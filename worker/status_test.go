package worker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	atestutil "github.com/alertexport/alertexport/internal/testutil"
)

// TestStatusRecorded: each counted poll writes the job's status beside its checkpoint, in both
// stores: a failure its short reason and since when, a success its time; a restarted worker
// keeps the last error another run recorded.
func TestStatusRecorded(t *testing.T) {
	t.Parallel()
	sink, _, _ := setupJS(t)
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var now atomic.Pointer[time.Time]
			start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			now.Store(&start)
			src := &script{n: 1, hook: func(context.Context, int32) error {
				return errors.New("HTTP 503\nthe body, which is no business of status")
			}}
			newWorker := func() *Worker {
				w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: src}},
					Sink: sink, Store: store, Replica: "r1", Now: func() time.Time { return *now.Load() }})
				if err != nil {
					t.Fatal(err)
				}
				return w
			}
			ss := store.(StatusStore)
			if _, ok, err := ss.LoadStatus(ctx, "contoso.endpoint"); ok || err != nil {
				t.Fatalf("a status before any poll: %v, %v", ok, err)
			}
			w := newWorker()
			w.poll(ctx, w.jobs[0])
			later := start.Add(time.Minute)
			now.Store(&later)
			w.poll(ctx, w.jobs[0])
			st, ok, err := ss.LoadStatus(ctx, "contoso.endpoint")
			want := JobStatus{Replica: "r1", LastPoll: later, LastError: "HTTP 503", LastErrorAt: later, FailingSince: start}
			if !ok || err != nil || st != want {
				t.Fatalf("status after two failures = %+v, %v, %v; want %+v", st, ok, err, want)
			}

			// A restart, then a success: the error stays on record, failing_since goes.
			src.hook = nil
			done := start.Add(2 * time.Minute)
			now.Store(&done)
			w = newWorker()
			w.poll(ctx, w.jobs[0])
			st, _, _ = ss.LoadStatus(ctx, "contoso.endpoint")
			want = JobStatus{Replica: "r1", LastPoll: done, LastSuccess: done, LastError: "HTTP 503", LastErrorAt: later}
			if st != want {
				t.Errorf("status after a success = %+v, want %+v", st, want)
			}
			if cp, _, err := store.Load(ctx, "contoso.endpoint"); err != nil || cp.Cursor.IsZero() {
				t.Errorf("the checkpoint beside the status: %+v, %v", cp, err)
			}
		})
	}
}

// refusingStatus is a KVStore whose status writes fail.
type refusingStatus struct{ *KVStore }

func (refusingStatus) SaveStatus(context.Context, string, JobStatus) error {
	return errors.New("status bucket full")
}

// TestStatusWriteFailureOnlyWarns: a status that cannot be written costs a warning, never the
// poll or its checkpoint.
func TestStatusWriteFailureOnlyWarns(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var logs atestutil.SyncBuffer
	m := NewMetrics()
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: &script{n: 1}}},
		Sink: sink, Store: refusingStatus{kv}, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.poll(context.Background(), w.jobs[0])
	if cp, _, _ := kv.Load(context.Background(), "contoso.endpoint"); cp.Cursor.IsZero() {
		t.Error("the checkpoint was not saved")
	}
	if n := testutil.ToFloat64(m.pollErrors.WithLabelValues("contoso", "endpoint")); n != 0 {
		t.Errorf("%v poll errors counted for a status write", n)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "status bucket full") {
		t.Errorf("no warning naming the failed status write:\n%s", out)
	}
}

// TestOnlyTheHolderRecordsStatus: with leases, the replica running the job writes its status
// under its name; one that does not hold the lease writes nothing.
func TestOnlyTheHolderRecordsStatus(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	ctx := context.Background()
	newReplica := func(name string) *Worker {
		l, err := NewLeases(ctx, js, name, time.Minute, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: &script{n: 1}}},
			Sink: sink, Store: kv, Leases: l})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	a, b := newReplica("a"), newReplica("b")
	a.poll(ctx, a.jobs[0])
	first, _, _ := kv.LoadStatus(ctx, "contoso.endpoint")
	b.poll(ctx, b.jobs[0]) // a holds the job: b skips it
	st, _, _ := kv.LoadStatus(ctx, "contoso.endpoint")
	if st.Replica != "a" || st.LastSuccess.IsZero() || st != first {
		t.Errorf("status = %+v, want a's, unchanged by b (%+v)", st, first)
	}
	leases, err := js.KeyValue(ctx, LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := LeaseHolder(ctx, leases, "contoso.endpoint"); h != "a" || err != nil {
		t.Errorf("LeaseHolder = %q, %v; want a", h, err)
	}
	if h, err := LeaseHolder(ctx, leases, "contoso.cloudapps"); h != "" || err != nil {
		t.Errorf("LeaseHolder of a job nobody holds = %q, %v; want empty", h, err)
	}
}

// TestOpenKVStoreCreatesNothing: reading opens the bucket only if it is there.
func TestOpenKVStoreCreatesNothing(t *testing.T) {
	t.Parallel()
	_, _, js := runJetStream(t)
	ctx := context.Background()
	if _, err := OpenKVStore(ctx, js); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("OpenKVStore on a fresh server = %v, want bucket not found", err)
	}
	if _, err := js.KeyValue(ctx, StateBucket); err == nil {
		t.Error("OpenKVStore created the bucket")
	}
}
