// Package natstest starts real nats-server instances for tests, in the style of nats-server's
// own helpers: loopback only, a random port (or a given one, to restart a server where it was),
// JetStream on, stopped when the test ends.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a server with the defaults above, changed by each mutate in turn (e.g. a fixed
// Port and StoreDir for a restart, JetStream off, auth). StoreDir defaults to t.TempDir().
func Start(t testing.TB, mutate ...func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, NoLog: true, NoSigs: true}
	for _, m := range mutate {
		if m != nil {
			m(opts)
		}
	}
	if opts.JetStream && opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// WaitFor polls cond until it holds, failing the test after 10 s: for conditions a server
// reaches in its own time (a reconnect, a stored message), where there is nothing to wait on.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
