package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	atestutil "github.com/alertexport/alertexport/internal/testutil"
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
		l, err := NewLeases(context.Background(), js, name, time.Second, 0, nil)
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
	atestutil.WaitFor(t, "replica a polls", func() bool { return polls["a"].Load() >= 2 })
	runWorker(t, wb)
	time.Sleep(2500 * time.Millisecond) // several ticks of both: b must stay a follower
	if n := polls["b"].Load(); n != 0 {
		t.Errorf("the follower polled %d times while the holder ran", n)
	}
	if testutil.ToFloat64(ma.leaseHeld.WithLabelValues("contoso", "endpoint")) != 1 || testutil.ToFloat64(mb.leaseHeld.WithLabelValues("contoso", "endpoint")) != 0 {
		t.Error("lease_held should be 1 on the holder and 0 on the follower")
	}
	stopA()
	atestutil.WaitFor(t, "replica b takes the job over", func() bool { return polls["b"].Load() >= 1 })
	if overlaps.Load() > 0 {
		t.Errorf("%d polls ran on both replicas at once", overlaps.Load())
	}
}

// TestLostLeaseStopsThePoll: a replica whose lease was taken (it paused past the TTL) stops its
// running poll before the next page and writes no checkpoint.
func TestLostLeaseStopsThePoll(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	l, err := NewLeases(context.Background(), js, "a", time.Second, 0, nil)
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
		l, err := NewLeases(context.Background(), js, name, time.Second, 0, nil)
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
	atestutil.WaitFor(t, "the only replica to take every job", func() bool { return held(one) == 4 })
	two := replica("two")
	atestutil.WaitFor(t, "the jobs to spread two and two", func() bool { return held(one) == 2 && held(two) == 2 })
}

// TestFrozenHolderDistrustsItsLease: a replica whose renewals stopped (a SIGSTOP, a paused VM)
// stops trusting its lease by its own clock before the TTL ends, so on waking it stops its poll
// before the next page and writes no checkpoint, even before a renewal tells it that another
// replica took over.
func TestFrozenHolderDistrustsItsLease(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	l, err := NewLeases(context.Background(), js, "a", time.Second, 0, nil)
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
	atestutil.WaitFor(t, "the lease to be distrusted", func() bool { return !l.Held("contoso.endpoint") })
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
	l, err := NewLeases(context.Background(), js, "a", 3*time.Second, 0, nil)
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

// leaseValue is what the bucket holds for key.
func leaseValue(t *testing.T, l *Leases, key string) string {
	t.Helper()
	e, err := l.kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("lease %s: %v", key, err)
	}
	return string(e.Value())
}

// TestRestartedReplicaTakesItsLeaseBack: a replica that died holding leases (no release, no
// renewal) and restarts under the same name takes them back at once, long before the TTL, and
// says so; its presence key is the same, so the restart does not count as another replica in
// the shares (it takes all the jobs, not half).
func TestRestartedReplicaTakesItsLeaseBack(t *testing.T) {
	t.Parallel()
	_, _, js := setupJS(t)
	ctx := context.Background()
	const ttl = time.Minute // the old way would wait this long
	keys := []string{"contoso.endpoint", "contoso.cloudapps"}
	before, err := NewLeases(ctx, js, "host-0123456789abcdef", ttl, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	before.SetJobs(len(keys))
	for _, k := range keys {
		if ok, err := before.Acquire(ctx, k); !ok || err != nil {
			t.Fatalf("Acquire %s = %v, %v", k, ok, err)
		}
	}
	// SIGKILL: nothing more from before. The restart has the same name, a new run.
	var log atestutil.SyncBuffer
	after, err := NewLeases(ctx, js, "host-0123456789abcdef", ttl, 0, slog.New(slog.NewJSONHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	after.SetJobs(len(keys))
	start := time.Now()
	for _, k := range keys {
		if ok, err := after.Acquire(ctx, k); !ok || err != nil {
			t.Fatalf("the restarted replica's Acquire %s = %v, %v; want its own lease back at once", k, ok, err)
		}
		if !after.Held(k) {
			t.Errorf("%s taken back but not held", k)
		}
		if v := leaseValue(t, after, k); v != "host-0123456789abcdef "+after.run {
			t.Errorf("%s holds %q after the takeover, want the new run's", k, v)
		}
	}
	t.Logf("took both leases back in %v (TTL %v)", time.Since(start).Round(time.Millisecond), ttl)
	if n := strings.Count(log.String(), "took back the job's lease from this replica's previous run"); n != len(keys) || !strings.Contains(log.String(), before.run) {
		t.Errorf("%d takeovers logged with the previous run, want %d:\n%s", n, len(keys), log.String())
	}
	if share := after.share(ctx); share != len(keys) {
		t.Errorf("share after the restart = %d, want %d: the previous run counts as another replica", share, len(keys))
	}
	// The dead run's renewal (one in flight when it died) carries the old revision: refused.
	if ok, _ := before.renew(ctx, keys[0]); ok {
		t.Error("the previous run's renewal succeeded after the takeover")
	}
	if !after.Held(keys[0]) {
		t.Error("the previous run's renewal took the lease away")
	}
}

// TestAnotherReplicasLeaseIsWaitedOut: a lease held under another replica's name is never taken
// over; it is taken only once it expires, the TTL after its holder's last renewal.
func TestAnotherReplicasLeaseIsWaitedOut(t *testing.T) {
	t.Parallel()
	_, _, js := setupJS(t)
	ctx := context.Background()
	const ttl = 2 * time.Second
	const key = "contoso.endpoint"
	dead, err := NewLeases(ctx, js, "host-aaaaaaaaaaaaaaaa", ttl, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dead.Acquire(ctx, key); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	written := time.Now() // the lease was written before this
	other, err := NewLeases(ctx, js, "host-bbbbbbbbbbbbbbbb", ttl, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var took time.Duration
	atestutil.WaitFor(t, "the other replica to take the expired lease", func() bool {
		ok, err := other.Acquire(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		took = time.Since(written)
		return ok
	})
	if took < ttl-100*time.Millisecond {
		t.Errorf("another replica's lease was taken %v after it was written, before the TTL (%v)", took, ttl)
	}
	t.Logf("taken %v after its holder's last write (TTL %v)", took.Round(time.Millisecond), ttl)
}

// TestTwinIdentityStopsTakingBack: two live processes with one name (a data_dir copied to
// another host) would take each job back from each other forever; the one that loses a lease
// to its twin says so and takes nothing back from then on.
func TestTwinIdentityStopsTakingBack(t *testing.T) {
	t.Parallel()
	_, _, js := setupJS(t)
	ctx := context.Background()
	const key = "contoso.endpoint"
	var log atestutil.SyncBuffer
	a, err := NewLeases(ctx, js, "host-0123456789abcdef", time.Minute, 0, slog.New(slog.NewJSONHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewLeases(ctx, js, "host-0123456789abcdef", time.Minute, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Acquire(ctx, key); !ok || err != nil {
		t.Fatalf("a: Acquire = %v, %v", ok, err)
	}
	if ok, err := b.Acquire(ctx, key); !ok || err != nil { // it cannot tell a twin from a dead run
		t.Fatalf("b: Acquire = %v, %v", ok, err)
	}
	if ok, _ := a.Acquire(ctx, key); ok {
		t.Fatal("a kept a lease its twin took")
	}
	if !strings.Contains(log.String(), "another live process uses this replica's identity") {
		t.Errorf("a did not report its twin:\n%s", log.String())
	}
	for range 3 {
		if ok, _ := a.Acquire(ctx, key); ok {
			t.Fatal("a took the lease back from its live twin")
		}
	}
	if !b.Held(key) {
		t.Error("b lost the lease")
	}
}
