// Package natstest starts real nats-server instances for tests, in the style of nats-server's
// own helpers: loopback only, a random port (or a given one, to restart a server where it was),
// JetStream on, stopped when the test ends.
package natstest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/alertexport/alertexport/internal/testutil"
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
// Cluster runs n servers with JetStream as one cluster, routes on random loopback ports, each
// node routing to every node started before it (so the survivors of any one node's loss are
// still routed to each other). It returns once the JetStream meta group has a leader that every
// node follows. Each mutate is applied to every node's options after the cluster settings.
// Servers are named n0, n1, …; stop one for good with Shutdown (and WaitForShutdown).
func Cluster(t testing.TB, n int, mutate ...func(*server.Options)) []*server.Server {
	t.Helper()
	nodes := make([]*server.Server, 0, n)
	var routes []string
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		seeds := strings.Join(routes, ",")
		s := Start(t, append([]func(*server.Options){func(o *server.Options) {
			o.ServerName = name
			o.Cluster = server.ClusterOpts{Name: "alertexport-test", Host: "127.0.0.1", Port: server.RANDOM_PORT}
			o.Routes = server.RoutesFromStr(seeds)
		}}, mutate...)...)
		routes = append(routes, fmt.Sprintf("nats://%s", s.ClusterAddr()))
		nodes = append(nodes, s)
	}
	testutil.WaitFor(t, "the JetStream cluster to elect a meta leader", func() bool {
		leaders := 0
		for _, s := range nodes {
			if !s.JetStreamIsCurrent() {
				return false
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		return leaders == 1
	})
	return nodes
}

// ClientURL is the comma-separated client URLs of the running nodes, as nats.url takes them.
func ClientURL(nodes []*server.Server) string {
	urls := make([]string, 0, len(nodes))
	for _, s := range nodes {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// StreamLeader is the running node that leads stream (in the global account), or nil: a KV
// bucket's stream is "KV_" + the bucket's name.
func StreamLeader(nodes []*server.Server, stream string) *server.Server {
	for _, s := range nodes {
		if s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return s
		}
	}
	return nil
}
