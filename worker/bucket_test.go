package worker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/internal/testutil"
	jssink "github.com/alertexport/alertexport/sinks/jetstream"
	"github.com/alertexport/alertexport/sinks/natstest"
)

// bucketConfig is the stream config of bucket's KV stream.
func bucketConfig(t *testing.T, js jetstream.JetStream, bucket string) jetstream.StreamConfig {
	t.Helper()
	st, err := js.Stream(t.Context(), "KV_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().Config
}

// TestBucketReplicas: on a three-node cluster both buckets are created with nats.replicas,
// rescaled to it (one log line each) and, with the key absent, keep an operator's count and
// settings; the lease bucket's TTL follows lease_ttl on an existing bucket.
func TestBucketReplicas(t *testing.T) {
	nodes := natstest.Cluster(t, 3)
	nc, err := nats.Connect(natstest.ClientURL(nodes))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T, replicas int, ttl time.Duration, log *testutil.SyncBuffer) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		l := slog.New(slog.NewTextHandler(log, nil))
		if _, err := NewKVStore(ctx, js, replicas, l); err != nil {
			t.Fatal(err)
		}
		if _, err := NewLeases(ctx, js, "a", ttl, replicas, l); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, want int) {
		t.Helper()
		for _, b := range []string{StateBucket, LeaseBucket} {
			if got := bucketConfig(t, js, b).Replicas; got != want {
				t.Errorf("bucket %s: %d replicas, want %d", b, got, want)
			}
		}
	}
	reset := func(t *testing.T) {
		t.Helper()
		for _, b := range []string{StateBucket, LeaseBucket} {
			if err := js.DeleteKeyValue(t.Context(), b); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
				t.Fatal(err)
			}
		}
	}

	t.Run("created with 3", func(t *testing.T) {
		reset(t)
		var log testutil.SyncBuffer
		open(t, 3, time.Second, &log)
		check(t, 3)
		if n := strings.Count(log.String(), "created the KV bucket"); n != 2 {
			t.Errorf("%d creations logged, want 2:\n%s", n, log.String())
		}
	})
	t.Run("R1 buckets updated to 3", func(t *testing.T) {
		reset(t)
		open(t, 0, time.Second, &testutil.SyncBuffer{})
		check(t, 1)
		var log testutil.SyncBuffer
		open(t, 3, time.Second, &log)
		check(t, 3)
		for _, b := range []string{StateBucket, LeaseBucket} {
			line := `msg="updated the KV bucket's replicas" bucket=` + b + " from=1 to=3"
			if n := strings.Count(log.String(), line); n != 1 {
				t.Errorf("%d lines %q, want 1:\n%s", n, line, log.String())
			}
		}
		if strings.Contains(log.String(), `msg="updated the KV bucket"`) {
			t.Errorf("other settings updated too:\n%s", log.String())
		}
		var again testutil.SyncBuffer
		open(t, 3, time.Second, &again)
		if again.String() != "" {
			t.Errorf("a second start logged:\n%s", again.String())
		}
	})
	t.Run("key absent keeps an operator's replicas and limits", func(t *testing.T) {
		reset(t)
		// Created by hand, as an operator would with `nats kv add --replicas 3 --max-bytes`.
		for _, b := range []string{StateBucket, LeaseBucket} {
			if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: b, Replicas: 3, MaxBytes: 1 << 20, Storage: jetstream.FileStorage}); err != nil {
				t.Fatal(err)
			}
		}
		open(t, 0, time.Second, &testutil.SyncBuffer{})
		check(t, 3)
		for _, b := range []string{StateBucket, LeaseBucket} {
			if got := bucketConfig(t, js, b).MaxBytes; got != 1<<20 {
				t.Errorf("bucket %s: max_bytes %d, want the operator's %d", b, got, 1<<20)
			}
		}
	})
	t.Run("lease TTL follows lease_ttl", func(t *testing.T) {
		reset(t)
		open(t, 3, time.Second, &testutil.SyncBuffer{})
		var log testutil.SyncBuffer
		open(t, 0, 3*time.Second, &log)
		cfg := bucketConfig(t, js, LeaseBucket)
		if cfg.MaxAge != 3*time.Second || cfg.Replicas != 3 {
			t.Errorf("lease bucket: ttl %s, %d replicas; want 3s and 3", cfg.MaxAge, cfg.Replicas)
		}
		if !strings.Contains(log.String(), `msg="updated the KV bucket" bucket=`+LeaseBucket) {
			t.Errorf("TTL change not logged:\n%s", log.String())
		}
	})
}

// TestBucketReplicasOnASingleServer: replicas 3 on a server outside a cluster is refused at
// once, and the refusal is recognised as one (the daemon then stops, naming both numbers).
func TestBucketReplicasOnASingleServer(t *testing.T) {
	_, _, js := runJetStream(t)
	for name, open := range map[string]func(context.Context) error{
		StateBucket: func(ctx context.Context) error { _, err := NewKVStore(ctx, js, 3, nil); return err },
		LeaseBucket: func(ctx context.Context) error { _, err := NewLeases(ctx, js, "a", time.Second, 3, nil); return err },
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := open(ctx)
		cancel()
		rerr := jssink.ReplicasRefused(err, 3)
		if rerr == nil || !strings.Contains(rerr.Error(), "nats.replicas = 3, but the NATS server has 1 JetStream node") {
			t.Errorf("%s: err = %v, explained as %v", name, err, rerr)
		}
	}
}
