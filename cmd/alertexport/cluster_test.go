package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sinks/natstest"
)

// setReplicas adds nats.replicas = n to the world's config.
func (w *world) setReplicas(t *testing.T, n int) {
	t.Helper()
	const anchor = "duplicate_window = \"1h\"\n"
	if !strings.Contains(w.doc, anchor) {
		t.Fatalf("the config has no %s", anchor)
	}
	w.doc = strings.Replace(w.doc, anchor, anchor+"replicas = "+string(rune('0'+n))+"\n", 1)
	if err := os.WriteFile(w.config, []byte(w.doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRunRefusesReplicasOnASingleServer: replicas = 3 against a server outside a cluster
// stops `run` at once with both numbers, instead of retrying forever.
func TestRunRefusesReplicasOnASingleServer(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	w := newWorld(t, ns.ClientURL())
	w.setReplicas(t, 3)
	d := w.start(t)
	select {
	case code := <-d.done:
		d.cancel()
		d.cancel = nil // exited: nothing to stop
		if code != 1 || !strings.Contains(d.stderr.String(), "nats.replicas = 3, but the NATS server has 1 JetStream node") {
			t.Errorf("run exited %d:\n%s", code, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run still runs after 10 s:\n%s", tail(d.stderr.String(), 2000))
	}
}
