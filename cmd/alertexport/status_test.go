package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/sinks/natstest"
)

var secretEnv = map[string]string{"E2E_SECRET": e2eSecret}

// statusOf runs `status --json` on config and returns its rows by job key.
func statusOf(t *testing.T, config string) map[string]app.StatusRow {
	t.Helper()
	r := runCLI(t, secretEnv, "status", "--config", config, "--json")
	if r.code != 0 {
		t.Fatalf("status exited %d:\n%s", r.code, r.stderr)
	}
	var rows []app.StatusRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("status --json printed no JSON array: %v\n%s", err, r.stdout)
	}
	out := map[string]app.StatusRow{}
	for _, row := range rows {
		out[row.Tenant+"."+row.Source] = row
	}
	return out
}

// neverPolled: every configured job is there, and nothing is known of it.
func neverPolled(t *testing.T, rows map[string]app.StatusRow) {
	t.Helper()
	for _, key := range []string{"contoso.endpoint", "contoso.cloudapps"} {
		r, ok := rows[key]
		if !ok {
			t.Errorf("status lacks job %s: %+v", key, rows)
			continue
		}
		if r.Holder != nil || r.Cursor != nil || r.LastPoll != nil || r.LastSuccess != nil || r.LastError != nil || r.Seen != 0 {
			t.Errorf("a job that never ran shows state: %+v", r)
		}
	}
}

// stateSnapshot is every stream of the server at url (the KV buckets are streams too) with
// its message count and last sequence: any write moves it.
func stateSnapshot(t *testing.T, url string) string {
	t.Helper()
	js := testJS(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		out = append(out, fmt.Sprintf("%s:%d msgs, last %d", info.Config.Name, info.State.Msgs, info.State.LastSeq))
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "; ")
}

// TestStatusJetStream: against an external server, status shows never-polled jobs before
// anything ran (no bucket yet: not an error); with the daemon running, the holder, cursor,
// lookback set and last success of a healthy job and the last error of a failing one; once the
// daemon stopped, jobs nobody holds. It writes nothing.
func TestStatusJetStream(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	w := newWorld(t, srv.ClientURL())
	now := time.Now()
	w.ep.Generate(20, sim.EndpointGenerate{From: now.Add(-5 * time.Minute), To: now.Add(-time.Minute)})
	w.ca.Fail(1<<20, sim.APIFault{Status: 403}) // every call: not retried, every poll fails

	neverPolled(t, statusOf(t, w.config))

	d := w.start(t)
	var rows map[string]app.StatusRow
	testutil.Eventually(t, 30*time.Second, "status shows a success and an error", func() (bool, string) {
		rows = statusOf(t, w.config)
		ep, ca := rows["contoso.endpoint"], rows["contoso.cloudapps"]
		return ep.LastSuccess != nil && ep.Seen > 0 && ca.LastError != nil, fmt.Sprintf("%+v", rows)
	})
	id, err := os.ReadFile(filepath.Join(w.dir, "data", "replica-id"))
	if err != nil {
		t.Fatal(err)
	}
	replica := strings.TrimSpace(string(id))
	ep, ca := rows["contoso.endpoint"], rows["contoso.cloudapps"]
	if ep.Holder == nil || *ep.Holder != replica || ep.LastPolledBy == nil || *ep.LastPolledBy != replica {
		t.Errorf("endpoint holder %v, polled by %v; want %s", ep.Holder, ep.LastPolledBy, replica)
	}
	if ep.Cursor == nil || ep.LagSeconds == nil || *ep.LagSeconds < 0 || ep.Seen > 20 || ep.LastError != nil || ep.FailingSince != nil {
		t.Errorf("endpoint row %+v: want a cursor, its lag, at most 20 versions seen and no error", ep)
	}
	if !strings.Contains(*ca.LastError, "HTTP 403") || ca.LastErrorAt == nil || ca.FailingSince == nil || ca.LastSuccess != nil || ca.Cursor != nil {
		t.Errorf("cloudapps row %+v: want its 403 since it started, and no success", ca)
	}

	r := runCLI(t, secretEnv, "status", "--config", w.config)
	if r.code != 0 {
		t.Fatalf("status exited %d:\n%s", r.code, r.stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`TENANT +SOURCE +HOLDER +CURSOR +LAG +SEEN +LAST-SUCCESS +LAST-ERROR\n`),
		regexp.MustCompile(`contoso +endpoint +` + replica + ` +\d{4}-\d\d-\d\dT\S+Z +(\d+[hms])+ +\d+ +\d{4}-\S+Z +-\n`),
		regexp.MustCompile(`contoso +cloudapps +` + replica + ` +- +- +0 +never +\d{4}-\S+Z cloudapps API: HTTP 403`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("the table does not match %s:\n%s", want, r.stdout)
		}
	}

	d.stop(t)
	before := stateSnapshot(t, srv.ClientURL())
	rows = statusOf(t, w.config)
	if ep := rows["contoso.endpoint"]; ep.Holder != nil || ep.Cursor == nil || ep.LastSuccess == nil {
		t.Errorf("after the daemon stopped: %+v; want nobody holding it, its cursor and last success kept", ep)
	}
	r = runCLI(t, secretEnv, "status", "--config", w.config)
	if !regexp.MustCompile(`contoso +endpoint +none `).MatchString(r.stdout) {
		t.Errorf("the table does not show the job unheld:\n%s", r.stdout)
	}
	if after := stateSnapshot(t, srv.ClientURL()); after != before {
		t.Errorf("status changed the server's state:\nbefore %s\nafter  %s", before, after)
	}
}

// TestStatusFailures: a config that does not load is exit 2; NATS out of reach is exit 1 with
// a message naming the URL; so is a daemon on data_dir whose server status cannot reach.
func TestStatusFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[nats]\nmode = \"carrier-pigeon\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testutil.FreeAddr(t) // nothing listens there
	w := newWorld(t, "nats://"+addr)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad config", []string{"--config", bad}, 2, "bad.toml is invalid"},
		{"bad flag", []string{"--config", w.config, "--nope"}, 2, "not defined: -nope"},
		{"NATS unreachable", []string{"--config", w.config}, 1, "status: cannot reach the state: natsconn: not connected to nats.url nats://" + addr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, secretEnv, append([]string{"status"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
		})
	}
}

// TestStatusEmbedded: with the embedded server, status reads the running daemon's state through
// embedded_listen (and says what to set without it), and, the daemon stopped, opens data_dir
// itself, changing nothing there. Before anything ran it creates nothing.
func TestStatusEmbedded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	w.ep.Generate(10, sim.EndpointGenerate{From: time.Now().Add(-5 * time.Minute), To: time.Now()})
	neverPolled(t, statusOf(t, w.config))
	if _, err := os.Stat(filepath.Join(w.dir, "data")); !os.IsNotExist(err) {
		t.Errorf("status created data_dir (%v)", err)
	}

	d := w.start(t)
	var running map[string]app.StatusRow
	testutil.Eventually(t, 30*time.Second, "status shows the endpoint job's success", func() (bool, string) {
		running = statusOf(t, w.config)
		ep := running["contoso.endpoint"]
		return ep.LastSuccess != nil && ep.Holder != nil && ep.Seen > 0, fmt.Sprintf("%+v", running)
	})
	noListen := filepath.Join(w.dir, "no-listen.toml")
	doc := regexp.MustCompile(`embedded_listen = ".*"`).ReplaceAllString(w.doc, `embedded_listen = ""`)
	if err := os.WriteFile(noListen, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, secretEnv, "status", "--config", noListen)
	if r.code != 1 || !strings.Contains(r.stderr, "a running alertexport holds data_dir") || !strings.Contains(r.stderr, "set nats.embedded_listen") {
		t.Errorf("status beside a daemon without embedded_listen: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	d.stop(t)

	before := embeddedSnapshot(t, filepath.Join(w.dir, "data"))
	stopped := statusOf(t, noListen) // the daemon is gone: status opens data_dir itself
	ep := stopped["contoso.endpoint"]
	if ep.Holder != nil || ep.Cursor == nil || ep.LastSuccess == nil || ep.Seen == 0 {
		t.Errorf("with the daemon stopped: %+v; want its cursor, lookback set and last success, and no holder", ep)
	}
	if after := embeddedSnapshot(t, filepath.Join(w.dir, "data")); after != before {
		t.Errorf("status changed the state in data_dir:\nbefore %s\nafter  %s", before, after)
	}
}

// embeddedSnapshot is stateSnapshot of the embedded server's store in dataDir.
func embeddedSnapshot(t *testing.T, dataDir string) string {
	t.Helper()
	s, err := natsconn.StartEmbedded(dataDir, config.NATS{EmbeddedListen: "127.0.0.1:0"}, func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer natsconn.StopEmbedded(s)
	return stateSnapshot(t, s.ClientURL())
}

// TestStatusCoreMode: core mode keeps its state in files; status reads them with no NATS at all
// and shows no holder (core mode has no leases).
func TestStatusCoreMode(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	w := newWorld(t, srv.ClientURL())
	w.doc = strings.Replace(w.doc, "[nats]\n", "[nats]\nmode = \"core\"\n", 1)
	w.doc = strings.Replace(w.doc, "duplicate_window = \"1h\"\n", "", 1)
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
	w.ep.Generate(10, sim.EndpointGenerate{From: time.Now().Add(-5 * time.Minute), To: time.Now()})
	w.ca.Fail(1<<20, sim.APIFault{Status: 403})
	d := w.start(t)
	testutil.Eventually(t, 30*time.Second, "status shows the jobs' outcomes", func() (bool, string) {
		rows := statusOf(t, w.config)
		return rows["contoso.endpoint"].LastSuccess != nil && rows["contoso.cloudapps"].LastError != nil, fmt.Sprintf("%+v", rows)
	})
	d.stop(t)
	srv.Shutdown() // status needs no NATS in core mode
	rows := statusOf(t, w.config)
	if ep := rows["contoso.endpoint"]; ep.Holder != nil || ep.Cursor == nil || ep.Seen == 0 || ep.LastPolledBy == nil {
		t.Errorf("endpoint row %+v: want its cursor, lookback set and replica, and no holder", ep)
	}
	r := runCLI(t, secretEnv, "status", "--config", w.config)
	if !regexp.MustCompile(`contoso +endpoint +- +\d{4}-`).MatchString(r.stdout) || !strings.Contains(r.stdout, "HTTP 403") {
		t.Errorf("the core-mode table:\n%s", r.stdout)
	}
}
