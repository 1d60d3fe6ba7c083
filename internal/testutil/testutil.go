// Package testutil holds the small helpers every test package needs: a context bounded by the
// test, waiting on a condition with a deadline, a free loopback address, a slog handler that
// records what was logged, and a buffer goroutines may write to. Test code only.
package testutil

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Context is the test's context, cancelled after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond until it holds, failing the test after 10 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Eventually(t, 10*time.Second, what, func() (bool, string) { return cond(), "" })
}

// Eventually polls cond until it holds, failing the test after within with what and the state
// cond last described. Polling a condition, not sleeping for a guessed time, is how tests wait.
func Eventually(t testing.TB, within time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	// Quick at first, for cheap conditions; at most every 50 ms, for those that read a stream.
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if state != "" {
				t.Fatalf("timed out waiting for %s after %v (%s)", what, within, state)
			}
			t.Fatalf("timed out waiting for %s after %v", what, within)
		}
		time.Sleep(pause)
	}
}

// FreePort is a loopback port nothing listens on now (a listener's, closed), for a server the
// test configures by port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is FreePort as a loopback host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// Record is one logged record: its level and its message followed by its attributes.
type Record struct {
	Level slog.Level
	Text  string
}

// LogRecorder is a slog.Handler that keeps every record; safe for concurrent use.
type LogRecorder struct {
	mu   sync.Mutex
	recs []Record
}

func (r *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *LogRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *LogRecorder) WithGroup(string) slog.Handler            { return r }

func (r *LogRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, Record{Level: rec.Level, Text: b.String()})
	return nil
}

// Records is a copy of what was logged so far.
func (r *LogRecorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.recs...)
}

// Has reports whether a record contains substr.
func (r *LogRecorder) Has(substr string) bool { return r.Count(slog.LevelDebug-4, substr) > 0 }

// HasAt reports whether a record at level or above contains substr.
func (r *LogRecorder) HasAt(level slog.Level, substr string) bool { return r.Count(level, substr) > 0 }

// Count counts the records at level or above that contain substr.
func (r *LogRecorder) Count(level slog.Level, substr string) int {
	n := 0
	for _, rec := range r.Records() {
		if rec.Level >= level && strings.Contains(rec.Text, substr) {
			n++
		}
	}
	return n
}

// String is every record, one a line.
func (r *LogRecorder) String() string {
	var b strings.Builder
	for _, rec := range r.Records() {
		b.WriteString(rec.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// SyncBuffer is a bytes.Buffer that a logger's or a daemon's goroutines may write to while the
// test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
