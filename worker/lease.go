package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseBucket is the KV bucket of the job leases (docs/replicas.md).
const LeaseBucket = "alertexport_leases"

// DefaultLeaseTTL is how long a lease outlives its holder: another replica takes the job over
// within it (plus one interval).
const DefaultLeaseTTL = 30 * time.Second

// errLostLease stops a poll whose replica no longer holds the job.
var errLostLease = errors.New("this replica lost the job's lease; another replica runs it now")

// Leases lets several replicas share the jobs (docs/replicas.md), with nats.go's KeyValue: a
// lease is a key in a bucket whose TTL expires it unless its holder renews it (Update with the
// revision it holds) well inside the TTL; acquiring is Create, which fails while another holds
// it; releasing is a revision-checked Delete. A holder that paused past the TTL finds its
// revision gone on the next renewal and stops. A lease held under this replica's own name by a
// previous run of it is taken back at once (takeBack).
//
// A lease's value, and a presence key's, is "<replica> <run>": the replica's name, the same
// across its restarts (Identity), and this process's run, a random id of its own.
type Leases struct {
	kv      jetstream.KeyValue
	replica string
	run     string
	ttl     time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	renewing  map[string]*sync.Mutex // per key: see renew
	held      map[string]*lease
	jobs      int       // how many jobs there are to share
	announced time.Time // when this replica last said it is alive
	twin      bool      // another live process uses this replica's name: take nothing back
}

// presencePrefix marks the keys by which replicas say they are alive ('=' cannot occur in a
// tenant name, so these never clash with a job's key).
const presencePrefix = "=replica."

type lease struct {
	rev uint64
	// until is when this replica stops trusting the lease by its own clock: the TTL from
	// before the request that took or renewed it, less a margin. A replica frozen (SIGSTOP,
	// a VM pause) past it finds it expired before its next page or checkpoint, even before
	// its renewal learns that another replica took over.
	until  time.Time
	cancel context.CancelCauseFunc // of the poll running under it, if any
}

// validUntil is how long a lease taken or renewed by a request sent at start is ours.
func (l *Leases) validUntil(start time.Time) time.Time {
	return start.Add(l.ttl - l.ttl/10)
}

// NewLeases opens (or creates) the lease bucket with the given TTL (an existing bucket's TTL
// follows it) and replicas (nats.replicas; 0 keeps an existing bucket's count, see
// ensureBucket). replica is this replica's name: never used by two live processes at once
// (Identity holds a lock for it), since a lease held under it is taken back at once.
func NewLeases(ctx context.Context, js jetstream.JetStream, replica string, ttl time.Duration, replicas int, log *slog.Logger) (*Leases, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := ensureBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      LeaseBucket,
		Description: "alertexport job leases: which replica runs which (tenant, source)",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
	}, replicas, log)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", LeaseBucket, err)
	}
	return &Leases{kv: kv, replica: replica, run: randomHex(8), ttl: ttl, log: log, held: map[string]*lease{}, renewing: map[string]*sync.Mutex{}}, nil
}

// value is what this process writes in its leases and presence key.
func (l *Leases) value() []byte { return []byte(l.replica + " " + l.run) }

// holder splits a lease's value into the replica and its run (a value without a run is one
// written before runs were recorded, by a replica named after its host and process).
func holder(v []byte) (replica, run string) {
	replica, run, _ = strings.Cut(string(v), " ")
	return replica, run
}

// SetJobs tells how many jobs the replicas share (the worker's job count).
func (l *Leases) SetJobs(n int) {
	l.mu.Lock()
	l.jobs = n
	l.mu.Unlock()
}

func (l *Leases) presenceKey() string {
	b := []byte(l.replica)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/') {
			b[i] = '_'
		}
	}
	return presencePrefix + string(b)
}

// announce says this replica is alive; the key expires with the bucket TTL unless repeated. Its
// name is the replica's, not the run's: a restarted replica renews the key of its previous run
// instead of counting twice in the shares.
func (l *Leases) announce(ctx context.Context) {
	l.mu.Lock()
	due := time.Since(l.announced) > l.ttl/3
	l.mu.Unlock()
	if !due {
		return
	}
	if _, err := l.kv.Put(ctx, l.presenceKey(), l.value()); err != nil {
		l.log.Debug("cannot announce this replica", "err", err)
		return
	}
	l.mu.Lock()
	l.announced = time.Now()
	l.mu.Unlock()
}

// share is this replica's fair share of the jobs: all of them divided by the replicas alive,
// rounded up (so the shares always cover every job).
func (l *Leases) share(ctx context.Context) int {
	l.mu.Lock()
	jobs := l.jobs
	l.mu.Unlock()
	if jobs == 0 {
		return 1 << 30
	}
	replicas := 0
	lister, err := l.kv.ListKeysFiltered(ctx, presencePrefix+">")
	if err == nil {
		for range lister.Keys() {
			replicas++
		}
		_ = lister.Stop()
	}
	replicas = max(replicas, 1)
	return (jobs + replicas - 1) / replicas
}

// Acquire makes sure this replica holds key's lease: it renews a lease it holds, or takes a
// free one. false: another replica holds it (or this one just lost it).
func (l *Leases) Acquire(ctx context.Context, key string) (bool, error) {
	l.mu.Lock()
	_, ok := l.held[key]
	l.mu.Unlock()
	if ok {
		return l.renew(ctx, key)
	}
	// Jobs spread over the replicas: take a free one only below this replica's fair share.
	l.announce(ctx)
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	if n >= l.share(ctx) {
		return false, nil
	}
	start := time.Now()
	rev, err := l.kv.Create(ctx, key, l.value())
	msg, prev := "took the job's lease", ""
	if errors.Is(err, jetstream.ErrKeyExists) {
		start = time.Now()
		rev, prev, err = l.takeBack(ctx, key)
		if err == nil && rev == 0 {
			return false, nil // another replica holds it
		}
		if prev != l.run {
			msg = "took back the job's lease from this replica's previous run"
		}
	}
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	l.mu.Lock()
	l.held[key] = &lease{rev: rev, until: l.validUntil(start)}
	l.mu.Unlock()
	args := []any{"job", key, "replica", l.replica}
	if prev != "" && prev != l.run {
		args = append(args, "previous_run", prev)
	}
	l.log.Info(msg, args...)
	return true, nil
}

// takeBack takes over key's lease if it is held under this replica's name, returning the new
// revision and the run that held it; revision 0: another replica holds it (or it changed
// meanwhile), which is waited out as ever.
//
// Why this is safe: the name is this replica's alone while this process lives (Identity's
// lock), so a lease under it was written by a previous run of this replica — dead, since the
// lock was free — or by this process itself (a renewal whose answer was lost, a give-back whose
// Delete failed). Nothing polls under it any more. The takeover is an Update on the revision
// read, never a Put: if anything wrote the key after the read — a renewal the previous run had
// in flight when it died, or the lease expiring and another replica creating it — the Update
// fails and nothing is taken; the next tick looks again. A renewal in flight that arrives after
// the takeover carries an older revision and fails in turn. A checkpoint save the previous run
// had in flight is harmless too: it was written only after its messages were acknowledged, and
// saves are compare-and-set on the checkpoint's revision, so if it lands after this replica
// loaded the checkpoint, this replica's save fails and its next poll starts over from the newer
// one (whatever was published twice meanwhile, JetStream drops by Nats-Msg-Id).
func (l *Leases) takeBack(ctx context.Context, key string) (uint64, string, error) {
	l.mu.Lock()
	twin := l.twin
	l.mu.Unlock()
	if twin {
		return 0, "", nil
	}
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, "", nil // expired meanwhile: the next tick creates it
	}
	if err != nil {
		return 0, "", err
	}
	replica, run := holder(e.Value())
	if replica != l.replica {
		return 0, "", nil
	}
	rev, err := l.kv.Update(ctx, key, l.value(), e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	return rev, run, nil
}

// checkTwin looks at who took a lease this process lost. Its own name under another run means
// another live process uses this replica's identity (a data_dir copied to another host, or its
// lock file removed): the two would take each job back from each other forever, so this one
// stops taking leases back and says what to fix.
func (l *Leases) checkTwin(ctx context.Context, key string) {
	e, err := l.kv.Get(ctx, key)
	if err != nil {
		return
	}
	replica, run := holder(e.Value())
	if replica != l.replica || run == l.run {
		return
	}
	l.mu.Lock()
	seen := l.twin
	l.twin = true
	l.mu.Unlock()
	if !seen {
		l.log.Error("another live process uses this replica's identity (a copied data_dir?); this one no longer takes leases back at restart: give each replica a data_dir of its own, or delete the replica-id file in the copy's data_dir",
			"job", key, "replica", l.replica, "other_run", run)
	}
}

// renew extends a held lease; losing it cancels the poll running under it.
func (l *Leases) renew(ctx context.Context, key string) (bool, error) {
	// One renewal of a key at a time: a poll's Acquire and the Renew loop renewing from the
	// same revision would see one of them refused and drop a lease still held.
	l.mu.Lock()
	one, ok := l.renewing[key]
	if !ok {
		one = &sync.Mutex{}
		l.renewing[key] = one
	}
	l.mu.Unlock()
	one.Lock()
	defer one.Unlock()
	l.mu.Lock()
	cur, ok := l.held[key]
	var rev uint64
	if ok {
		rev = cur.rev
	}
	l.mu.Unlock()
	if !ok {
		return false, nil // lost meanwhile
	}
	start := time.Now()
	next, err := l.kv.Update(ctx, key, l.value(), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		l.lose(key)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			l.checkTwin(ctx, key)
		}
		return false, nil
	}
	if err != nil {
		// Still ours until the TTL says otherwise (Held watches the clock).
		return l.Held(key), fmt.Errorf("lease %s: %w", key, err)
	}
	l.mu.Lock()
	if cur, ok := l.held[key]; ok {
		cur.rev, cur.until = next, l.validUntil(start)
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

// Held reports whether this replica holds key's lease, renewed recently enough that no other
// replica can have taken it.
func (l *Leases) Held(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.held[key]
	return ok && time.Now().Before(cur.until)
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
		l.announce(ctx)
		l.shed(ctx)
		l.mu.Lock()
		keys := slices.Collect(maps.Keys(l.held))
		l.mu.Unlock()
		for _, k := range keys {
			rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			if _, err := l.renew(rctx, k); err != nil {
				l.log.Warn("cannot renew the job's lease; retrying", "job", k, "err", err)
			}
			cancel()
		}
	}
}

// shed gives back one idle lease when this replica holds more than its share (a replica has
// joined), so that the jobs spread out one renewal period at a time.
func (l *Leases) shed(ctx context.Context) {
	share := l.share(ctx)
	l.mu.Lock()
	if len(l.held) <= share {
		l.mu.Unlock()
		return
	}
	var key string
	var rev uint64
	now := time.Now()
	for k, v := range l.held {
		// Idle, and still valid: a lease past its TTL (this process was frozen, or its
		// renewals failed) may be another replica's by now, which the renewal finds out and
		// reports as lost.
		if v.cancel == nil && now.Before(v.until) {
			key, rev = k, v.rev
			break
		}
	}
	if key != "" {
		delete(l.held, key)
	}
	l.mu.Unlock()
	if key == "" {
		return
	}
	if err := l.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("lease not given back (it expires by itself)", "job", key, "err", err)
		return
	}
	l.log.Info("gave a job's lease back: another replica has joined", "job", key, "replica", l.replica, "share", share)
}

// unguard forgets the poll that ran under key's lease.
func (l *Leases) unguard(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.held[key]; ok {
		cur.cancel = nil
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
