package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/worker"
)

// TestRunExitsWhenNATSClosesTheConnection: a server that refuses a publish's line (its
// max_control_line is lower than the subject, with a 5,000-character category in each of
// eight {category} tokens) closes the connection, and nats.go never reconnects: `run` fails
// /healthz and /readyz, logs one error saying why and that it should be restarted, and exits 1.
func TestRunExitsWhenNATSClosesTheConnection(t *testing.T) {
	t.Parallel()
	s := natstest.Start(t, func(o *server.Options) { o.MaxControlLine = 512 })
	w := newWorld(t, s.ClientURL())
	// 6 + 8 × 65 = 526 characters with a long category; within alertexport's bound of 1024,
	// but over this server's line.
	doc := strings.Replace(w.doc, `duplicate_window = "1h"`, `duplicate_window = "1h"
subject = "alerts.{category}.{category}.{category}.{category}.{category}.{category}.{category}.{category}"`, 1)
	if err := os.WriteFile(w.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := w.ep.Generate(5, sim.EndpointGenerate{From: now.Add(-time.Hour), To: now})
	long := strings.Repeat("Suspicious Activity ", 250)
	if err := w.ep.Update(ids[2], func(a *sim.EndpointAlert) { a.Category = long }, 0); err != nil {
		t.Fatal(err)
	}

	stderr := &syncBuffer{}
	c := cli{stdout: stderr, stderr: stderr, now: time.Now, env: func(k string) (string, bool) {
		if k == "E2E_SECRET" {
			return e2eSecret, true
		}
		return "", false
	}}
	cfg, _, ok := c.loadConfig(w.config, stderr)
	if !ok {
		t.Fatalf("config: %s", stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	daemons := make(chan *daemon, 1)
	go func() { exited <- c.daemon(ctx, cfg, c.env, func(d *daemon) { daemons <- d }) }()
	var d *daemon
	select {
	case d = <-daemons:
	case code := <-exited:
		t.Fatalf("run exited %d before it exported:\n%s", code, stderr)
	}
	select {
	case code := <-exited:
		if code != exitFailure {
			t.Errorf("run exited %d, want %d", code, exitFailure)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run still runs 30 s after the connection was closed for good:\n%s", stderr)
	}
	var lines []string
	for l := range strings.SplitSeq(stderr.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, "closed for good") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "maximum control line exceeded") || !strings.Contains(lines[0], "orchestrator restarts") {
		t.Errorf("want one error line with nats.go's reason and the restart, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// Its endpoints, as they answered until the listener closed.
	for _, path := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		d.httpSrv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "maximum control line exceeded") {
			t.Errorf("%s = %d %q, want 503 with the reason", path, rec.Code, rec.Body.String())
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", tail(stderr.String(), 8192))
	}
}

// TestHealthBeforeTheWorker: before the worker runs (NATS, the stream or the store not there
// yet) /healthz is ok and /readyz is not, and /metrics says NATS is not connected; a connection
// closed for good fails both probes.
func TestHealthBeforeTheWorker(t *testing.T) {
	t.Parallel()
	d := &daemon{metrics: worker.NewMetrics()}
	d.metrics.SetConnected(d.connected.Load)
	var w atomic.Pointer[worker.Worker]
	h := d.endpoints(&w)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for NATS") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "\nalertexport_nats_connected 0\n") {
		t.Errorf("/metrics = %d, want 200 with alertexport_nats_connected 0:\n%s", code, tail(body, 2048))
	}
	d.natsClosed(errors.New("nats: maximum control line exceeded"))
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum control line exceeded") {
			t.Errorf("%s once closed for good = %d %q", path, code, body)
		}
	}
	// Closed by our own stop: not a failure.
	stopping := &daemon{}
	stopping.stopping.Store(true)
	stopping.natsClosed(nil)
	if err := stopping.closed(); err != nil {
		t.Errorf("a close while stopping counts: %v", err)
	}
}
