package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/testutil"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

func TestNewStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		existing *js.StreamConfig // created before New
		cfg      func(*config.NATS)
		want     func(t *testing.T, c js.StreamConfig)
	}{
		{
			name: "created with the configured keys",
			want: func(t *testing.T, c js.StreamConfig) {
				if c.Storage != js.FileStorage || c.Duplicates != 2*time.Hour || c.MaxAge != 720*time.Hour ||
					!slices.Equal(c.Subjects, []string{"alerts.*.*.*"}) {
					t.Errorf("config = storage %s, duplicates %s, max_age %s, subjects %v", c.Storage, c.Duplicates, c.MaxAge, c.Subjects)
				}
			},
		},
		{
			name:     "duplicate_window updated, operator's limits kept",
			existing: &js.StreamConfig{Name: "ALERTS", Subjects: []string{"alerts.*.*.*"}, Duplicates: 2 * time.Hour, MaxAge: 720 * time.Hour, MaxBytes: 1 << 20, Storage: js.FileStorage},
			cfg:      func(c *config.NATS) { c.DuplicateWindow = 3 * time.Hour },
			want: func(t *testing.T, c js.StreamConfig) {
				if c.Duplicates != 3*time.Hour || c.MaxBytes != 1<<20 {
					t.Errorf("duplicates %s, max_bytes %d; want 3h and the operator's 1048576", c.Duplicates, c.MaxBytes)
				}
			},
		},
		{
			// The stream gains the new template's subjects and keeps the ones it had: an operator
			// may have bound more, and the old messages stay addressable.
			name:     "subjects of a new template are added",
			existing: &js.StreamConfig{Name: "ALERTS", Subjects: []string{"alerts.*.*.*"}, Duplicates: 2 * time.Hour, MaxAge: 720 * time.Hour, Storage: js.FileStorage},
			cfg:      func(c *config.NATS) { c.Subject = "soc.{tenant}.{severity}" },
			want: func(t *testing.T, c js.StreamConfig) {
				if !slices.Equal(c.Subjects, []string{"alerts.*.*.*", "soc.*.*", "soc.deadletter.*.*"}) {
					t.Errorf("subjects %v", c.Subjects)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			nc, cfg := withStream(ctx, t, true, tc.existing, tc.cfg)
			sink, err := New(ctx, nc, cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := sink.JetStream().Stream(ctx, "ALERTS")
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, st.CachedInfo().Config)
		})
	}
}

func TestNewRefusesConflicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		noJS      bool
		existing  *js.StreamConfig
		cfg       func(*config.NATS)
		wantInErr []string
	}{
		{
			name:      "existing stream on memory storage",
			existing:  &js.StreamConfig{Name: "ALERTS", Subjects: []string{"alerts.*.*.*"}, Storage: js.MemoryStorage},
			wantInErr: []string{`stream "ALERTS"`, "exists with Memory storage", "cannot change", "err_code=10052", "nats stream rm ALERTS", "nats.stream"},
		},
		{
			name:      "subjects overlap another stream",
			existing:  &js.StreamConfig{Name: "EVERYTHING", Subjects: []string{"alerts.>"}, Storage: js.FileStorage},
			wantInErr: []string{`stream "ALERTS"`, "another stream already binds", "(stream EVERYTHING)", "err_code=10065", "change nats.subject"},
		},
		{
			name:      "duplicate window longer than max age",
			cfg:       func(c *config.NATS) { c.DuplicateWindow, c.MaxAge = 48*time.Hour, 24*time.Hour },
			wantInErr: []string{`stream "ALERTS"`, "duplicate_window 48h0m0s is longer than nats.max_age 24h0m0s", "err_code=10052", "at most nats.max_age"},
		},
		{
			name:      "server without JetStream",
			noJS:      true,
			wantInErr: []string{`stream "ALERTS"`, "no JetStream", "enable it on the server", `nats.mode = "core"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			nc, cfg := withStream(ctx, t, !tc.noJS, tc.existing, tc.cfg)
			_, err := New(ctx, nc, cfg, Options{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if ctx.Err() != nil {
				t.Errorf("New waited for the deadline instead of failing: %v", err)
			}
		})
	}
}

func TestPublishReportsDuplicates(t *testing.T) {
	t.Parallel()
	all := alerts("contoso", 20)
	for _, tc := range []struct {
		name  string
		first []sources.Message // published before
		then  []sources.Message
		want  []bool
	}{
		{"fresh batch", nil, all[:4], []bool{false, false, false, false}},
		{"same batch again", all[:4], all[:4], []bool{true, true, true, true}},
		{"half of it seen", all[:2], all[:4], []bool{true, true, false, false}},
		{"repeat inside one batch", nil, []sources.Message{all[5], all[5], all[19], all[19]}, []bool{false, true, false, true}},
		{"empty batch", nil, nil, []bool{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			s := startServer(t, t.TempDir(), server.RANDOM_PORT, true)
			sink, err := New(ctx, connect(t, s.ClientURL()), testConfig(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.first != nil {
				if _, err := sink.Publish(ctx, tc.first); err != nil {
					t.Fatal(err)
				}
			}
			res, err := sink.Publish(ctx, tc.then)
			if err != nil {
				t.Fatal(err)
			}
			if dup := dups(res); !slices.Equal(dup, tc.want) {
				t.Errorf("dup = %v, want %v", dup, tc.want)
			}
		})
	}
}

func TestPublishLandsAsSent(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 30*time.Second)
	s := startServer(t, t.TempDir(), server.RANDOM_PORT, true)
	nc := connect(t, s.ClientURL())
	cfg := testConfig()
	sink, err := New(ctx, nc, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := alerts("contoso-eu", 9)
	if _, err := sink.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	got := streamMsgs(t, ctx, nc, cfg.Stream)
	if len(got) != len(msgs) {
		t.Fatalf("stream holds %d messages, want %d", len(got), len(msgs))
	}
	subjects := sinks.NewSubjects(cfg.Subject)
	for i, g := range got {
		want, err := sinks.NewMsg(subjects, &msgs[i], sinks.Limit{})
		if err != nil {
			t.Fatal(err)
		}
		if g.Subject != want.Subject {
			t.Errorf("seq %d: subject %q, want %q", g.Sequence, g.Subject, want.Subject)
		}
		for k, v := range want.Header {
			if !slices.Equal(g.Header.Values(k), v) {
				t.Errorf("seq %d: header %s = %q, want %q", g.Sequence, k, g.Header.Values(k), v)
			}
		}
		if string(g.Data) != string(want.Data) {
			t.Errorf("seq %d: body\n%s\nwant\n%s", g.Sequence, g.Data, want.Data)
		}
	}
	if last := got[len(got)-1]; last.Subject != "alerts.deadletter.endpoint.contoso-eu" || last.Header.Get("Alert-Error") == "" {
		t.Errorf("dead letter landed on %q with Alert-Error %q", last.Subject, last.Header.Get("Alert-Error"))
	}
}

// TestPublishSurvivesRestart stops the server before or in the middle of a batch and starts a
// new one on the same port and store: Publish must still return, and the stream must hold
// every message exactly once.
func TestPublishSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		midway bool
	}{
		{"server down before the batch", false},
		{"server stopped mid-batch", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			dir := t.TempDir()
			s1 := startServer(t, dir, server.RANDOM_PORT, true)
			port := s1.Addr().(*net.TCPAddr).Port
			nc := connect(t, s1.ClientURL())
			logs := &testutil.LogRecorder{}
			// A small MaxPending keeps most of the batch unsent when the server goes away.
			sink, err := New(ctx, nc, testConfig(), Options{Logger: slog.New(logs), AckTimeout: 2 * time.Second, MaxPending: 8})
			if err != nil {
				t.Fatal(err)
			}
			msgs := alerts("contoso", 400)

			var s2 *server.Server
			var heldAtStop uint64
			restart := func() {
				s1.Shutdown()
				s1.WaitForShutdown()
				heldAtStop = storedMsgs(t, dir, "ALERTS")
				t.Logf("the stream held %d of %d messages when the server stopped", heldAtStop, len(msgs))
				s2 = startServer(t, dir, port, true)
			}
			type result struct {
				dup []bool
				err error
			}
			done := make(chan result, 1)
			publish := func() {
				res, err := sink.Publish(ctx, msgs)
				done <- result{dups(res), err}
			}
			if tc.midway {
				// The first message the server routes triggers the stop.
				watch := connect(t, s1.ClientURL())
				first := make(chan struct{}, 1)
				if _, err := watch.Subscribe("alerts.>", func(*nats.Msg) {
					select {
					case first <- struct{}{}:
					default:
					}
				}); err != nil {
					t.Fatal(err)
				}
				if err := watch.Flush(); err != nil {
					t.Fatal(err)
				}
				go publish()
				<-first
				restart()
			} else {
				s1.Shutdown()
				s1.WaitForShutdown()
				go publish()
				testutil.WaitFor(t, "Publish to wait for the connection", func() bool { return logs.Has("waiting for the NATS connection") })
				s2 = startServer(t, dir, port, true)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("Publish: %v", r.err)
			}
			t.Logf("%d of %d acks were duplicates (stored before the restart, ack lost)", count(r.dup), len(r.dup))
			if tc.midway && heldAtStop >= uint64(len(msgs)) {
				t.Error("the server stopped after the batch, not during it")
			}

			got := streamMsgs(t, ctx, connect(t, s2.ClientURL()), "ALERTS")
			seen := map[string]int{}
			for _, m := range got {
				seen[m.Header.Get("Nats-Msg-Id")]++
			}
			for _, m := range msgs {
				if seen[m.MsgID] != 1 {
					t.Errorf("%s stored %d times", m.MsgID, seen[m.MsgID])
				}
			}
			if len(got) != len(msgs) {
				t.Errorf("stream holds %d messages, want %d", len(got), len(msgs))
			}
		})
	}
}

func TestPublishRecreatesDeletedStream(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 30*time.Second)
	s := startServer(t, t.TempDir(), server.RANDOM_PORT, true)
	nc := connect(t, s.ClientURL())
	sink, err := New(ctx, nc, testConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.JetStream().DeleteStream(ctx, "ALERTS"); err != nil {
		t.Fatal(err)
	}
	msgs := alerts("contoso", 3)
	if _, err := sink.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if got := streamMsgs(t, ctx, nc, "ALERTS"); len(got) != len(msgs) {
		t.Errorf("stream holds %d messages, want %d", len(got), len(msgs))
	}
}

// TestPublishGivesUp covers the ways Publish ends without every ack: ctx ends (it must return
// promptly, with ctx's error), MaxAttempts is reached, or a message can never be accepted.
func TestPublishGivesUp(t *testing.T) {
	t.Parallel()
	full := func(t *testing.T, ctx context.Context, nc *nats.Conn) {
		// One message fills the stream and DiscardNew refuses the rest: acks never come.
		j, _ := js.New(nc)
		if _, err := j.CreateStream(ctx, js.StreamConfig{Name: "ALERTS", Subjects: []string{"alerts.*.*.*"}, MaxMsgs: 1,
			Discard: js.DiscardNew, Duplicates: 2 * time.Hour, MaxAge: 720 * time.Hour, Storage: js.FileStorage}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		before    func(t *testing.T, ctx context.Context, nc *nats.Conn) // before New
		after     func(t *testing.T, s *server.Server)                   // after New
		opts      Options
		msgs      []sources.Message
		timeout   time.Duration
		wantIs    error
		wantInErr []string
	}{
		{
			name:      "server down until ctx ends",
			after:     func(t *testing.T, s *server.Server) { s.Shutdown(); s.WaitForShutdown() },
			timeout:   300 * time.Millisecond,
			wantIs:    context.DeadlineExceeded,
			wantInErr: []string{"3 of 3 messages not acknowledged by stream ALERTS"},
		},
		{
			name:      "stream refuses until ctx ends",
			before:    full,
			timeout:   500 * time.Millisecond,
			wantIs:    context.DeadlineExceeded,
			wantInErr: []string{"not acknowledged by stream ALERTS", "maximum messages exceeded"},
		},
		{
			name:      "stream refuses MaxAttempts times",
			before:    full,
			opts:      Options{MaxAttempts: 2},
			wantInErr: []string{"not acknowledged by stream ALERTS after 2 attempts", "maximum messages exceeded"},
		},
		{
			name:      "message without an ID",
			msgs:      []sources.Message{{Tenant: "contoso", Source: "endpoint", Raw: []byte("{}")}},
			wantInErr: []string{"message 0 of the batch cannot be built", "without a Nats-Msg-Id"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			s := startServer(t, t.TempDir(), server.RANDOM_PORT, true)
			nc := connect(t, s.ClientURL())
			if tc.before != nil {
				tc.before(t, ctx, nc)
			}
			sink, err := New(ctx, nc, testConfig(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.after != nil {
				tc.after(t, s)
			}
			msgs := tc.msgs
			if msgs == nil {
				msgs = alerts("contoso", 3)
			}
			pctx := ctx
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				pctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			res, err := sink.Publish(pctx, msgs)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Publish succeeded: %v", res)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error is not %v: %v", tc.wantIs, err)
			}
			for _, w := range tc.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if tc.timeout > 0 && elapsed > tc.timeout+time.Second {
				t.Errorf("Publish returned %s after ctx ended", elapsed-tc.timeout)
			}
		})
	}
}

// bigRaw is an alert's raw of about n bytes.
func bigRaw(id string, n int) []byte {
	return []byte(`{"id":"` + id + `","evidence":"` + strings.Repeat("x", n) + `"}`)
}

// TestPublishTooLargeAsDeadLetter: a message over what the server (max_payload) or the stream
// (max_msg_size, also when lowered after the start) takes is published as a dead letter with
// its raw cut to fit and Alert-Error saying why, keeping its Nats-Msg-Id; a dead letter too
// large is cut the same way; the rest of the batch is published as it is. Publish again and
// every one is a duplicate.
func TestPublishTooLargeAsDeadLetter(t *testing.T) {
	t.Parallel()
	const kib = 1024
	for _, tc := range []struct {
		name        string
		maxPayload  int32
		maxMsgSize  int32 // of the stream before New
		lowerTo     int32 // the stream's max_msg_size set after New
		bigAlert    int   // raw bytes of msgs[2]
		bigDead     int   // raw bytes of the dead letter msgs[4]; 0: small
		limit       int
		wantInError string
	}{
		{name: "over max_payload", maxPayload: 64 * kib, bigAlert: 100 * kib, bigDead: 100 * kib, limit: 64 * kib,
			wantInError: "over the server's max_payload of 65536"},
		{name: "over the stream's max_msg_size", maxMsgSize: 16 * kib, bigAlert: 20 * kib, limit: 16 * kib,
			wantInError: "over stream ALERTS's max_msg_size of 16384"},
		{name: "over a max_msg_size lowered after the start", lowerTo: 16 * kib, bigAlert: 20 * kib, limit: 16 * kib,
			wantInError: "over stream ALERTS's max_msg_size of 16384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Context(t, 30*time.Second)
			s := startServer(t, t.TempDir(), server.RANDOM_PORT, true, func(o *server.Options) {
				if tc.maxPayload > 0 {
					o.MaxPayload = tc.maxPayload
				}
			})
			nc := connect(t, s.ClientURL())
			cfg := testConfig()
			j, err := js.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.maxMsgSize > 0 {
				if _, err := j.CreateStream(ctx, js.StreamConfig{Name: cfg.Stream, Subjects: []string{"alerts.*.*.*"}, MaxMsgSize: tc.maxMsgSize,
					Duplicates: cfg.DuplicateWindow, MaxAge: cfg.MaxAge}); err != nil {
					t.Fatal(err)
				}
			}
			sink, err := New(ctx, nc, cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.lowerTo > 0 {
				st, err := j.Stream(ctx, cfg.Stream)
				if err != nil {
					t.Fatal(err)
				}
				c := st.CachedInfo().Config
				c.MaxMsgSize = tc.lowerTo
				if _, err := j.UpdateStream(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			msgs := alerts("contoso", 5)
			big := msgs[2].Alert
			big.Raw = bigRaw(big.ID, tc.bigAlert)
			// As a source queues it: the envelope written, the alert kept as its summary.
			body, err := envelope.Marshal(big)
			if err != nil {
				t.Fatal(err)
			}
			msgs[2].Body, msgs[2].Alert = body, big.Summary()
			if tc.bigDead > 0 {
				msgs[4].Raw = bigRaw("dead", tc.bigDead)
			}

			res, err := sink.Publish(ctx, msgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				switch {
				case r.Duplicate:
					t.Errorf("message %d: a duplicate", i)
				case i == 2 || i == 4 && tc.bigDead > 0:
					if !strings.HasPrefix(r.DeadLetter, "too large: ") || !strings.Contains(r.DeadLetter, tc.wantInError) {
						t.Errorf("message %d: DeadLetter %q, want too large, %s", i, r.DeadLetter, tc.wantInError)
					}
				case i == 4:
					if r.DeadLetter != "unexpected end of JSON input" {
						t.Errorf("the dead letter's DeadLetter = %q", r.DeadLetter)
					}
				case r.DeadLetter != "":
					t.Errorf("message %d: published as a dead letter: %s", i, r.DeadLetter)
				}
			}
			stored := streamMsgs(t, ctx, nc, cfg.Stream)
			if len(stored) != len(msgs) {
				t.Fatalf("the stream holds %d messages, want %d", len(stored), len(msgs))
			}
			// A message refused and rebuilt goes out after the rest of its batch.
			byID := map[string]*js.RawStreamMsg{}
			for _, g := range stored {
				byID[g.Header.Get("Nats-Msg-Id")] = g
			}
			got := make([]*js.RawStreamMsg, len(msgs))
			for i, m := range msgs {
				if got[i] = byID[m.MsgID]; got[i] == nil {
					t.Fatalf("%s is not in the stream", m.MsgID)
				}
			}
			for _, g := range got {
				size := len(g.Data)
				for k, vs := range g.Header {
					for _, v := range vs {
						size += len(k) + len(v) + 4
					}
				}
				if size > tc.limit {
					t.Errorf("seq %d: %d bytes, over the limit of %d", g.Sequence, size, tc.limit)
				}
			}
			dead := got[2]
			t.Logf("Alert-Error: %s", dead.Header.Get("Alert-Error"))
			switch {
			case dead.Subject != "alerts.deadletter.endpoint.contoso":
				t.Errorf("the big alert is on %q, want the dead-letter subject", dead.Subject)
			case dead.Header.Get("Alert-Id") != big.ID || dead.Header.Get("Alert-Source") != "endpoint" || dead.Header.Get("Alert-Tenant") != "contoso":
				t.Errorf("the big alert's headers: %v", dead.Header)
			case len(dead.Data) == 0 || len(dead.Data) >= len(big.Raw) || !bytes.HasPrefix(big.Raw, dead.Data):
				t.Errorf("the big alert's body is %d bytes, want a prefix of its %d-byte raw", len(dead.Data), len(big.Raw))
			case len(dead.Data) < tc.limit-2*kib:
				t.Errorf("the big alert's raw was cut to %d bytes, far below the limit of %d", len(dead.Data), tc.limit)
			case !strings.Contains(dead.Header.Get("Alert-Error"), fmt.Sprintf("cut to its first %d of %d bytes", len(dead.Data), len(big.Raw))):
				t.Errorf("Alert-Error does not say how the raw was cut: %q", dead.Header.Get("Alert-Error"))
			}
			if tc.bigDead > 0 {
				d := got[4]
				if d.Subject != "alerts.deadletter.endpoint.contoso" || !bytes.HasPrefix(msgs[4].Raw, d.Data) || len(d.Data) == 0 ||
					!strings.Contains(d.Header.Get("Alert-Error"), "it is a dead letter because: unexpected end of JSON input") {
					t.Errorf("the big dead letter: %s, %d bytes, %v", d.Subject, len(d.Data), d.Header)
				}
			}
			for _, i := range []int{0, 1, 3} {
				if got[i].Subject == "alerts.deadletter.endpoint.contoso" || got[i].Header.Get("Alert-Error") != "" {
					t.Errorf("message %d was dead-lettered", i)
				}
			}
			// A re-read: every one, the dead letters too, is dropped as a duplicate.
			res, err = sink.Publish(ctx, msgs)
			if err != nil {
				t.Fatal(err)
			}
			if d := dups(res); slices.Contains(d, false) {
				t.Errorf("published again: duplicates %v, want all", d)
			}
		})
	}
}

// dups is the Duplicate of each result.
func dups(res []sinks.Result) []bool {
	d := make([]bool, len(res))
	for i, r := range res {
		d[i] = r.Duplicate
	}
	return d
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// withStream starts a server (with JetStream or not), creates existing on it if given, and
// returns a connection and the test config changed by edit.
func withStream(ctx context.Context, t *testing.T, jetStream bool, existing *js.StreamConfig, edit func(*config.NATS)) (*nats.Conn, config.NATS) {
	t.Helper()
	s := startServer(t, t.TempDir(), server.RANDOM_PORT, jetStream)
	nc := connect(t, s.ClientURL())
	if existing != nil {
		j, _ := js.New(nc)
		if _, err := j.CreateStream(ctx, *existing); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	return nc, cfg
}

// TestLongCategorySubject: an alert whose 5,000-character category goes into the subject is
// published on a subject of bounded tokens, and the connection stays up (a subject over the
// server's max_control_line makes it close the connection, and nats.go never reconnects).
func TestLongCategorySubject(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 30*time.Second)
	s := startServer(t, t.TempDir(), server.RANDOM_PORT, true)
	nc := connect(t, s.ClientURL())
	cfg := testConfig()
	cfg.Subject = "alerts.{source}.{tenant}.{category}"
	sink, err := New(ctx, nc, cfg, Options{MaxAttempts: 3, AckTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msgs := alerts("contoso", 3)
	category := strings.Repeat("Suspicious Activity ", 250)
	msgs[0].Alert.Category = &category
	if _, err := sink.Publish(ctx, msgs); err != nil {
		t.Fatalf("Publish: %v (connection closed: %v, last error %v)", err, nc.IsClosed(), nc.LastError())
	}
	if !nc.IsConnected() {
		t.Fatalf("the connection is %v after the publish: %v", nc.Status(), nc.LastError())
	}
	got := streamMsgs(t, ctx, nc, cfg.Stream)
	if len(got) != len(msgs) {
		t.Fatalf("the stream holds %d messages, want %d", len(got), len(msgs))
	}
	subj := got[0].Subject
	tok := strings.TrimPrefix(subj, "alerts.endpoint.contoso.")
	if len(tok) != envelope.MaxToken || !strings.HasPrefix(tok, "suspicious_activity_suspicious_activity_") {
		t.Errorf("the long category's subject is %q", subj)
	}
	// And the connection still publishes.
	if _, err := sink.Publish(ctx, alerts("contoso", 2)[:1]); err != nil {
		t.Errorf("the next publish: %v", err)
	}
}

// TestPublishEndsWhenTheConnectionIsClosedForGood: acks pending when nats.go closes the
// connection for good (here the server refuses a line over its max_control_line) never come;
// Publish returns at once with ErrConnectionClosed instead of waiting out the ack timeout.
func TestPublishEndsWhenTheConnectionIsClosedForGood(t *testing.T) {
	t.Parallel()
	ctx := testutil.Context(t, 30*time.Second)
	s := startServer(t, t.TempDir(), server.RANDOM_PORT, true, func(o *server.Options) { o.MaxControlLine = 512 })
	nc := connect(t, s.ClientURL())
	cfg := testConfig()
	cfg.Subject = "alerts" + strings.Repeat(".{category}", 8) // 526 characters with a long category
	const ackTimeout = 20 * time.Second
	sink, err := New(ctx, nc, cfg, Options{AckTimeout: ackTimeout})
	if err != nil {
		t.Fatal(err)
	}
	msgs := alerts("contoso", 50)
	long := strings.Repeat("Suspicious Activity ", 10)
	msgs[40].Alert.Category = &long
	start := time.Now()
	_, err = sink.Publish(ctx, msgs)
	if !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Publish: %v, want ErrConnectionClosed", err)
	}
	if d := time.Since(start); d > ackTimeout/2 {
		t.Errorf("Publish returned after %s", d)
	}
}
