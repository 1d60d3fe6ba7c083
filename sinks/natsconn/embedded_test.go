package natsconn

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
			logs := &logRecorder{}
			s, err := StartEmbedded(dir, tc.listen, slog.New(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Shutdown(); s.WaitForShutdown() }()

			status := &statusLog{}
			nc, err := ConnectEmbedded(s, Options{OnStatus: status.on})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if c, ok := status.last(); !ok || !c {
				t.Errorf("OnStatus not told of the connection: %v %v", c, ok)
			}
			ctx := testContext(t, 10*time.Second)
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
			if !logs.has("Server is ready") {
				t.Errorf("nats-server's notices did not reach slog:\n%s", logs.all())
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
			s, err := StartEmbedded(dir, tc.listen, nil)
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
	ctx := testContext(t, 10*time.Second)
	run := func(f func(js jetstream.JetStream)) {
		s, err := StartEmbedded(dir, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { s.Shutdown(); s.WaitForShutdown() }()
		nc, err := ConnectEmbedded(s, Options{})
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
			rec := &logRecorder{}
			l := &serverLog{log: slog.New(rec), fatal: make(chan string, 1)}
			tc.log(l)
			if len(rec.lvls) != 1 || rec.lvls[0] != tc.want || !strings.HasSuffix(rec.recs[0], " 1") {
				t.Errorf("logged %v at %v; want one formatted record at %v", rec.recs, rec.lvls, tc.want)
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
