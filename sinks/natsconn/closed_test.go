package natsconn

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/testutil"
)

// TestOnClosedReportsAClosedForGood: a server that answers a publish with "maximum control
// line exceeded" makes nats.go close the connection for good, reconnects unlimited or not;
// OnClosed is told, with that error. A Close of the program's own reaches OnClosed with no error.
func TestOnClosedReportsAClosedForGood(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		close   func(t *testing.T, nc *nats.Conn)
		wantErr string
	}{
		{"the server refuses a line", func(t *testing.T, nc *nats.Conn) {
			if err := nc.Publish("alerts."+strings.Repeat("x", 600), []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}, "maximum control line exceeded"},
		{"a Close of our own", func(t *testing.T, nc *nats.Conn) { nc.Close() }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, 0, func(o *server.Options) { o.Port = server.RANDOM_PORT; o.MaxControlLine = 512 })
			closed := make(chan error, 1)
			logs := &testutil.LogRecorder{}
			nc, err := Connect(testutil.Context(t, 10*time.Second), config.NATS{URL: s.ClientURL()}, env(nil),
				Options{Logger: slog.New(logs), OnClosed: func(err error) { closed <- err }, reconnectWait: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			tc.close(t, nc)
			select {
			case err := <-closed:
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("OnClosed(%v), want no error", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("OnClosed(%v), want %q", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("OnClosed was not called; the connection is %v", nc.Status())
			}
			if !nc.IsClosed() {
				t.Errorf("the connection is %v", nc.Status())
			}
		})
	}
}

// TestOnClosedOnlyOnceHandedOver: when Connect gives up waiting (a stop while NATS is not there
// yet, credentials refused) it closes the connection itself; that is its error, not a
// connection closed for good (which made a stop exit 1). A connection handed over is told of
// once, also when it closed before the hand-over.
func TestOnClosedOnlyOnceHandedOver(t *testing.T) {
	t.Parallel()
	var told []error
	w := newWatcher(Options{OnClosed: func(err error) { told = append(told, err) }})
	w.closed(errors.New("context canceled")) // Connect's own Close, before the hand-over
	if len(told) != 0 {
		t.Fatalf("OnClosed told of a connection Connect gave up on: %v", told)
	}
	s := startServer(t, 0, func(o *server.Options) { o.Port = server.RANDOM_PORT })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	w.handOver(nc) // closed between the connect and the hand-over
	w.closed(nil)  // and its ClosedHandler runs after
	if len(told) != 1 {
		t.Errorf("OnClosed told %d times, want once: %v", len(told), told)
	}
}
