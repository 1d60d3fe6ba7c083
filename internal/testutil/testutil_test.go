package testutil

import (
	"log/slog"
	"net"
	"testing"
	"time"
)

func TestLogRecorder(t *testing.T) {
	t.Parallel()
	r := &LogRecorder{}
	log := slog.New(r)
	log.Info("connected to NATS", "url", "nats://127.0.0.1:4222")
	log.Warn("cannot reach NATS", "err", "refused")
	log.Debug("poll done")
	for _, tc := range []struct {
		level  slog.Level
		substr string
		want   int
	}{
		{slog.LevelDebug, "NATS", 2},
		{slog.LevelWarn, "NATS", 1},
		{slog.LevelDebug, "url=nats://127.0.0.1:4222", 1}, // attributes are part of the text
		{slog.LevelError, "NATS", 0},
		{slog.LevelDebug, "poll done", 1},
	} {
		if got := r.Count(tc.level, tc.substr); got != tc.want {
			t.Errorf("Count(%v, %q) = %d, want %d", tc.level, tc.substr, got, tc.want)
		}
	}
	if !r.Has("poll done") || r.HasAt(slog.LevelInfo, "poll done") {
		t.Errorf("Has/HasAt disagree with the levels logged:\n%s", r)
	}
}

func TestEventuallyAndFreePort(t *testing.T) {
	t.Parallel()
	start := time.Now()
	Eventually(t, 5*time.Second, "the clock to move", func() (bool, string) {
		return time.Since(start) > 20*time.Millisecond, "not yet"
	})
	l, err := net.Listen("tcp", FreeAddr(t)) // free: it can be listened on
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	ctx := Context(t, time.Minute)
	if _, ok := ctx.Deadline(); !ok {
		t.Error("Context has no deadline")
	}
}
