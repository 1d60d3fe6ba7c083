package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sinks/core"
	jssink "github.com/alertexport/alertexport/sinks/jetstream"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// outboxSource hands over n alerts through an Outbox, as the real sources do, the one at big
// with a raw of about 100 KiB, and a checkpoint at the newest.
type outboxSource struct{ n, big int }

func (s outboxSource) Poll(ctx context.Context, _ sources.Checkpoint, emit sources.Emit) error {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	o := sources.Outbox{Emit: emit}
	for i := range s.n {
		id := fmt.Sprintf("da%d_1", i)
		raw := `{"id":"` + id + `"}`
		if i == s.big {
			raw = `{"id":"` + id + `","evidence":"` + strings.Repeat("x", 100<<10) + `"}`
		}
		o.Queue(sources.Message{MsgID: envelope.MsgID("contoso", "endpoint", id, at), Tenant: "contoso", Source: "endpoint",
			Alert: &envelope.Alert{Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: "contoso", Event: "created",
				Severity: "high", Status: "new", UpdatedAt: at.Add(time.Duration(i) * time.Second), Raw: []byte(raw)}})
	}
	return o.Flush(ctx, &sources.Checkpoint{Cursor: at.Add(time.Duration(s.n) * time.Second)})
}

// TestTooLargeAlertDoesNotStallItsJob: against a server whose max_payload is 64 KiB, an alert
// whose envelope is about 100 KiB among normal ones does not fail the poll: the checkpoint
// moves, the big one is on the dead-letter subject, cut to fit, with an Alert-Error saying it was
// too large, counted as a dead letter, and the others are published as they are. In both modes.
func TestTooLargeAlertDoesNotStallItsJob(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	for _, mode := range []string{"jetstream", "core"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := natstest.Start(t, func(o *server.Options) { o.MaxPayload = limit; o.JetStream = mode == "jetstream" })
			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			sub, err := nc.SubscribeSync("alerts.>")
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			cfg := config.NATS{Mode: mode, Subject: "alerts.{source}.{tenant}.{severity}", Stream: "ALERTS", DuplicateWindow: time.Hour, MaxAge: 24 * time.Hour}
			var sink sinks.Sink
			var store Store
			if mode == "jetstream" {
				sink, err = jssink.New(ctx, nc, cfg, jssink.Options{})
				if err != nil {
					t.Fatal(err)
				}
				js, _ := jetstream.New(nc)
				if store, err = NewKVStore(ctx, js, 0, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				sink = core.New(nc, cfg)
				if store, err = NewFileStore(filepath.Join(t.TempDir(), "state")); err != nil {
					t.Fatal(err)
				}
			}
			m := NewMetrics()
			src := outboxSource{n: 6, big: 3}
			w, err := New(Options{Jobs: []Job{{Tenant: "contoso", Source: "endpoint", Schedule: every(t, "@every 1h"), Poller: src}},
				Sink: sink, Store: store, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			published, err := w.pollOnce(ctx, w.jobs[0])
			if err != nil {
				t.Fatalf("the poll failed: %v", err)
			}
			if cp, _, _ := store.Load(ctx, "contoso.endpoint"); cp.Cursor.IsZero() {
				t.Error("the checkpoint did not move")
			}
			if d := testutil.ToFloat64(m.deadLetters.WithLabelValues("contoso", "endpoint")); published != src.n-1 || d != 1 {
				t.Errorf("%d published, %v dead letters; want %d and 1", published, d, src.n-1)
			}
			for i := range src.n {
				got, err := sub.NextMsgWithContext(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if i != src.big {
					if got.Subject != "alerts.endpoint.contoso.high" || got.Header.Get("Alert-Error") != "" {
						t.Errorf("message %d: on %s, Alert-Error %q", i, got.Subject, got.Header.Get("Alert-Error"))
					}
					continue
				}
				if got.Subject != "alerts.deadletter.endpoint.contoso" || len(got.Data) < limit/2 || sinks.Size(got) > limit ||
					!strings.HasPrefix(string(got.Data), `{"id":"da3_1","evidence":"xxx`) ||
					!strings.HasPrefix(got.Header.Get("Alert-Error"), "too large: ") {
					t.Errorf("the big alert: on %s, %d bytes, %d of body, Alert-Error %q", got.Subject, sinks.Size(got), len(got.Data), got.Header.Get("Alert-Error"))
				}
			}
		})
	}
}
