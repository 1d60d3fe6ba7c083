package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ensureBucket opens the KV bucket want describes, creating it when missing with replicas
// replicas (1 when 0). An existing bucket gets what alertexport owns brought up to date (its
// description, history, TTL, file storage, and replicas when replicas is set) and keeps the rest
// as an operator set it (replicas when 0, byte limits, placement…): CreateOrUpdateKeyValue
// with a fresh config would reset all of that to the defaults on every start.
func ensureBucket(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig, replicas int, log *slog.Logger) (jetstream.KeyValue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stream := "KV_" + want.Bucket
	for attempt := 0; ; attempt++ {
		st, err := lookup(ctx, func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, stream) })
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			want.Replicas = max(replicas, 1)
			kv, err := js.CreateKeyValue(ctx, want)
			if errors.Is(err, jetstream.ErrBucketExists) && attempt == 0 {
				continue // another replica created it just now: update that one
			}
			if err != nil {
				return nil, err
			}
			log.Info("created the KV bucket", "bucket", want.Bucket, "replicas", want.Replicas)
			return kv, nil
		}
		if err != nil {
			return nil, err
		}
		have := st.CachedInfo().Config
		cfg := have
		cfg.Description = want.Description
		cfg.MaxMsgsPerSubject = max(int64(want.History), 1)
		cfg.Storage = want.Storage
		if have.MaxAge != want.TTL {
			cfg.MaxAge = want.TTL
			cfg.Duplicates = kvDuplicates(want.TTL)
		}
		rescale := replicas != 0 && have.Replicas != replicas
		if rescale {
			cfg.Replicas = replicas
		}
		others := cfg.Description != have.Description || cfg.MaxMsgsPerSubject != have.MaxMsgsPerSubject ||
			cfg.Storage != have.Storage || cfg.MaxAge != have.MaxAge
		if rescale || others {
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				return nil, err
			}
			if others {
				log.Info("updated the KV bucket", "bucket", want.Bucket, "history", cfg.MaxMsgsPerSubject, "ttl", cfg.MaxAge.String(),
					"was", fmt.Sprintf("history %d, ttl %s, %s storage", have.MaxMsgsPerSubject, have.MaxAge, have.Storage))
			}
			if rescale {
				log.Info("updated the KV bucket's replicas", "bucket", want.Bucket, "from", have.Replicas, "to", cfg.Replicas)
			}
		}
		return lookup(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, want.Bucket) })
	}
}

// lookupTimeout bounds one look at a bucket. On a cluster, a stream that has just been created
// (by another replica, say) answers nothing until its group has elected a leader, and the
// request is dropped rather than held: asked again, it is answered.
const lookupTimeout = 2 * time.Second

// lookup calls f with lookupTimeout, again while that runs out and ctx does not.
func lookup[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	for {
		c, cancel := context.WithTimeout(ctx, lookupTimeout)
		v, err := f(c)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return v, err
		}
	}
}

// kvDuplicates is the duplicate window nats.go gives a bucket of this TTL: 2 minutes, or the
// TTL when shorter (a stream's duplicate window cannot exceed its max age).
func kvDuplicates(ttl time.Duration) time.Duration {
	if ttl > 0 && ttl < 2*time.Minute {
		return ttl
	}
	return 2 * time.Minute
}
