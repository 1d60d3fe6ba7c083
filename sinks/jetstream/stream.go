package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"
)

// apiTimeout bounds one JetStream API call, so that a call made just before a disconnect is
// retried rather than waited on.
const apiTimeout = 10 * time.Second

// lookupTimeout bounds one look at the stream.
const lookupTimeout = 2 * time.Second

// ensureStream creates the stream, or updates the keys alertexport owns (subjects,
// duplicate_window, max_age, file storage, and replicas when nats.replicas is set) on an
// existing one and keeps what an operator set (replicas when the key is absent, byte limits,
// placement…): CreateOrUpdateStream with a fresh config would reset those. Transient failures
// (timeouts, a disconnect, a cluster electing its leader, a node offline) are retried until
// ctx ends; a refusal is explained.
func (s *Sink) ensureStream(ctx context.Context) error {
	delay := backoff{}
	for {
		existing, err := s.tryEnsureStream(ctx)
		if err == nil {
			return nil
		}
		if !transientAPIErr(err) {
			return s.streamError(ctx, err, existing)
		}
		s.log.Warn("cannot set up the stream yet; retrying", "stream", s.want.Name, "err", err)
		if werr := delay.wait(ctx); werr != nil {
			return fmt.Errorf("jetstream: stream %q not set up: %w (last attempt: %v)", s.want.Name, werr, err)
		}
	}
}

// tryEnsureStream makes one attempt; it returns the existing stream's config, if any.
func (s *Sink) tryEnsureStream(ctx context.Context) (*js.StreamConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var existing *js.StreamConfig
	// A look alone gets less time: on a cluster, a stream just created (by another replica)
	// drops requests until its group has a leader, and asking again is what gets an answer.
	lctx, lcancel := context.WithTimeout(ctx, lookupTimeout)
	st, err := s.js.Stream(lctx, s.want.Name)
	lcancel()
	switch {
	case errors.Is(err, js.ErrStreamNotFound):
	case err != nil:
		return nil, err
	default:
		c := st.CachedInfo().Config
		existing = &c
	}
	cfg := s.want
	if existing != nil {
		covered := !slices.ContainsFunc(cfg.Subjects, func(subj string) bool { return !slices.Contains(existing.Subjects, subj) })
		rescale := s.replicas != 0 && existing.Replicas != s.replicas
		others := !covered || existing.Duplicates != cfg.Duplicates || existing.MaxAge != cfg.MaxAge || existing.Storage != cfg.Storage ||
			cfg.MaxBytes != 0 && existing.MaxBytes != cfg.MaxBytes
		if !rescale && !others {
			s.maxMsgSize.Store(int64(existing.MaxMsgSize))
			return existing, nil // nothing to change: no update right needed
		}
		// Keep what an operator set, subjects included: add ours to theirs.
		subjects := slices.Clone(existing.Subjects)
		for _, subj := range cfg.Subjects {
			if !slices.Contains(subjects, subj) {
				subjects = append(subjects, subj)
			}
		}
		maxBytes := existing.MaxBytes
		if cfg.MaxBytes > 0 {
			maxBytes = cfg.MaxBytes
		}
		cfg = *existing
		cfg.Subjects, cfg.Duplicates, cfg.MaxAge, cfg.Storage, cfg.MaxBytes = subjects, s.want.Duplicates, s.want.MaxAge, s.want.Storage, maxBytes
		if rescale {
			cfg.Replicas = s.replicas
		}
		if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
			return existing, err
		}
		if others {
			s.log.Info("updated the stream", "stream", cfg.Name, "subjects", cfg.Subjects,
				"duplicate_window", cfg.Duplicates.String(), "max_age", cfg.MaxAge.String(),
				"was", fmt.Sprintf("subjects %v, duplicate_window %s, max_age %s, %s storage", existing.Subjects, existing.Duplicates, existing.MaxAge, existing.Storage))
		}
		if rescale {
			s.log.Info("updated the stream's replicas", "stream", cfg.Name, "from", existing.Replicas, "to", cfg.Replicas)
		}
	} else {
		cfg.Replicas = max(s.replicas, 1)
		if _, err := s.js.CreateStream(ctx, cfg); err != nil {
			return nil, err
		}
		s.log.Info("created the stream", "stream", cfg.Name, "subjects", cfg.Subjects, "duplicate_window", cfg.Duplicates.String(),
			"max_age", cfg.MaxAge.String(), "replicas", cfg.Replicas)
	}
	s.maxMsgSize.Store(int64(cfg.MaxMsgSize)) // an operator's, kept on an update
	return existing, nil
}

// ReplicasRefused explains err when the server refused a stream or KV bucket of replicas
// replicas (nats.replicas) because too few JetStream nodes can hold them, and returns nil for
// any other error. A server outside a cluster is one node; in a cluster the server says only
// that it found no room ("no suitable peers for placement"), not how many nodes it has.
func ReplicasRefused(err error, replicas int) error {
	var api *js.APIError
	if replicas <= 1 || !errors.As(err, &api) {
		return nil
	}
	switch {
	case api.ErrorCode == 10074: // replicas > 1 not supported in non-clustered mode
		return fmt.Errorf("nats.replicas = %d, but the NATS server has 1 JetStream node (a server not in a cluster) (%w): "+
			"remove nats.replicas (or set it to 1), or connect to a JetStream cluster of at least %d nodes", replicas, api, replicas)
	case api.ErrorCode == 10005 && !strings.Contains(api.Description, "peer offline"), api.ErrorCode == 10023:
		return fmt.Errorf("nats.replicas = %d, but fewer than %d JetStream nodes of the cluster can hold a replica (%w): "+
			"lower nats.replicas to at most the cluster's JetStream node count, or add nodes", replicas, replicas, api)
	}
	return nil
}

// peerOffline reports whether the server found too few nodes because some are offline: one
// coming back may fix it.
func peerOffline(err error) bool {
	var api *js.APIError
	return errors.As(err, &api) && api.ErrorCode == 10005 && strings.Contains(api.Description, "peer offline")
}

// transientAPIErr reports whether a JetStream API call may succeed if simply retried.
func transientAPIErr(err error) bool {
	var api *js.APIError
	if errors.Is(err, js.ErrStreamNotFound) {
		return true // deleted since we looked: create it
	}
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case 10008, 10009, 10004: // cluster temporarily unavailable, not the leader, incomplete
			return true
		case js.JSErrCodeStreamNameInUse: // created concurrently by another replica: look again
			return true
		}
		return peerOffline(err) // a node coming back makes room
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// streamError says which stream, what conflicts and what to do.
func (s *Sink) streamError(ctx context.Context, err error, existing *js.StreamConfig) error {
	w := s.want
	prefix := fmt.Sprintf("jetstream: stream %q (subjects %s, file storage, duplicate_window %s, max_age %s)",
		w.Name, strings.Join(w.Subjects, " "), w.Duplicates, w.MaxAge)
	var api *js.APIError
	switch {
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, js.ErrJetStreamNotEnabled) ||
		errors.Is(err, js.ErrJetStreamNotEnabledForAccount) ||
		errors.As(err, &api) && (api.ErrorCode == js.JSErrCodeJetStreamNotEnabled || api.ErrorCode == js.JSErrCodeJetStreamNotEnabledForAccount):
		return fmt.Errorf("%s: the NATS server has no JetStream for this account (%w); enable it on the server "+
			"(a jetstream {} block, and jetstream: enabled for the account), or set nats.mode = \"core\" (at-most-once, no deduplication)", prefix, err)
	case !errors.As(err, &api):
		return fmt.Errorf("%s cannot be created or updated: %w", prefix, err)
	}
	if rerr := ReplicasRefused(err, s.replicas); rerr != nil {
		return fmt.Errorf("jetstream: stream %q: %w", w.Name, rerr)
	}
	var what, fix string
	switch {
	case existing != nil && existing.Storage != js.FileStorage:
		what = fmt.Sprintf("it exists with %s storage, and a stream's storage cannot change", existing.Storage)
		fix = fmt.Sprintf("alertexport keeps alerts on file storage: copy what you need from it, then delete it (nats stream rm %s), or set nats.stream to another name", w.Name)
	case api.ErrorCode == 10065: // subjects overlap with an existing stream
		what = "another stream already binds some of these subjects" + s.overlapping(ctx)
		fix = "change nats.subject (or that stream's subjects) so that they do not overlap, or set nats.stream to the stream that already holds them"
	case w.Duplicates > w.MaxAge:
		what = fmt.Sprintf("nats.duplicate_window %s is longer than nats.max_age %s", w.Duplicates, w.MaxAge)
		fix = "set nats.duplicate_window to at most nats.max_age"
	case api.ErrorCode == 10047 || api.ErrorCode == 10002: // storage or account resources exceeded
		what = "the server (or the account) has no room left for it"
		fix = "raise the JetStream max_file_store / account limits, or lower nats.max_age"
	default:
		what = "the server refused the configuration"
		fix = fmt.Sprintf("compare with `nats stream info %s`, fix the conflict on the server or set nats.stream to another name", w.Name)
	}
	return fmt.Errorf("%s: %s (%w); %s", prefix, what, api, fix)
}

// overlapping names the streams that already bind one of our subjects, best effort.
func (s *Sink) overlapping(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var names []string
	for _, subj := range s.want.Subjects {
		l := s.js.StreamNames(ctx, js.WithStreamListSubject(subj))
		for n := range l.Name() {
			if n != s.want.Name && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (stream %s)", strings.Join(names, ", "))
}

// backoff paces retries: 100 ms doubling to 5 s.
type backoff struct{ d time.Duration }

func (b *backoff) reset() { b.d = 0 }

// wait sleeps the next delay, or until ctx ends.
func (b *backoff) wait(ctx context.Context) error {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 5*time.Second:
		b.d = min(2*b.d, 5*time.Second)
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
