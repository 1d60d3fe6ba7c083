package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
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

	stderr := &testutil.SyncBuffer{}
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
	daemons := make(chan app.Running, 1)
	go func() { exited <- c.export(ctx, cfg, c.env, func(r app.Running) { daemons <- r }) }()
	var d app.Running
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
		d.Health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "maximum control line exceeded") {
			t.Errorf("%s = %d %q, want 503 with the reason", path, rec.Code, rec.Body.String())
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", tail(stderr.String(), 8192))
	}
}
