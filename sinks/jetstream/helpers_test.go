package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/envelope/envelopetest"
)

// startServer runs a real nats-server on 127.0.0.1 (port RANDOM_PORT or a fixed one, for a
// restart) storing in dir; it is shut down when the test ends.
func startServer(t testing.TB, dir string, port int, jetStream bool, mutate ...func(*server.Options)) *server.Server {
	t.Helper()
	base := func(o *server.Options) { o.Port, o.JetStream, o.StoreDir = port, jetStream, dir }
	return natstest.Start(t, append([]func(*server.Options){base}, mutate...)...)
}

// connect dials url as the daemon does (reconnecting forever), but retrying every 20 ms so
// that restart tests are quick.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func testConfig() config.NATS {
	return config.NATS{
		Mode:            "jetstream",
		Subject:         "alerts.{source}.{tenant}.{severity}",
		Stream:          "ALERTS",
		DuplicateWindow: 2 * time.Hour,
		MaxAge:          720 * time.Hour,
	}
}

// alerts returns n alert versions of tenant, the last one a dead letter.
func alerts(tenant string, n int) []sources.Message {
	sev := []string{"informational", "low", "medium", "high"}
	out := make([]sources.Message, n)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range out {
		id := fmt.Sprintf("da%05d_%d", i, i*7)
		updated := base.Add(time.Duration(i) * time.Second)
		msgID := envelope.MsgID(tenant, "endpoint", id, updated)
		if i == n-1 {
			out[i] = sources.Message{MsgID: msgID, Tenant: tenant, Source: "endpoint", Raw: []byte(`{"id":` + id), Err: fmt.Errorf("unexpected end of JSON input")}
			continue
		}
		title := "Suspicious PowerShell " + id
		out[i] = sources.Message{MsgID: msgID, Tenant: tenant, Source: "endpoint", Alert: &envelope.Alert{
			Schema: envelope.Schema, ID: id, Source: "endpoint", Tenant: tenant, TenantID: "a839b112-1253-6432-9bf6-94542403f21c",
			Event: envelope.Created, Title: &title, Severity: sev[i%len(sev)], Status: envelope.StatusNew, UpdatedAt: updated,
			MitreTechniques: []string{}, MitreTactics: []string{}, Entities: []envelope.Entity{},
			Raw: []byte(`{"id":"` + id + `","title":"<b>&</b>"}`),
		}}
	}
	return out
}

// streamMsgs reads every message the stream holds, failing the test for an alert whose body
// is not a valid envelope (dead letters carry raw bytes and are not checked).
func streamMsgs(t testing.TB, ctx context.Context, nc *nats.Conn, name string) []*js.RawStreamMsg {
	t.Helper()
	j, err := js.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := j.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*js.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if m.Header.Get(envelope.HeaderError) == "" {
			envelopetest.Check(t, m.Header.Get(envelope.HeaderMsgID), m.Data)
		}
		out = append(out, m)
	}
	return out
}

// storedMsgs counts what stream name holds in the store at dir, through a server that opens no
// socket (so that no client reconnects to it).
func storedMsgs(t testing.TB, dir, name string) uint64 {
	t.Helper()
	s, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	j, err := js.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := j.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}
