package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAlertRuleSeries: the series the alert rules (deploy/prometheus) read exist from the
// start with values that raise no alert — interval set, no failure, the job held when there
// are no leases, token counters at 0, no last success yet — and then follow the polls: the
// failing-since time is the first failure's, kept across failures and cleared by a success.
func TestAlertRuleSeries(t *testing.T) {
	t.Parallel()
	sink, kv, _ := setupJS(t)
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	var connected atomic.Bool
	fail := atomic.Bool{}
	fail.Store(true)
	src := &script{hook: func(context.Context, int32) error {
		if fail.Load() {
			return errors.New("HTTP 503")
		}
		return nil
	}}
	m := NewMetrics()
	if v := testutil.ToFloat64(m.natsConnected); v != 0 {
		t.Errorf("alertexport_nats_connected before any worker = %v, want 0", v)
	}
	w, err := New(Options{Jobs: []Job{
		{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "*/5 * * * *"), Poller: src},
		{Tenant: "contoso", Source: "graph", Schedule: every(t, "0 9 * * *"), Poller: &script{}},
	}, Sink: sink, Store: kv, Metrics: m, Connected: connected.Load, Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		got  float64
		want float64
	}{
		{"interval of */5", testutil.ToFloat64(m.jobInterval.WithLabelValues("contoso", "endpoint")), 300},
		{"interval of a daily cron", testutil.ToFloat64(m.jobInterval.WithLabelValues("contoso", "graph")), 86400},
		{"held without leases", testutil.ToFloat64(m.leaseHeld.WithLabelValues("contoso", "endpoint")), 1},
		{"not failing", testutil.ToFloat64(m.failingSince.WithLabelValues("contoso", "endpoint")), 0},
		{"token errors", testutil.ToFloat64(m.tokenRequests.WithLabelValues("contoso", "error")), 0},
		{"NATS disconnected", testutil.ToFloat64(m.natsConnected), 0},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.lastSuccess); n != 0 {
		t.Errorf("%d last-success series before any poll, want none (0 would read as 1970)", n)
	}
	connected.Store(true)
	if v := testutil.ToFloat64(m.natsConnected); v != 1 {
		t.Errorf("alertexport_nats_connected while connected = %v, want 1", v)
	}

	failingSince := func() float64 { return testutil.ToFloat64(m.failingSince.WithLabelValues("contoso", "endpoint")) }
	w.poll(context.Background(), w.jobs[0])
	if got := failingSince(); got != float64(start.Unix()) {
		t.Errorf("failing since %v after the first failure, want %v", got, start.Unix())
	}
	later := start.Add(5 * time.Minute)
	now.Store(&later)
	w.poll(context.Background(), w.jobs[0])
	if got := failingSince(); got != float64(start.Unix()) {
		t.Errorf("failing since %v after the second failure, want the first's %v", got, start.Unix())
	}
	fail.Store(false)
	w.poll(context.Background(), w.jobs[0])
	if got := failingSince(); got != 0 {
		t.Errorf("failing since %v after a success, want 0", got)
	}
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("contoso", "endpoint")); got != float64(later.Unix()) {
		t.Errorf("last success %v, want %v", got, later.Unix())
	}
}

// TestFailuresOfAJobRunElsewhereAreForgotten: once another replica holds a job, this replica's
// old failures of it neither fail /readyz nor show as failing: they are the holder's to report.
func TestFailuresOfAJobRunElsewhereAreForgotten(t *testing.T) {
	t.Parallel()
	sink, kv, js := setupJS(t)
	ctx := context.Background()
	la, err := NewLeases(ctx, js, "a", time.Minute, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLeases(ctx, js, "b", time.Minute, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now.Store(&start)
	m := NewMetrics()
	src := &script{hook: func(context.Context, int32) error { return errors.New("HTTP 503") }}
	w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1m"), Poller: src}},
		Sink: sink, Store: kv, Metrics: m, Leases: la, Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.leaseHeld.WithLabelValues("contoso", "endpoint")); v != 0 {
		t.Errorf("lease_held before any poll = %v, want 0 (no lease taken yet)", v)
	}
	w.poll(ctx, w.jobs[0])
	if v := testutil.ToFloat64(m.failingSince.WithLabelValues("contoso", "endpoint")); v != float64(start.Unix()) {
		t.Fatalf("failing since %v on the holder, want %v", v, start.Unix())
	}
	la.ReleaseAll(ctx)
	if ok, err := lb.Acquire(ctx, "contoso.endpoint"); !ok || err != nil {
		t.Fatalf("replica b's Acquire = %v, %v", ok, err)
	}
	later := start.Add(10 * time.Minute)
	now.Store(&later)
	w.poll(ctx, w.jobs[0])
	if v := testutil.ToFloat64(m.leaseHeld.WithLabelValues("contoso", "endpoint")); v != 0 {
		t.Errorf("lease_held on the replica that lost the job = %v, want 0", v)
	}
	if v := testutil.ToFloat64(m.failingSince.WithLabelValues("contoso", "endpoint")); v != 0 {
		t.Errorf("failing since %v on the replica that lost the job, want 0", v)
	}
	if ok, why := w.Ready(); !ok {
		t.Errorf("not ready over a job another replica runs: %s", why)
	}
}
