package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/worker"
)

// startEnv is world.start with the environment given (the world's own starts with E2E_SECRET
// only).
func (w *world) startEnv(t *testing.T, env map[string]string) *daemonRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &daemonRun{cancel: cancel, done: make(chan int, 1), stderr: &testutil.SyncBuffer{}}
	c := cli{stdout: io.Discard, stderr: r.stderr, now: time.Now, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	go func() { r.done <- run(ctx, []string{"run", "--config", w.config}, c) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// runCLISync is runCLI with output buffers that nats.go's callbacks may still write to (its
// closed-connection log) after the command returned.
func runCLISync(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	out, errOut := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	c := cli{stdout: out, stderr: errOut, now: time.Now, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	code := run(t.Context(), args, c)
	return result{code, out.String(), errOut.String()}
}

// TestEmbeddedServerWithCredentials: with token_env set, the daemon's embedded server (on
// embedded_listen) refuses a client without the token; `tail` and `backfill`, run with the
// same config and the token in the environment, reach it, and with another token are refused
// with a message that says so.
func TestEmbeddedServerWithCredentials(t *testing.T) {
	t.Parallel()
	const token = "e2e-nats-token-5b1f"
	w := newWorld(t, "")
	listen := strings.TrimPrefix(w.natsURL, "nats://")
	w.doc = strings.Replace(w.doc, "embedded_listen = ", "token_env = \"E2E_NATS_TOKEN\"\nembedded_listen = ", 1)
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
	w.natsURL = "nats://" + token + "@" + listen // the test's own reads
	env := map[string]string{"E2E_SECRET": e2eSecret, "E2E_NATS_TOKEN": token}
	w.ep.Generate(20, sim.EndpointGenerate{From: time.Now().Add(-time.Hour), To: time.Now()})
	d := w.startEnv(t, env)
	testutil.Eventually(t, 30*time.Second, "backlog exported", hasAll(w.natsURL, t, w.expected()))

	if nc, err := nats.Connect("nats://"+listen, nats.Timeout(5*time.Second)); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("a client without the token: %v, want %v", err, nats.ErrAuthorization)
	}

	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.SyncBuffer{}
	c := cli{stdout: out, stderr: io.Discard, now: time.Now, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"tail", "--config", w.config}, c) }()
	testutil.Eventually(t, 20*time.Second, "tail prints new alerts", func() (bool, string) {
		w.ep.Generate(1, sim.EndpointGenerate{})
		return strings.Contains(out.String(), "contoso/endpoint"), out.String()
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("tail exited %d", code)
	}

	r := runCLI(t, env, "backfill", "--config", w.config, "--since", "2h", "--source", "endpoint")
	if r.code != 0 || !strings.Contains(r.stderr, "already in the stream") {
		t.Errorf("backfill through the running daemon's server: exit %d\n%s", r.code, r.stderr)
	}

	wrong := map[string]string{"E2E_SECRET": e2eSecret, "E2E_NATS_TOKEN": "not-the-token"}
	if r := runCLISync(t, wrong, "tail", "--config", w.config); r.code != exitFailure || !strings.Contains(r.stderr, "the server refused the token in $E2E_NATS_TOKEN (nats.token_env)") {
		t.Errorf("tail with another token: exit %d\n%s", r.code, r.stderr)
	}
	if r := runCLISync(t, wrong, "backfill", "--config", w.config, "--since", "2h"); r.code != exitFailure || !strings.Contains(r.stderr, "refuses this config's credentials") {
		t.Errorf("backfill with another token: exit %d\n%s", r.code, r.stderr)
	}
	d.stop(t)
}

// TestBackfillRefusesADaemonsDataDir: with the embedded server and no embedded_listen, backfill
// starts the server on data_dir itself; beside a daemon running there the two servers would
// share one store. data_dir's lock, which the daemon holds, makes it refuse instead.
func TestBackfillRefusesADaemonsDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := worker.LockDataDir(data) // as the daemon's replica identity holds it
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf(`[worker]
data_dir = %q
http_addr = ""
[[tenant]]
name = "contoso"
tenant_id = %q
client_id = %q
client_secret_env = "CONTOSO_SECRET"
[tenant.endpoint]
`, data, tenantID, clientID)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, map[string]string{"CONTOSO_SECRET": "s"}, "backfill", "--config", cfg, "--since", "1h")
	if r.code != exitFailure || !strings.Contains(r.stderr, "a daemon runs on this data_dir") || !strings.Contains(r.stderr, "embedded_listen") {
		t.Errorf("backfill beside a daemon's data_dir exited %d:\n%s", r.code, r.stderr)
	}
}
