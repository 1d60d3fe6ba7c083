package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
)

// TestClusterKeepsAReplicatedStreamThroughTheLossOfItsLeader is the helper's own check: a
// stream of three replicas on three nodes stays writable when the node leading it stops for good.
func TestClusterKeepsAReplicatedStreamThroughTheLossOfItsLeader(t *testing.T) {
	nodes := natstest.Cluster(t, 3)
	nc, err := nats.Connect(natstest.ClientURL(nodes), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	var leader = natstest.StreamLeader(nodes, "S")
	testutil.WaitFor(t, "a stream leader", func() bool { leader = natstest.StreamLeader(nodes, "S"); return leader != nil })
	leader.Shutdown()
	leader.WaitForShutdown()
	testutil.WaitFor(t, "a new stream leader", func() bool { return natstest.StreamLeader(nodes, "S") != nil })
	testutil.WaitFor(t, "a publish acknowledged after the leader's loss", func() bool {
		_, err := js.Publish(ctx, "s.2", []byte("two"))
		return err == nil
	})
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("messages = %d, want 2", n)
	}
}
