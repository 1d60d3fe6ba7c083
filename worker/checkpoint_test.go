package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
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
	kv, err := NewKVStore(context.Background(), js, 0, nil)
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

// TestLargeCheckpointIsCompressed: a burst of 30,000 versions inside the lookback makes a
// checkpoint of 1.6 MB as JSON, over a server's default max_payload of 1 MiB, which stalled the
// job (every poll failed to save it, and read it all again). It is stored compressed and read
// back whole; a small one stays plain JSON, for `nats kv get`.
func TestLargeCheckpointIsCompressed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, nc, js := runJetStream(t)
	if nc.MaxPayload() != 1<<20 {
		t.Fatalf("max_payload = %d, want the default 1 MiB", nc.MaxPayload())
	}
	st, err := NewKVStore(ctx, js, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	big := sources.Checkpoint{Cursor: at, Seen: sources.Seen{}}
	for i := range 30_000 {
		big.Seen.Add(fmt.Sprintf("da6386%014d_%d", i*7919, 1364969609+i), at.Add(-time.Duration(i)*20*time.Millisecond))
	}
	if data, _ := json.Marshal(big); len(data) <= 1<<20 {
		t.Fatalf("the checkpoint is %d bytes as JSON; the test wants one over max_payload", len(data))
	}
	rev, err := st.Save(ctx, "contoso.endpoint", &big, 0)
	if err != nil {
		t.Fatalf("saving a checkpoint of 30,000 versions: %v", err)
	}
	got, grev, err := st.Load(ctx, "contoso.endpoint")
	if err != nil || grev != rev || got.Seen.Len() != 30_000 || !got.Cursor.Equal(at) {
		t.Fatalf("Load = %d versions, cursor %v, revision %d, %v; want 30000, %v, %d", got.Seen.Len(), got.Cursor, grev, err, at, rev)
	}

	small := sources.Checkpoint{Cursor: at, Seen: sources.Seen{"da1_2": {at.UnixNano()}}}
	if _, err := st.Save(ctx, "contoso.cloudapps", &small, 0); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "contoso.cloudapps")
	if err != nil || !json.Valid(e.Value()) {
		t.Errorf("a small checkpoint is not plain JSON: %q, %v", e.Value(), err)
	}
}

// BenchmarkKVSaveCheckpoint saves a checkpoint of 1,000 and 30,000 versions (a burst inside the
// lookback) to a real server, reporting its size as JSON and as stored.
func BenchmarkKVSaveCheckpoint(b *testing.B) {
	for _, n := range []int{1_000, 30_000} {
		b.Run(fmt.Sprintf("versions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			_, _, js := runJetStream(b)
			st, err := NewKVStore(ctx, js, 0, nil)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			cp := sources.Checkpoint{Cursor: at, Seen: sources.Seen{}}
			for i := range n {
				cp.Seen.Add(fmt.Sprintf("da6386%014d_%d", i*7919, 1364969609+i), at.Add(-time.Duration(i)*20*time.Millisecond))
			}
			plain, _ := json.Marshal(cp)
			var rev uint64
			for b.Loop() {
				if rev, err = st.Save(ctx, "contoso.endpoint", &cp, rev); err != nil {
					b.Fatal(err)
				}
			}
			kv, _ := js.KeyValue(ctx, StateBucket)
			e, _ := kv.Get(ctx, "contoso.endpoint")
			b.ReportMetric(float64(len(plain)), "json-bytes")
			b.ReportMetric(float64(len(e.Value())), "stored-bytes")
		})
	}
}

// TestCompressedCheckpointBomb: a value in the bucket written by someone else — a zstd frame
// of a few KB that declares no size and decodes to 256 MiB — is refused with what to do,
// before the decoder grows its output (it reached 890 MiB of heap before the limit stopped it).
func TestCompressedCheckpointBomb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, js := runJetStream(t)
	st, err := NewKVStore(ctx, js, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bomb bytes.Buffer
	w, err := zstd.NewWriter(&bomb) // a stream: no size in its frame header
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range 256 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "contoso.endpoint", bomb.Bytes()); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = st.Load(ctx, "contoso.endpoint")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "nats kv del") {
		t.Errorf("Load = %v, want a refusal that says what to do", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("Load allocated %d MiB for a %d KB value", grew>>20, bomb.Len()>>10)
	}
}
