package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/envelope/envelopetest"
)

func startServer(t testing.TB, mutate func(*server.Options)) *server.Server {
	t.Helper()
	return natstest.Start(t, func(o *server.Options) { o.JetStream = false }, mutate)
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

var cfg = config.NATS{Mode: "core", Subject: "alerts.{source}.{tenant}.{severity}"}

// tenantID is the fixtures' Entra tenant: a whole envelope, as the schema wants it.
const tenantID = "a839b112-1253-6432-9bf6-94542403f21c"

// alerts returns n alert versions of tenant, the last one a dead letter.
func alerts(tenant string, n int) []sources.Message {
	sev := []string{"informational", "low", "medium", "high"}
	out := make([]sources.Message, n)
	for i := range out {
		id := fmt.Sprintf("da%04d", i)
		updated := time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC)
		msgID := envelope.MsgID(tenant, "cloudapps", id, updated)
		if i == n-1 {
			out[i] = sources.Message{MsgID: msgID, Tenant: tenant, Source: "cloudapps", Raw: []byte("{"), Err: errors.New("unexpected EOF")}
			continue
		}
		out[i] = sources.Message{MsgID: msgID, Tenant: tenant, Source: "cloudapps", Alert: &envelope.Alert{
			Schema: envelope.Schema, ID: id, Source: "cloudapps", Tenant: tenant, TenantID: tenantID, Event: envelope.Updated,
			Severity: sev[i%len(sev)], Status: envelope.StatusResolved, UpdatedAt: updated,
			MitreTechniques: []string{}, MitreTactics: []string{}, Entities: []envelope.Entity{},
			Raw: []byte(`{"_id":"` + id + `"}`),
		}}
	}
	return out
}

// TestPublish: a subscriber receives every message as NewMsg built it, once per Publish.
func TestPublish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		msgs    []sources.Message
		repeats int // Publish calls with the same batch
	}{
		{"one batch", alerts("contoso", 25), 1},
		{"same batch twice reaches subscribers twice", alerts("fabrikam", 5), 2},
		{"empty batch", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil)
			subConn := connect(t, s.ClientURL())
			sub, err := subConn.SubscribeSync("alerts.>")
			if err != nil {
				t.Fatal(err)
			}
			if err := subConn.Flush(); err != nil {
				t.Fatal(err)
			}
			sink := New(connect(t, s.ClientURL()), cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for range tc.repeats {
				res, err := sink.Publish(ctx, tc.msgs)
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != len(tc.msgs) || slices.ContainsFunc(res, func(r sinks.Result) bool { return r.Duplicate }) {
					t.Errorf("results = %v; want %d, none a duplicate", res, len(tc.msgs))
				}
			}
			subjects := sinks.NewSubjects(cfg.Subject)
			for r := range tc.repeats {
				for i := range tc.msgs {
					got, err := sub.NextMsgWithContext(ctx)
					if err != nil {
						t.Fatalf("copy %d, message %d: %v", r, i, err)
					}
					want, _ := sinks.NewMsg(subjects, &tc.msgs[i], sinks.Limit{})
					if got.Subject != want.Subject || string(got.Data) != string(want.Data) {
						t.Errorf("got %s %s, want %s %s", got.Subject, got.Data, want.Subject, want.Data)
					}
					if got.Header.Get(envelope.HeaderError) == "" { // a dead letter is raw bytes
						envelopetest.Check(t, got.Header.Get(envelope.HeaderMsgID), got.Data)
					}
					for k, v := range want.Header {
						if !slices.Equal(got.Header.Values(k), v) {
							t.Errorf("%s: header %s = %q, want %q", want.Subject, k, got.Header.Values(k), v)
						}
					}
				}
			}
			if n, _, _ := sub.Pending(); n != 0 {
				t.Errorf("%d messages more than published", n)
			}
		})
	}
}

func TestPublishFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		server    func(*server.Options)
		prepare   func(t *testing.T, s *server.Server, nc *nats.Conn)
		msgs      func() []sources.Message
		timeout   time.Duration
		wantIs    error
		wantInErr []string
	}{
		{
			name: "server down until ctx ends",
			prepare: func(t *testing.T, s *server.Server, nc *nats.Conn) {
				s.Shutdown()
				s.WaitForShutdown()
				testutil.WaitFor(t, "the client to notice", func() bool { return !nc.IsConnected() })
			},
			timeout:   200 * time.Millisecond,
			wantIs:    context.DeadlineExceeded,
			wantInErr: []string{"3 messages not published", "waiting for the NATS connection"},
		},
		{
			name:      "connection closed",
			prepare:   func(t *testing.T, _ *server.Server, nc *nats.Conn) { nc.Close() },
			wantIs:    nats.ErrConnectionClosed,
			wantInErr: []string{"3 messages not published"},
		},
		{
			name:      "max_payload too small for even a dead letter",
			server:    func(o *server.Options) { o.MaxPayload = 128 },
			wantInErr: []string{"contoso.cloudapps.da0000.", "over the server's max_payload of 128", "not even a dead letter's headers"},
		},
		{
			name:      "message without an ID",
			msgs:      func() []sources.Message { return []sources.Message{{Tenant: "contoso", Source: "cloudapps"}} },
			wantInErr: []string{"message 0 of the batch cannot be built", "without a Nats-Msg-Id"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.server)
			nc := connect(t, s.ClientURL())
			if tc.prepare != nil {
				tc.prepare(t, s, nc)
			}
			msgs := alerts("contoso", 3)
			if tc.msgs != nil {
				msgs = tc.msgs()
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()
			_, err := New(nc, cfg).Publish(ctx, msgs)
			if err == nil {
				t.Fatal("Publish succeeded")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error is not %v: %v", tc.wantIs, err)
			}
			for _, w := range tc.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if d := time.Since(start); d > timeout+time.Second {
				t.Errorf("Publish returned %s after ctx ended", d-timeout)
			}
		})
	}
}

// TestPublishTooLargeAsDeadLetter: in core mode too, a message over max_payload reaches
// subscribers as a dead letter with its raw cut to fit, a dead letter too large is cut the same
// way, and the rest of the batch is published as it is.
func TestPublishTooLargeAsDeadLetter(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	s := startServer(t, func(o *server.Options) { o.MaxPayload = limit })
	subConn := connect(t, s.ClientURL())
	sub, err := subConn.SubscribeSync("alerts.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := subConn.Flush(); err != nil {
		t.Fatal(err)
	}
	msgs := alerts("contoso", 4)
	msgs[1].Alert.Raw = []byte(`{"_id":"da0001","x":"` + strings.Repeat("x", 100<<10) + `"}`)
	msgs[3].Raw = []byte(strings.Repeat("{", 100<<10))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := New(connect(t, s.ClientURL()), cfg).Publish(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if big := i == 1 || i == 3; big != strings.HasPrefix(r.DeadLetter, "too large: ") {
			t.Errorf("message %d: DeadLetter %q", i, r.DeadLetter)
		}
	}
	for i := range msgs {
		got, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if id := got.Header.Get("Nats-Msg-Id"); id != msgs[i].MsgID {
			t.Errorf("message %d: Nats-Msg-Id %q, want %q", i, id, msgs[i].MsgID)
		}
		raw := msgs[i].Raw
		if msgs[i].Alert != nil {
			raw = msgs[i].Alert.Raw
		}
		switch i {
		case 1, 3:
			if got.Subject != "alerts.deadletter.cloudapps.contoso" || len(got.Data) < limit/2 || len(got.Data) >= len(raw) ||
				!strings.HasPrefix(string(raw), string(got.Data)) || !strings.Contains(got.Header.Get("Alert-Error"), "over the server's max_payload of 65536") {
				t.Errorf("message %d: %s, %d bytes, Alert-Error %q", i, got.Subject, len(got.Data), got.Header.Get("Alert-Error"))
			}
		default:
			if got.Subject == "alerts.deadletter.cloudapps.contoso" || got.Header.Get("Alert-Error") != "" {
				t.Errorf("message %d was dead-lettered: %v", i, got.Header)
			}
		}
	}
}
