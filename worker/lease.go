package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseBucket is the KV bucket of the job leases (SPEC §4).
const LeaseBucket = "alertexport_leases"

// DefaultLeaseTTL is how long a lease outlives its holder: another replica takes the job over
// within it (plus one interval).
const DefaultLeaseTTL = 30 * time.Second

// errLostLease stops a poll whose replica no longer holds the job.
var errLostLease = errors.New("this replica lost the job's lease; another replica runs it now")

// Leases lets several replicas share the jobs (research/libs.md §2.3, the recipe that works): a
// lease is a key in a bucket whose TTL expires it unless its holder renews it (Update with the
// revision it holds) well inside the TTL; acquiring is Create, which fails while another holds
// it; releasing is a revision-checked Delete. A holder that paused past the TTL finds its
// revision gone on the next renewal and stops.
type Leases struct {
	kv      jetstream.KeyValue
	replica string
	ttl     time.Duration
	log     *slog.Logger

	mu   sync.Mutex
	held map[string]*lease
}

type lease struct {
	rev    uint64
	cancel context.CancelCauseFunc // of the poll running under it, if any
}

// NewLeases opens (or creates) the lease bucket with the given TTL.
func NewLeases(ctx context.Context, js jetstream.JetStream, replica string, ttl time.Duration, log *slog.Logger) (*Leases, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LeaseBucket,
		Description: "alertexport job leases: which replica runs which (tenant, source)",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", LeaseBucket, err)
	}
	return &Leases{kv: kv, replica: replica, ttl: ttl, log: log, held: map[string]*lease{}}, nil
}

// Acquire makes sure this replica holds key's lease: it renews a lease it holds, or takes a
// free one. false: another replica holds it (or this one just lost it).
func (l *Leases) Acquire(ctx context.Context, key string) (bool, error) {
	l.mu.Lock()
	cur, ok := l.held[key]
	l.mu.Unlock()
	if ok {
		return l.renew(ctx, key, cur.rev)
	}
	rev, err := l.kv.Create(ctx, key, []byte(l.replica))
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	l.mu.Lock()
	l.held[key] = &lease{rev: rev}
	l.mu.Unlock()
	l.log.Info("took the job's lease", "job", key, "replica", l.replica)
	return true, nil
}

// renew extends a held lease; losing it cancels the poll running under it.
func (l *Leases) renew(ctx context.Context, key string, rev uint64) (bool, error) {
	next, err := l.kv.Update(ctx, key, []byte(l.replica), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		l.lose(key)
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("lease %s: %w", key, err) // still ours until the TTL says otherwise
	}
	l.mu.Lock()
	if cur, ok := l.held[key]; ok {
		cur.rev = next
	}
	l.mu.Unlock()
	return true, nil
}

func (l *Leases) lose(key string) {
	l.mu.Lock()
	cur, ok := l.held[key]
	delete(l.held, key)
	l.mu.Unlock()
	if ok {
		l.log.Warn("lost the job's lease; stopping it here", "job", key, "replica", l.replica)
		if cur.cancel != nil {
			cur.cancel(errLostLease)
		}
	}
}

// Held reports whether this replica holds key's lease.
func (l *Leases) Held(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[key]
	return ok
}

// guard registers the cancel of the poll running under key's lease.
func (l *Leases) guard(key string, cancel context.CancelCauseFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.held[key]; ok {
		cur.cancel = cancel
	}
}

// Renew keeps every held lease alive: run it every TTL/3 until ctx ends.
func (l *Leases) Renew(ctx context.Context) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		keys := make(map[string]uint64, len(l.held))
		for k, v := range l.held {
			keys[k] = v.rev
		}
		l.mu.Unlock()
		for k, rev := range keys {
			rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			if _, err := l.renew(rctx, k, rev); err != nil {
				l.log.Warn("cannot renew the job's lease; retrying", "job", k, "err", err)
			}
			cancel()
		}
	}
}

// ReleaseAll gives every held lease back (a clean stop), so another replica need not wait out
// the TTL.
func (l *Leases) ReleaseAll(ctx context.Context) {
	l.mu.Lock()
	held := l.held
	l.held = map[string]*lease{}
	l.mu.Unlock()
	for k, v := range held {
		if err := l.kv.Delete(ctx, k, jetstream.LastRevision(v.rev)); err != nil {
			l.log.Debug("lease not released (it expires by itself)", "job", k, "err", err)
		}
	}
}
