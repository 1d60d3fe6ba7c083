package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JobStatus is what the job's lease holder last recorded of its polls, for `alertexport status`.
// It is informational: nothing reads it to decide anything, and losing it loses no alert.
type JobStatus struct {
	Replica      string    `json:"replica,omitempty"` // the replica that wrote it
	LastPoll     time.Time `json:"last_poll,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	LastError    string    `json:"last_error,omitempty"` // one short line, as /readyz gives it
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"` // zero once a poll succeeded
}

// StatusStore keeps each job's JobStatus beside its checkpoint. KVStore and FileStore are
// StatusStores; a Store that is not one simply keeps no status.
type StatusStore interface {
	// LoadStatus returns key's status; ok is false when none was ever saved.
	LoadStatus(ctx context.Context, key string) (st JobStatus, ok bool, err error)
	// SaveStatus overwrites key's status (last writer wins: only the lease holder writes).
	SaveStatus(ctx context.Context, key string, st JobStatus) error
}

// statusKey is where key's status is kept: a key no job can have, since no source is named
// "status".
func statusKey(key string) string { return key + ".status" }

// IsStatusKey reports whether a key of the state bucket (or a state file's name without .json)
// is a status record rather than a checkpoint.
func IsStatusKey(key string) bool { return strings.HasSuffix(key, ".status") }

// LoadStatus implements StatusStore.
func (s *KVStore) LoadStatus(ctx context.Context, key string) (JobStatus, bool, error) {
	e, err := s.kv.Get(ctx, statusKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return JobStatus{}, false, nil
	}
	if err != nil {
		return JobStatus{}, false, fmt.Errorf("status %s: %w", statusKey(key), err)
	}
	var st JobStatus
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return JobStatus{}, false, fmt.Errorf("status %s (revision %d) is not valid JSON: %w", statusKey(key), e.Revision(), err)
	}
	return st, true, nil
}

// SaveStatus implements StatusStore.
func (s *KVStore) SaveStatus(ctx context.Context, key string, st JobStatus) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, statusKey(key), data); err != nil {
		return fmt.Errorf("status %s: %w", statusKey(key), err)
	}
	return nil
}

// LoadStatus implements StatusStore.
func (s *FileStore) LoadStatus(_ context.Context, key string) (JobStatus, bool, error) {
	path := s.path(statusKey(key))
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return JobStatus{}, false, nil
	}
	if err != nil {
		return JobStatus{}, false, fmt.Errorf("status: %w", err)
	}
	var st JobStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return JobStatus{}, false, fmt.Errorf("status %s is not valid JSON: %w", path, err)
	}
	return st, true, nil
}

// SaveStatus implements StatusStore, with the checkpoint's atomic write: a reader never sees
// half a file.
func (s *FileStore) SaveStatus(_ context.Context, key string, st JobStatus) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path(statusKey(key)), data); err != nil {
		return fmt.Errorf("status %s: %w", statusKey(key), err)
	}
	return nil
}

// OpenKVStore opens the existing state bucket for reading, creating nothing (status reads
// through it). A bucket that does not exist is jetstream.ErrBucketNotFound.
func OpenKVStore(ctx context.Context, js jetstream.JetStream) (*KVStore, error) {
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", StateBucket, err)
	}
	return newKVStore(kv)
}

// OpenFileStore reads the checkpoints in dir without creating it: a missing dir holds no
// checkpoint.
func OpenFileStore(dir string) *FileStore { return &FileStore{dir: dir} }

// LeaseHolder is the replica holding key's lease in the lease bucket kv, "" when none does
// (never taken, released, or expired).
func LeaseHolder(ctx context.Context, kv jetstream.KeyValue, key string) (string, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: %w", key, err)
	}
	replica, _ := holder(e.Value())
	return replica, nil
}

// statusWriteTimeout bounds a status write: it is informational, and a poll must not wait long
// on it.
const statusWriteTimeout = 3 * time.Second

// recordStatus writes j's status after a counted poll outcome (err nil: success). A failure to
// write is a warning only: the poll and its checkpoint stand either way.
func (w *Worker) recordStatus(ctx context.Context, j *job, at time.Time, err error) {
	if w.status == nil {
		return
	}
	if l := w.o.Leases; l != nil && !l.Held(j.Key()) {
		return // another replica runs the job now and writes its status
	}
	j.mu.Lock()
	st := j.status
	st.Replica, st.LastPoll = w.replica(), at
	if err == nil {
		st.LastSuccess, st.FailingSince = at, time.Time{}
	} else {
		st.LastError, st.LastErrorAt = shortReason(err), at
		if st.FailingSince.IsZero() { // else a previous run's failure goes on
			st.FailingSince = j.failingSince
		}
	}
	j.status = st
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	if err := w.status.SaveStatus(ctx, j.Key(), st); err != nil {
		w.log.Warn("cannot record the job's status (informational only; the export goes on)", "tenant", j.Tenant, "source", j.Source, "err", err)
	}
}

// loadStatus seeds j's status from the store, so that a restarted replica (or one taking the
// job over) keeps the last success and error another run recorded. It reads once per tenure:
// forgetStatus makes the next poll read again.
func (w *Worker) loadStatus(ctx context.Context, j *job) {
	j.mu.Lock()
	loaded := j.statusLoaded
	j.mu.Unlock()
	if w.status == nil || loaded {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statusWriteTimeout)
	defer cancel()
	st, _, err := w.status.LoadStatus(ctx, j.Key())
	if err != nil {
		w.log.Debug("cannot read the job's recorded status; starting a new one", "tenant", j.Tenant, "source", j.Source, "err", err)
	}
	j.mu.Lock()
	j.status, j.statusLoaded = st, true
	j.mu.Unlock()
}

func (w *Worker) replica() string {
	if w.o.Replica != "" {
		return w.o.Replica
	}
	if w.o.Leases != nil {
		return w.o.Leases.replica
	}
	return ""
}

// forgetStatus drops j's status kept in memory when another replica may write it meanwhile.
func (j *job) forgetStatus() {
	j.mu.Lock()
	j.status, j.statusLoaded = JobStatus{}, false
	j.mu.Unlock()
}
