package app

import (
	"errors"
	"strings"
	"testing"
)

// TestNATSClosedForGood: a connection nats.go closes for good is why the daemon fails its
// probes and exits; one closed by the daemon's own stop is not.
func TestNATSClosedForGood(t *testing.T) {
	t.Parallel()
	d := &daemon{}
	if err := d.closed(); err != nil {
		t.Errorf("closed before anything happened: %v", err)
	}
	d.natsClosed(errors.New("nats: maximum control line exceeded"))
	if err := d.closed(); err == nil || !strings.Contains(err.Error(), "maximum control line exceeded") || !strings.Contains(err.Error(), "orchestrator restarts") {
		t.Errorf("closed = %v, want nats.go's reason and the restart", err)
	}
	stopping := &daemon{}
	stopping.stopping.Store(true)
	stopping.natsClosed(nil)
	if err := stopping.closed(); err != nil {
		t.Errorf("a close while stopping counts: %v", err)
	}
}
