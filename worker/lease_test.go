package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertexport/alertexport/sinks/natstest"
)

// TestTwoReplicasShareAJob: two workers on one JetStream, one job. Only the lease holder polls,
// never both at once; when the holder stops, the other takes the job over within the lease TTL
// plus an interval.
func TestTwoReplicasShareAJob(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	var inPoll, overlaps atomic.Int32
	polls := map[string]*atomic.Int32{"a": {}, "b": {}}
	newReplica := func(name string) (*Worker, *Metrics) {
		l, err := NewLeases(context.Background(), js, name, time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		src := &script{n: 1, hook: func(context.Context, int32) error {
			if inPoll.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inPoll.Add(-1)
			polls[name].Add(1)
			time.Sleep(20 * time.Millisecond) // a poll takes a moment, so overlaps would show
			return nil
		}}
		m := NewMetrics()
		w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1s"), Poller: src}},
			Sink: sink, Store: kv, Metrics: m, Leases: l})
		if err != nil {
			t.Fatal(err)
		}
		return w, m
	}
	wa, ma := newReplica("a")
	wb, mb := newReplica("b")
	stopA := runWorker(t, wa)
	natstest.WaitFor(t, "replica a polls", func() bool { return polls["a"].Load() >= 2 })
	runWorker(t, wb)
	time.Sleep(2500 * time.Millisecond) // several ticks of both: b must stay a follower
	if n := polls["b"].Load(); n != 0 {
		t.Errorf("the follower polled %d times while the holder ran", n)
	}
	if testutil.ToFloat64(ma.leaseHeld.WithLabelValues("contoso", "endpoint")) != 1 || testutil.ToFloat64(mb.leaseHeld.WithLabelValues("contoso", "endpoint")) != 0 {
		t.Error("lease_held should be 1 on the holder and 0 on the follower")
	}
	stopA()
	natstest.WaitFor(t, "replica b takes the job over", func() bool { return polls["b"].Load() >= 1 })
	if overlaps.Load() > 0 {
		t.Errorf("%d polls ran on both replicas at once", overlaps.Load())
	}
}

// TestLostLeaseStopsThePoll: a replica whose lease was taken (it paused past the TTL) stops its
// running poll before the next page and writes no checkpoint.
func TestLostLeaseStopsThePoll(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	l, err := NewLeases(context.Background(), js, "a", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, err := l.Acquire(ctx, "contoso.endpoint"); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	// Another replica takes the key (as if a's lease had expired).
	if err := l.kv.Purge(ctx, "contoso.endpoint"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.kv.Create(ctx, "contoso.endpoint", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Acquire(ctx, "contoso.endpoint"); ok || l.Held("contoso.endpoint") {
		t.Fatal("renewing a lease another replica took succeeded")
	}
	// A poll that was running under the lost lease saves nothing.
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: &script{n: 3}}},
		Sink: sink, Store: kv, Leases: l})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pollOnce(ctx, w.jobs[0]); err == nil {
		t.Error("a poll without the lease succeeded")
	}
	if cp, _, _ := kv.Load(ctx, "contoso.endpoint"); !cp.Cursor.IsZero() {
		t.Error("a replica without the lease wrote the checkpoint")
	}
}

// TestJobsSpreadOverReplicas: one replica runs four jobs alone; when a second joins, the first
// gives jobs back one renewal at a time until each runs two.
func TestJobsSpreadOverReplicas(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	var jobs []Job
	for _, tenant := range []string{"a", "b", "c", "d"} {
		jobs = append(jobs, Job{Tenant: tenant, Source: "endpoint", Schedule: every(t, "@every 1s"), Poller: &script{n: 1}})
	}
	replica := func(name string) *Leases {
		l, err := NewLeases(context.Background(), js, name, time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(Options{Jobs: jobs, Sink: sink, Store: kv, Leases: l})
		if err != nil {
			t.Fatal(err)
		}
		runWorker(t, w)
		return l
	}
	held := func(l *Leases) int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.held)
	}
	one := replica("one")
	natstest.WaitFor(t, "the only replica to take every job", func() bool { return held(one) == 4 })
	two := replica("two")
	natstest.WaitFor(t, "the jobs to spread two and two", func() bool { return held(one) == 2 && held(two) == 2 })
}

// TestFrozenHolderDistrustsItsLease: a replica whose renewals stopped (a SIGSTOP, a paused VM)
// stops trusting its lease by its own clock before the TTL ends, so on waking it stops its poll
// before the next page and writes no checkpoint, even before a renewal tells it that another
// replica took over.
func TestFrozenHolderDistrustsItsLease(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	l, err := NewLeases(context.Background(), js, "a", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, err := l.Acquire(ctx, "contoso.endpoint"); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	if !l.Held("contoso.endpoint") {
		t.Fatal("a lease just taken is not held")
	}
	// No renewal runs (the replica is frozen); its clock goes on.
	natstest.WaitFor(t, "the lease to be distrusted", func() bool { return !l.Held("contoso.endpoint") })
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: &script{n: 3}}},
		Sink: sink, Store: kv, Leases: l})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pollOnce(ctx, w.jobs[0]); !errors.Is(err, errLostLease) {
		t.Errorf("a poll under an expired lease returned %v, want errLostLease", err)
	}
	if cp, _, _ := kv.Load(ctx, "contoso.endpoint"); !cp.Cursor.IsZero() {
		t.Error("a replica whose lease expired wrote the checkpoint")
	}
}

// TestConcurrentRenewalsKeepTheLease: a poll's Acquire and the Renew loop renewing the same lease
// at the same moment both start from one revision; neither may take the other's success for a
// lost lease (it did: one saw a revision mismatch and dropped a lease still held).
func TestConcurrentRenewalsKeepTheLease(t *testing.T) {
	t.Parallel()
	_, _, js := setupJS(t)
	l, err := NewLeases(context.Background(), js, "a", 3*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "contoso.endpoint"
	if ok, err := l.Acquire(ctx, key); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	errs := make(chan error, 2)
	renewMany := func() {
		for range 50 {
			if ok, err := l.Acquire(ctx, key); !ok || err != nil {
				errs <- fmt.Errorf("Acquire = %v, %v", ok, err)
				return
			}
		}
		errs <- nil
	}
	go renewMany()
	go renewMany()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("renewing from two goroutines at once: %v", err)
		}
	}
	if !l.Held(key) {
		t.Error("the lease is no longer held")
	}
}
