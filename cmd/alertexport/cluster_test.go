package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/sim"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/worker"
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

// replicaConfig writes a copy of the world's config for another replica: its own data_dir and
// http_addr, the rest shared.
func (w *world) replicaConfig(t *testing.T, name string) string {
	t.Helper()
	doc := strings.Replace(w.doc, filepath.Join(w.dir, "data"), filepath.Join(w.dir, "data-"+name), 1)
	doc = strings.Replace(doc, w.httpAddr, testutil.FreeAddr(t), 1)
	path := filepath.Join(w.dir, "config-"+name+".toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterJS is a JetStream context on the running nodes, for the test's own reads.
func clusterJS(t *testing.T, nodes []*server.Server) jetstream.JetStream {
	t.Helper()
	return testJS(t, natstest.ClientURL(nodes))
}

// lastSeq is the ALERTS stream's last sequence, or 0 when it cannot be read now.
func lastSeq(ctx context.Context, js jetstream.JetStream) uint64 {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "ALERTS")
	if err != nil {
		return 0
	}
	return s.CachedInfo().State.LastSeq
}

// firstStoredAfter is the time of the first message after seq stored after at, if any yet.
func firstStoredAfter(ctx context.Context, js jetstream.JetStream, seq uint64, at time.Time) (time.Time, bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "ALERTS")
	if err != nil {
		return time.Time{}, false
	}
	for n := seq + 1; n <= s.CachedInfo().State.LastSeq; n++ {
		m, err := s.GetMsg(ctx, n)
		if err != nil {
			return time.Time{}, false
		}
		if m.Time.After(at) {
			return m.Time, true
		}
	}
	return time.Time{}, false
}

// firstCheckpointAfter is the time of the first checkpoint saved after at, if any yet.
func firstCheckpointAfter(ctx context.Context, js jetstream.JetStream, at time.Time) (time.Time, bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, worker.StateBucket)
	if err != nil {
		return time.Time{}, false
	}
	var first time.Time
	for _, key := range []string{"contoso.endpoint", "contoso.cloudapps"} {
		h, err := kv.History(ctx, key)
		if err != nil {
			return time.Time{}, false
		}
		for _, e := range h {
			if e.Created().After(at) && (first.IsZero() || e.Created().Before(first)) {
				first = e.Created()
			}
		}
	}
	return first, !first.IsZero()
}

// nodeLoss is what one node-loss run measured.
type nodeLoss struct {
	publishGap, checkpointGap time.Duration // from the kill to the first message / checkpoint stored after it; -1: none
	exported                  uint64        // messages stored from the kill to the end
	// slowestAfter is the longest poll running at the kill or started within 2 s after it,
	// usual the median poll before the kill: what the loss cost the polls that met it.
	slowestAfter, usual time.Duration
}

// pollTimes reads the replicas' "poll done" lines: the median duration of the polls that ended
// before at, and the longest of those running at at or started within 2 s after it.
func pollTimes(runs []*daemonRun, at time.Time) (usual, slowest time.Duration) {
	var before []time.Duration
	for _, r := range runs {
		for l := range strings.Lines(r.stderr.String()) {
			var e struct {
				Time time.Time
				Msg  string
				Took string
			}
			if json.Unmarshal([]byte(l), &e) != nil || e.Msg != "poll done" {
				continue
			}
			took, err := time.ParseDuration(e.Took)
			if err != nil {
				continue
			}
			switch start := e.Time.Add(-took); {
			case e.Time.Before(at):
				before = append(before, took)
			case start.Before(at.Add(2 * time.Second)):
				slowest = max(slowest, took)
			}
		}
	}
	if len(before) > 0 {
		slices.Sort(before)
		usual = before[len(before)/2]
	}
	return usual, slowest
}

// loseNode runs two replicas of `run` on a three-node cluster with nats.replicas = replicas
// (0: absent) while alerts arrive and change for 2 s, shuts down for good the node that leads
// stream (a KV bucket's is KV_<bucket>) once the arrivals are being exported, and measures for
// at most wait how long until the first message and the first checkpoint are stored after it.
// If a message was, it then checks that every version is exported exactly once, that no job
// was polled by both replicas at once and that both replicas stop cleanly; either way, that
// neither exited on its own. If none was, it returns what the replicas warned about instead.
func loseNode(t *testing.T, stream string, replicas int, wait time.Duration) (nodeLoss, []string) {
	t.Helper()
	nodes := natstest.Cluster(t, 3)
	w := newWorld(t, natstest.ClientURL(nodes))
	if replicas != 0 {
		w.setReplicas(t, replicas)
	}
	now := time.Now()
	w.ep.Generate(60, sim.EndpointGenerate{From: now.Add(-5 * time.Hour), To: now})
	w.ca.Generate(40, sim.CloudAppsGenerate{From: now.Add(-5 * time.Hour), To: now})
	runs := []*daemonRun{w.start(t), w.startConfig(t, w.replicaConfig(t, "b"))}
	testutil.Eventually(t, 30*time.Second, "the backlog exported", hasAll(w.natsURL, t, w.expected()))
	testutil.Eventually(t, 30*time.Second, "both replicas working", func() (bool, string) {
		for i, r := range runs {
			if !strings.Contains(r.stderr.String(), `"msg":"worker started"`) {
				return false, fmt.Sprintf("replica %d is not: %s", i, tail(r.stderr.String(), 1000))
			}
		}
		return true, ""
	})
	js := clusterJS(t, nodes)
	ctx := t.Context()

	// Arrivals and updates for 2 s, a round every 100 ms: the schedule of the load, not a
	// synchronization.
	arrived := make(chan struct{})
	go func() {
		defer close(arrived)
		for range 20 {
			w.ep.Generate(2, sim.EndpointGenerate{})
			w.ep.UpdateRandom(1, 0)
			w.ca.Generate(1, sim.CloudAppsGenerate{})
			w.ca.CloseRandom(1, 0)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// Kill once the export of the arrivals is under way.
	seq0 := lastSeq(ctx, js)
	testutil.Eventually(t, 10*time.Second, "arrivals exported", func() (bool, string) { return lastSeq(ctx, js) > seq0, "none yet" })
	victim := natstest.StreamLeader(nodes, stream)
	if victim == nil {
		t.Fatalf("no node leads %s", stream)
	}
	before := lastSeq(ctx, js)
	killed := time.Now()
	victim.Shutdown()
	victim.WaitForShutdown()
	t.Logf("shut down %s, the leader of %s (replicas %d)", victim.Name(), stream, replicas)

	m := nodeLoss{publishGap: -1, checkpointGap: -1}
	deadline := time.Now().Add(wait)
	for (m.publishGap < 0 || m.checkpointGap < 0) && time.Now().Before(deadline) {
		if at, ok := firstStoredAfter(ctx, js, before, killed); ok && m.publishGap < 0 {
			m.publishGap = at.Sub(killed)
		}
		if at, ok := firstCheckpointAfter(ctx, js, killed); ok && m.checkpointGap < 0 {
			m.checkpointGap = at.Sub(killed)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronizing
	}
	<-arrived
	for i, r := range runs {
		select {
		case code := <-r.done:
			r.cancel = nil
			t.Errorf("replica %d exited %d after the node loss:\n%s", i, code, tail(r.stderr.String(), 3000))
		default:
		}
	}
	if m.publishGap < 0 {
		return m, warnings(runs) // export stopped: the caller decides
	}
	all := w.expected()
	testutil.Eventually(t, 20*time.Second, "everything exported after the node loss", hasAll(w.natsURL, t, all))
	var msgs []*nats.Msg
	testutil.Eventually(t, 10*time.Second, "the stream read whole", func() (bool, string) {
		var err error
		msgs, err = readStream(w.natsURL)
		return err == nil, fmt.Sprint(err)
	})
	checkStream(t, w, msgs, all)
	checkNoOverlap(t, w)
	m.exported = lastSeq(ctx, js) - before
	m.usual, m.slowestAfter = pollTimes(runs, killed)
	for _, r := range runs {
		r.stop(t) // each stops cleanly (exit 0) after the loss
	}
	if m.checkpointGap < 0 {
		t.Errorf("no checkpoint saved after the loss of %s", victim.Name())
	}
	return m, nil
}

// warnings is the distinct messages the replicas logged at WARN or ERROR, each with its
// first error.
func warnings(runs []*daemonRun) []string {
	var out []string
	for _, r := range runs {
		for l := range strings.Lines(r.stderr.String()) {
			var e struct{ Level, Msg, Err string }
			if json.Unmarshal([]byte(l), &e) != nil || e.Level != "WARN" && e.Level != "ERROR" {
				continue
			}
			if !slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, e.Msg+": ") }) {
				out = append(out, e.Msg+": "+e.Err)
			}
		}
	}
	return out
}

// TestNodeLoss: with nats.replicas = 3, shutting down for good the node that leads the alert
// stream, the checkpoint bucket or the lease bucket while alerts arrive loses nothing, doubles
// nothing, stops no replica and never lets two replicas poll one job at once; checkpoints go on
// on the two survivors. Not parallel: the gaps it logs are measured on a quiet machine.
// TestNodeLossWithOneReplica shows the same loss stopping the export without replicas.
func TestNodeLoss(t *testing.T) {
	for _, stream := range []string{"ALERTS", "KV_" + worker.StateBucket, "KV_" + worker.LeaseBucket} {
		t.Run(stream, func(t *testing.T) {
			m, _ := loseNode(t, stream, 3, 20*time.Second)
			if m.publishGap < 0 {
				t.Fatalf("nothing published within 20 s of the loss of the %s leader", stream)
			}
			t.Logf("loss of the %s leader: first message stored %v after it, first checkpoint %v (polls every 1 s); slowest poll meeting it %v (usual %v); %d messages exported from it to the end",
				stream, m.publishGap.Round(time.Millisecond), m.checkpointGap.Round(time.Millisecond),
				m.slowestAfter.Round(time.Millisecond), m.usual.Round(time.Millisecond), m.exported)
		})
	}
}

// TestNodeLossWithOneReplica: without nats.replicas the stream has one copy, and when its node
// goes away publishes get no answer and the export stops (until that node comes back): what
// makes TestNodeLoss's result mean something. (Its replicas then take the 10 s stop grace to
// give up their stuck polls.)
func TestNodeLossWithOneReplica(t *testing.T) {
	t.Parallel()
	m, warned := loseNode(t, "ALERTS", 0, 3*time.Second)
	if m.publishGap >= 0 {
		t.Fatalf("with one replica the export went on %v after its stream's only node went away", m.publishGap)
	}
	t.Logf("one replica: nothing stored within 3 s of the loss; the replicas warned: %q", warned)
}
