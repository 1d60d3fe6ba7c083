package jetstream

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	js "github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks/natstest"
)

// TestStreamReplicas: on a three-node cluster, nats.replicas creates the stream with its
// count and rescales an existing one (one log line); absent, it leaves an operator's count.
func TestStreamReplicas(t *testing.T) {
	nodes := natstest.Cluster(t, 3)
	nc := connect(t, natstest.ClientURL(nodes))
	j, err := js.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		before   int // the stream's replicas before the start; 0: no stream
		replicas int // nats.replicas
		want     int
		rescaled bool
	}{
		{"new stream, replicas 3", 0, 3, 3, false},
		{"new stream, key absent", 0, 0, 1, false},
		{"R1 stream updated to 3", 1, 3, 3, true},
		{"R3 stream updated to 1", 3, 1, 1, true},
		{"key absent keeps an operator's 3", 3, 0, 3, false},
		{"R3 stream, replicas 3: nothing to do", 3, 3, 3, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testutil.Context(t, 30*time.Second)
			cfg := testConfig()
			cfg.Stream = "S" + string(rune('A'+i))
			cfg.Subject = "s" + string(rune('a'+i)) + ".{source}.{tenant}"
			cfg.Replicas = tc.replicas
			if tc.before > 0 {
				before := cfg
				before.Replicas = tc.before
				if _, err := New(ctx, nc, before, Options{}); err != nil {
					t.Fatal(err)
				}
			}
			logs := &testutil.LogRecorder{}
			if _, err := New(ctx, nc, cfg, Options{Logger: slog.New(logs)}); err != nil {
				t.Fatal(err)
			}
			st, err := j.Stream(ctx, cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.CachedInfo().Config.Replicas; got != tc.want {
				t.Errorf("replicas = %d, want %d", got, tc.want)
			}
			if got, want := logs.Count(slog.LevelDebug, "updated the stream's replicas"), map[bool]int{true: 1}[tc.rescaled]; got != want {
				t.Errorf("%d replicas log lines, want %d:\n%s", got, want, logs)
			}
			if logs.Has("updated the stream ") {
				t.Errorf("other keys updated too:\n%s", logs)
			}
			// Started again: nothing left to change.
			again := &testutil.LogRecorder{}
			if _, err := New(ctx, nc, cfg, Options{Logger: slog.New(again)}); err != nil {
				t.Fatal(err)
			}
			if recs := again.Records(); len(recs) != 0 {
				t.Errorf("second start logged:\n%s", again)
			}
		})
	}
	t.Run("replicas 5 on 3 nodes", func(t *testing.T) {
		ctx := testutil.Context(t, 30*time.Second)
		cfg := testConfig()
		cfg.Stream, cfg.Subject, cfg.Replicas = "FIVE", "five.{source}.{tenant}", 5
		start := time.Now()
		_, err := New(ctx, nc, cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), "nats.replicas = 5, but fewer than 5 JetStream nodes") {
			t.Fatalf("err = %v, want one naming 5 replicas and too few nodes", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("refused after %s: retried as if transient", d)
		}
		t.Log(err)
	})
}

// TestStreamReplicasOnASingleServer: replicas 3 on a server outside a cluster stops at once
// with both numbers.
func TestStreamReplicasOnASingleServer(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	s := natstest.Start(t)
	cfg := testConfig()
	cfg.Replicas = 3
	start := time.Now()
	_, err := New(ctx, connect(t, s.ClientURL()), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "nats.replicas = 3, but the NATS server has 1 JetStream node") {
		t.Fatalf("err = %v, want one naming 3 replicas and 1 node", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %s: retried as if transient", d)
	}
	t.Log(err)
}
