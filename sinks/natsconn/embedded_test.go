package natsconn

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/testutil"
)

func TestStartEmbedded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		listen string
	}{
		{"in-process only", ""},
		{"listening on loopback", "127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			logs := &testutil.LogRecorder{}
			s, err := StartEmbedded(dir, config.NATS{EmbeddedListen: tc.listen}, nil, slog.New(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer StopEmbedded(s)

			status := &statusLog{}
			nc, err := ConnectEmbedded(s, config.NATS{}, nil, Options{OnStatus: status.on})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if c, ok := status.last(); !ok || !c {
				t.Errorf("OnStatus not told of the connection: %v %v", c, ok)
			}
			ctx := testutil.Context(t, 10*time.Second)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
				t.Fatalf("JetStream: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "nats", "jetstream")); err != nil {
				t.Errorf("store not under data_dir/nats: %v", err)
			}
			if c := s.JetStreamConfig(); c == nil || c.MaxStore != EmbeddedMaxStore || c.MaxMemory != EmbeddedMaxMemory {
				t.Errorf("JetStream limits: %+v", c)
			}

			if tc.listen == "" {
				if s.Addr() != nil {
					t.Errorf("listening on %v without embedded_listen", s.Addr())
				}
			} else {
				outside, err := nats.Connect(s.ClientURL())
				if err != nil {
					t.Fatalf("outside subscriber: %v", err)
				}
				outside.Close()
			}
			if !logs.Has("Server is ready") {
				t.Errorf("nats-server's notices did not reach slog:\n%s", logs.String())
			}
		})
	}
}

func TestStartEmbeddedFails(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	file := writeFile(t, "not-a-dir", "x")
	for _, tc := range []struct {
		name, dataDir, listen string
		want                  []string
	}{
		{"no data_dir", "", "", []string{"worker.data_dir is empty"}},
		{"listen without port", "", "localhost", []string{`nats.embedded_listen "localhost"`, "want host:port"}},
		{"listen port not a number", "", "127.0.0.1:http", []string{`nats.embedded_listen "127.0.0.1:http"`, "not a number"}},
		{"port in use", "", busy.Addr().String(), []string{"did not start", "listening on nats.embedded_listen " + busy.Addr().String(), "address already in use"}},
		{"data_dir is a file", file, "", []string{"did not start", "JetStream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dataDir
			if dir == "" && tc.name != "no data_dir" {
				dir = t.TempDir()
			}
			start := time.Now()
			s, err := StartEmbedded(dir, config.NATS{EmbeddedListen: tc.listen}, nil, nil)
			if err == nil {
				s.Shutdown()
				t.Fatal("StartEmbedded succeeded")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to fail", d)
			}
		})
	}
}

// TestEmbeddedKeepsData: what JetStream stored survives a restart on the same data_dir.
func TestEmbeddedKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testutil.Context(t, 10*time.Second)
	run := func(f func(js jetstream.JetStream)) {
		s, err := StartEmbedded(dir, config.NATS{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer StopEmbedded(s)
		nc, err := ConnectEmbedded(s, config.NATS{}, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		f(js)
	}
	run(func(js jetstream.JetStream) {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "t.1", []byte("kept")); err != nil {
			t.Fatal(err)
		}
	})
	run(func(js jetstream.JetStream) {
		st, err := js.Stream(ctx, "T")
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetMsg(ctx, 1)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if string(m.Data) != "kept" {
			t.Errorf("after restart: %q", m.Data)
		}
	})
}

func TestServerLogLevels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		log  func(l *serverLog)
		want slog.Level
	}{
		{"Noticef", func(l *serverLog) { l.Noticef("n %d", 1) }, slog.LevelInfo},
		{"Warnf", func(l *serverLog) { l.Warnf("w %d", 1) }, slog.LevelWarn},
		{"Errorf", func(l *serverLog) { l.Errorf("e %d", 1) }, slog.LevelError},
		{"Fatalf", func(l *serverLog) { l.Fatalf("f %d", 1) }, slog.LevelError},
		{"Debugf", func(l *serverLog) { l.Debugf("d %d", 1) }, slog.LevelDebug},
		{"Tracef", func(l *serverLog) { l.Tracef("t %d", 1) }, slog.LevelDebug},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &testutil.LogRecorder{}
			l := &serverLog{log: slog.New(rec), fatal: make(chan string, 1)}
			tc.log(l)
			if recs := rec.Records(); len(recs) != 1 || recs[0].Level != tc.want || !strings.HasSuffix(recs[0].Text, " 1") {
				t.Errorf("logged %v; want one formatted record at %v", recs, tc.want)
			}
		})
	}
	// A debug-level message is not even formatted when debug is off.
	var h slog.Handler = slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo})
	l := &serverLog{log: slog.New(h), fatal: make(chan string, 1)}
	if msg := l.logf(slog.LevelDebug, "%v", []any{panicky{}}); msg != "" {
		t.Errorf("formatted a dropped message: %q", msg)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type panicky struct{}

func (panicky) String() string { panic("formatted") }

// TestEmbeddedRequiresCredentials: given credentials, the embedded server refuses a client on
// its listener without them or with others, and accepts the daemon's in-process connection
// (JetStream included) and outside clients (tail, backfill) that present them.
func TestEmbeddedRequiresCredentials(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	vars := env(map[string]string{"NATS_TOKEN": testToken, "NATS_PASSWORD": testPassword, "WRONG": "not-it"})
	for _, tc := range []struct {
		name  string
		cfg   func(t *testing.T) config.NATS
		wrong func(t *testing.T) config.NATS // other credentials of the same kind
	}{
		{"user and password_env",
			func(*testing.T) config.NATS { return config.NATS{User: "alertexport", PasswordEnv: "NATS_PASSWORD"} },
			func(*testing.T) config.NATS { return config.NATS{User: "alertexport", PasswordEnv: "WRONG"} }},
		{"token_env",
			func(*testing.T) config.NATS { return config.NATS{TokenEnv: "NATS_TOKEN"} },
			func(*testing.T) config.NATS { return config.NATS{TokenEnv: "WRONG"} }},
		{"nkey_seed_file",
			func(t *testing.T) config.NATS {
				return config.NATS{NkeySeedFile: writeFile(t, "user.nk", string(seed)+"\n")}
			},
			func(t *testing.T) config.NATS {
				return config.NATS{NkeySeedFile: writeFile(t, "other.nk", string(otherSeed))}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg(t)
			// As the daemon runs it: a non-loopback-style listener needs credentials; 127.0.0.1
			// stands in for 0.0.0.0 here.
			cfg.EmbeddedListen = "127.0.0.1:0"
			logs := &testutil.LogRecorder{}
			s, err := StartEmbedded(t.TempDir(), cfg, vars, slog.New(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer StopEmbedded(s)

			nc, err := ConnectEmbedded(s, cfg, vars, Options{})
			if err != nil {
				t.Fatalf("the daemon's in-process connection: %v", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.CreateKeyValue(testutil.Context(t, 10*time.Second), jetstream.KeyValueConfig{Bucket: "alertexport_state"}); err != nil {
				t.Fatalf("JetStream for the authenticated user: %v", err)
			}

			url := s.ClientURL()
			if _, err := nats.Connect(url, nats.Timeout(5*time.Second)); !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("outside client without credentials: %v, want %v", err, nats.ErrAuthorization)
			}
			wrong := tc.wrong(t)
			wrong.URL = url
			if err := Probe(wrong, vars, 5*time.Second); !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("outside client with other credentials: %v, want %v", err, nats.ErrAuthorization)
			}

			client, ok := EmbeddedClient(cfg)
			if !ok {
				t.Fatal("EmbeddedClient: no listener")
			}
			client.URL = url // the listener's port 0 became a real one
			if err := Probe(client, vars, 5*time.Second); err != nil {
				t.Errorf("Probe with the credentials: %v", err)
			}
			outside, err := Connect(testutil.Context(t, 10*time.Second), client, vars, Options{})
			if err != nil {
				t.Fatalf("outside client with the credentials: %v", err)
			}
			defer outside.Close()
			if err := outside.Flush(); err != nil {
				t.Errorf("round trip: %v", err)
			}
			if logs.HasAt(slog.LevelWarn, "Plaintext passwords") {
				t.Errorf("nats-server's plaintext-password advice reached the log as a warning:\n%s", logs.String())
			}
		})
	}
}

// TestStartEmbeddedCredentialErrors: a secret that is not there, or a .creds file, stops the
// embedded server from starting, with the key named and no secret shown.
func TestStartEmbeddedCredentialErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  config.NATS
		want string
	}{
		{"password variable not set", config.NATS{User: "ax", PasswordEnv: "NATS_PASSWORD"}, "nats.password_env: environment variable NATS_PASSWORD is not set"},
		{"token variable empty", config.NATS{TokenEnv: "EMPTY"}, "nats.token_env: environment variable EMPTY is empty"},
		{"seed file missing", config.NATS{NkeySeedFile: "/nonexistent/user.nk"}, `nats.nkey_seed_file "/nonexistent/user.nk" cannot be read`},
		{"creds file", config.NATS{CredsFile: "/etc/alertexport/nats.creds"}, "nats.creds_file \"/etc/alertexport/nats.creds\" cannot secure the embedded server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.EmbeddedListen = "127.0.0.1:0"
			s, err := StartEmbedded(t.TempDir(), tc.cfg, env(map[string]string{"EMPTY": " "}), nil)
			if err == nil {
				s.Shutdown()
				s.WaitForShutdown()
				t.Fatal("StartEmbedded succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestEmbeddedClient: tail and backfill dial the listener on loopback when it binds every
// interface, with the credentials and without the external server's TLS files.
func TestEmbeddedClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ listen, url string }{
		{"0.0.0.0:4222", "nats://127.0.0.1:4222"},
		{":4222", "nats://127.0.0.1:4222"},
		{"[::]:4222", "nats://[::1]:4222"},
		{"10.0.0.5:4222", "nats://10.0.0.5:4222"},
		{"127.0.0.1:4222", "nats://127.0.0.1:4222"},
	} {
		c, ok := EmbeddedClient(config.NATS{EmbeddedListen: tc.listen, TokenEnv: "T", CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"})
		if !ok || c.URL != tc.url || c.TokenEnv != "T" || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
			t.Errorf("%s: %+v %v, want url %s, the token and no TLS files", tc.listen, c, ok, tc.url)
		}
	}
	if _, ok := EmbeddedClient(config.NATS{URL: "nats://n:4222"}); ok {
		t.Error("an external server has no embedded client")
	}
	if _, ok := EmbeddedClient(config.NATS{}); ok {
		t.Error("no embedded_listen, no embedded client")
	}
}
