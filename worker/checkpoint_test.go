package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/sinks/natstest"
	"github.com/alertexport/alertexport/sources"
)

// runJetStream starts a real server on a random port with its store in a temporary directory.
func runJetStream(t testing.TB) (*server.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := natstest.Start(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return s, nc, js
}

func stores(t *testing.T) map[string]Store {
	t.Helper()
	_, _, js := runJetStream(t)
	kv, err := NewKVStore(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := NewFileStore(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"kv": kv, "file": fs}
}

// TestStores: both stores round-trip a checkpoint and refuse a write from a stale revision.
func TestStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cp, rev, err := st.Load(ctx, "contoso.endpoint")
			if err != nil || rev != 0 || !cp.Cursor.IsZero() {
				t.Fatalf("fresh Load = %+v, %d, %v", cp, rev, err)
			}
			at := time.Date(2026, 11, 23, 10, 0, 0, 123456700, time.UTC)
			want := sources.Checkpoint{Cursor: at, Origin: at.Add(-24 * time.Hour), Seen: sources.Seen{"da1_2": {at.UnixNano()}}}
			rev1, err := st.Save(ctx, "contoso.endpoint", &want, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, rev, err := st.Load(ctx, "contoso.endpoint")
			if err != nil || rev != rev1 || !got.Cursor.Equal(want.Cursor) || !got.Seen.Has("da1_2", at) {
				t.Fatalf("Load = %+v, %d, %v; want %+v at %d", got, rev, err, want, rev1)
			}
			if _, err := st.Save(ctx, "contoso.endpoint", &want, 0); !errors.Is(err, ErrConflict) {
				t.Errorf("a second first save = %v, want ErrConflict", err)
			}
			rev2, err := st.Save(ctx, "contoso.endpoint", &want, rev1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Save(ctx, "contoso.endpoint", &want, rev1); !errors.Is(err, ErrConflict) {
				t.Errorf("a save from a stale revision = %v, want ErrConflict", err)
			}
			if rev2 == rev1 {
				t.Error("the revision did not move")
			}
			if _, rev, _ := st.Load(ctx, "other.endpoint"); rev != 0 {
				t.Error("keys are not separate")
			}
		})
	}
}

// TestFileStoreFiles: saves leave no temporary files, and a corrupt file says what to do.
func TestFileStoreFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	fs, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rev := uint64(0)
	for range 3 {
		if rev, err = fs.Save(ctx, "contoso.endpoint", &sources.Checkpoint{Cursor: time.Now()}, rev); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "contoso.endpoint.json" {
		t.Errorf("state directory holds %v, want only contoso.endpoint.json", entries)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.endpoint.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fs.Load(ctx, "bad.endpoint"); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("corrupt checkpoint: %v, want a message saying what to do", err)
	}
}
