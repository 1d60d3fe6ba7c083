// Package jetstream is the at-least-once publisher (nats.mode = "jetstream"): every alert
// version goes to the stream with its Nats-Msg-Id, and Publish returns only once JetStream has
// acknowledged each one. A publish whose outcome is unknown (no ack in time, the connection
// dropped, no stream answered) may still have been stored, so it is republished with the same
// ID, and JetStream's duplicate window drops the repeat: the stream holds each version once.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// Defaults of Options.
const (
	DefaultAckTimeout = 10 * time.Second
	DefaultMaxPending = 1024
)

// Options tune a Sink; the zero value is the default.
type Options struct {
	Logger *slog.Logger
	// AckTimeout is how long a published message may wait for its ack before it is published
	// again (default 10 s).
	AckTimeout time.Duration
	// MaxAttempts bounds how many times one message is published before Publish gives up;
	// 0 keeps trying until ctx ends.
	MaxAttempts int
	// MaxPending bounds the messages awaiting their ack at once, across all Publish calls
	// (default 1024); a larger batch is published as acks come back.
	MaxPending int
	// MaxBytes, when > 0, caps the stream's size, dropping the oldest messages beyond it. The
	// embedded server needs it: its storage is bounded, and a stream that fills it refuses
	// every publish until max_age frees room.
	MaxBytes int64
}

// Sink publishes to one JetStream stream. It is safe for concurrent use.
type Sink struct {
	nc          *nats.Conn
	js          js.JetStream
	subjects    *sinks.Subjects
	want        js.StreamConfig
	log         *slog.Logger
	maxAttempts int
	// replicas is nats.replicas: 0 keeps an existing stream's count (1 for a new one).
	replicas int
	// maxMsgSize is the stream's max_msg_size as last seen (<= 0: none): with the server's
	// max_payload, the largest message the stream takes.
	maxMsgSize atomic.Int64
}

var _ sinks.Sink = (*Sink)(nil)

// New creates (or brings up to date) the stream cfg describes on nc's server and returns its
// publisher. It waits out transient failures until ctx ends; a configuration the server
// refuses is an error that says what conflicts and what to do.
func New(ctx context.Context, nc *nats.Conn, cfg config.NATS, o Options) (*Sink, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if cfg.Stream == "" || cfg.Subject == "" {
		return nil, errors.New("jetstream: nats.stream and nats.subject must be set")
	}
	j, err := js.New(nc,
		js.WithPublishAsyncMaxPending(o.MaxPending),
		// Without it a future whose ack is lost waits forever and holds a pending slot.
		js.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	subjects := sinks.NewSubjects(cfg.Subject)
	s := &Sink{
		nc:       nc,
		js:       j,
		subjects: subjects,
		want: js.StreamConfig{
			Name:       cfg.Stream,
			Subjects:   subjects.Stream(),
			Duplicates: cfg.DuplicateWindow,
			MaxAge:     cfg.MaxAge,
			Storage:    js.FileStorage,
			MaxBytes:   o.MaxBytes,
			Discard:    js.DiscardOld,
		},
		log:         o.Logger.With("component", "jetstream", "stream", cfg.Stream),
		maxAttempts: o.MaxAttempts,
		replicas:    cfg.Replicas,
	}
	if err := s.ensureStream(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// IsTransient reports whether a JetStream API error may go away by itself (a timeout, a
// disconnect, a cluster electing a leader), as opposed to a refusal that needs a change.
func IsTransient(err error) bool { return transientAPIErr(err) }

// JetStream is the JetStream context of the sink's connection, for the worker's KV buckets.
func (s *Sink) JetStream() js.JetStream { return s.js }

// Publish publishes msgs and returns once the stream has acknowledged every one. Failed and
// unknown outcomes are republished with the same Nats-Msg-Id until acknowledged, ctx ends or
// a message reaches MaxAttempts; while the connection is down it waits for the reconnect.
// A message larger than the server or the stream takes goes out as a dead letter (sinks.NewMsg).
// res[i].Duplicate is JetStream's verdict for msgs[i]: it already held that ID. A message
// republished here after a lost ack is not reported as one, since its first copy was stored.
func (s *Sink) Publish(ctx context.Context, msgs []sources.Message) ([]sinks.Result, error) {
	out := make([]*nats.Msg, len(msgs))
	limit := s.limit()
	for i := range msgs {
		m, err := sinks.NewMsg(s.subjects, &msgs[i], limit)
		if err != nil {
			return nil, fmt.Errorf("jetstream: message %d of the batch cannot be built: %w", i, err)
		}
		out[i] = m
	}
	b := &batch{Sink: s, msgs: msgs, out: out, dup: make([]bool, len(msgs)), attempts: make([]int, len(msgs))}
	if err := b.run(ctx); err != nil {
		return nil, err
	}
	res := make([]sinks.Result, len(msgs))
	for i := range res {
		res[i] = sinks.Result{Duplicate: b.dup[i], DeadLetter: out[i].Header.Get(envelope.HeaderError)}
	}
	return res, nil
}

// limit is the largest message the stream takes: the server's max_payload, or the stream's
// max_msg_size when that is smaller.
func (s *Sink) limit() sinks.Limit {
	l := sinks.Limit{Bytes: int(s.nc.MaxPayload()), By: "the server's max_payload"}
	if m := int(s.maxMsgSize.Load()); m > 0 && (l.Bytes <= 0 || m < l.Bytes) {
		l = sinks.Limit{Bytes: m, By: fmt.Sprintf("stream %s's max_msg_size", s.want.Name)}
	}
	return l
}

// refreshMaxMsgSize reads the stream's max_msg_size again (an operator may have lowered it
// since the start); on failure the last one seen stays.
func (s *Sink) refreshMaxMsgSize(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, s.want.Name)
	if err != nil {
		s.log.Warn("cannot read the stream's max_msg_size", "err", err)
		return
	}
	s.maxMsgSize.Store(int64(st.CachedInfo().Config.MaxMsgSize))
}

// batch is one Publish call's state.
type batch struct {
	*Sink
	msgs     []sources.Message
	out      []*nats.Msg
	dup      []bool
	attempts []int
	lastErr  error            // why the last unacknowledged message was not acknowledged
	closed   chan nats.Status // told when nats.go closes the connection for good
}

type sent struct {
	i int
	f js.PubAckFuture
}

func (b *batch) run(ctx context.Context) error {
	// A connection closed for good fails no pending ack future: without this, the batch would
	// wait out every ack timeout for nothing. (Registered before waitConnected looks.)
	b.closed = b.nc.StatusChanged(nats.CLOSED)
	defer b.nc.RemoveStatusListener(b.closed)
	todo := make([]int, len(b.msgs))
	for i := range todo {
		todo[i] = i
	}
	var delay backoff
	for round := 0; len(todo) > 0; round++ {
		if round > 0 {
			b.log.Warn("republishing messages whose ack did not come", "messages", len(todo), "of", len(b.msgs), "err", b.lastErr)
		}
		waited, err := b.waitConnected(ctx)
		if err != nil {
			return b.fail(todo, err)
		}
		if waited {
			delay.reset() // the failures were the outage's, not a reason to wait longer
		}
		pending, retry, err := b.send(ctx, todo)
		if err != nil {
			return err
		}
		acked, failed, err := b.await(ctx, pending)
		if err != nil {
			return err
		}
		todo = append(retry, failed...)
		slices.Sort(todo)
		if len(todo) == 0 {
			break
		}
		if errors.Is(b.lastErr, js.ErrNoStreamResponse) {
			b.recreateStream(ctx)
		}
		if acked > 0 {
			delay.reset()
			continue // progress: the rest may just have been stalled behind it
		}
		if err := delay.wait(ctx); err != nil {
			return b.fail(todo, err)
		}
	}
	return nil
}

// send publishes the messages todo lists. It returns their futures, and the messages to send
// again without having been sent (no pending slot was free, or a transient error).
func (b *batch) send(ctx context.Context, todo []int) ([]sent, []int, error) {
	pending := make([]sent, 0, len(todo))
	var retry []int
	for k, i := range todo {
		if err := ctx.Err(); err != nil {
			return nil, nil, b.fail(todo, err)
		}
		f, err := b.js.PublishMsgAsync(b.out[i]) // sinks.NewMsg set its Nats-Msg-Id
		switch {
		case err == nil:
			b.attempts[i]++
			pending = append(pending, sent{i, f})
		case errors.Is(err, js.ErrTooManyStalledMsgs):
			// Other publishers hold the slots: wait for this round's acks, then go on.
			b.lastErr = err
			return pending, append(retry, todo[k:]...), nil
		case tooLarge(err) && b.shrink(ctx, i, err):
			b.lastErr = err
			retry = append(retry, i)
		case permanent(err):
			return nil, nil, b.permanentErr(i, err)
		default: // e.g. the reconnect buffer is full: wait for the connection
			b.lastErr = err
			retry = append(retry, i)
		}
	}
	return pending, retry, nil
}

// await waits for every future; it returns how many were acked and which failed.
func (b *batch) await(ctx context.Context, pending []sent) (int, []int, error) {
	acked := 0
	var failed []int
	for k, p := range pending {
		select {
		case ack := <-p.f.Ok():
			// A message published again because its first ack was lost is usually a duplicate
			// of that first attempt, which stored it: count it as published, not as a repeat
			// of an earlier poll.
			b.dup[p.i] = ack.Duplicate && b.attempts[p.i] <= 1
			acked++
		case err := <-p.f.Err():
			if tooLarge(err) && b.shrink(ctx, p.i, err) {
				b.lastErr = err
				failed = append(failed, p.i)
				continue
			}
			if permanent(err) {
				return 0, nil, b.permanentErr(p.i, err)
			}
			b.lastErr = err
			if b.maxAttempts > 0 && b.attempts[p.i] >= b.maxAttempts {
				m := b.msgs[p.i]
				return 0, nil, fmt.Errorf("jetstream: message %s (subject %s) not acknowledged by stream %s after %d attempts: %w",
					m.MsgID, b.out[p.i].Subject, b.want.Name, b.attempts[p.i], err)
			}
			failed = append(failed, p.i)
		case <-ctx.Done():
			return 0, nil, b.fail(append(failed, rest(pending[k:])...), ctx.Err())
		case <-b.closed:
			return 0, nil, b.fail(append(failed, rest(pending[k:])...), nats.ErrConnectionClosed)
		}
	}
	return acked, failed, nil
}

// rest is the messages of pending.
func rest(pending []sent) []int {
	out := make([]int, len(pending))
	for k, p := range pending {
		out[k] = p.i
	}
	return out
}

// waitConnected returns at once when nc is connected; otherwise it waits for the reconnect,
// so that nothing piles up in nats.go's reconnect buffer meanwhile.
func (s *Sink) waitConnected(ctx context.Context) (waited bool, err error) {
	if s.nc.IsConnected() {
		return false, nil
	}
	ch := s.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer s.nc.RemoveStatusListener(ch)
	s.log.Info("waiting for the NATS connection to publish")
	for {
		switch {
		case s.nc.IsConnected():
			return true, nil
		case s.nc.IsClosed():
			return true, nats.ErrConnectionClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}

// recreateStream brings the stream back when no stream answered (it was deleted while
// alertexport ran); failures only log, the next round tries again.
func (s *Sink) recreateStream(ctx context.Context) {
	if _, err := s.tryEnsureStream(ctx); err != nil {
		s.log.Warn("no stream answered for our subjects, and it cannot be recreated", "err", err)
	}
}

// fail is the error of a batch abandoned with todo unacknowledged.
func (b *batch) fail(todo []int, err error) error {
	if b.lastErr != nil {
		return fmt.Errorf("jetstream: %d of %d messages not acknowledged by stream %s (last publish error: %v): %w",
			len(todo), len(b.msgs), b.want.Name, b.lastErr, err)
	}
	return fmt.Errorf("jetstream: %d of %d messages not acknowledged by stream %s: %w", len(todo), len(b.msgs), b.want.Name, err)
}

// tooLarge reports whether err refuses a message for its size: nats.go's check against the
// server's max_payload, or the stream's against its max_msg_size.
func tooLarge(err error) bool {
	var api *js.APIError
	return errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &api) && api.ErrorCode == js.JSErrCodeStreamMessageExceedsMaximum
}

// shrink rebuilds message i, refused as too large, against the limits as they are now (the
// stream's max_msg_size lowered since the start, a reconnect to a server with a smaller
// max_payload): it becomes a dead letter that fits. It reports false when that changes nothing,
// and the refusal stands.
func (b *batch) shrink(ctx context.Context, i int, err error) bool {
	if !errors.Is(err, nats.ErrMaxPayload) {
		b.refreshMaxMsgSize(ctx)
	}
	before := sinks.Size(b.out[i])
	m, berr := sinks.NewMsg(b.subjects, &b.msgs[i], b.limit())
	if berr != nil || sinks.Size(m) >= before {
		return false
	}
	b.log.Warn("a message was refused as too large; publishing it as a dead letter", "msg_id", b.msgs[i].MsgID,
		"bytes", before, "err", err, "alert_error", m.Header.Get(envelope.HeaderError))
	b.out[i] = m
	b.attempts[i] = 0 // the refusal stored nothing: the next ack's duplicate flag is the stream's verdict
	return true
}

// permanent reports whether publishing again cannot succeed.
func permanent(err error) bool {
	var api *js.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == js.JSErrCodeStreamMessageExceedsMaximum
	}
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrBadSubject) ||
		errors.Is(err, nats.ErrHeadersNotSupported)
}

func (b *batch) permanentErr(i int, err error) error {
	m, out := b.msgs[i], b.out[i]
	what := fmt.Sprintf("jetstream: message %s (subject %s, %d bytes) cannot be published to stream %s", m.MsgID, out.Subject, len(out.Data), b.want.Name)
	var api *js.APIError
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%s: %w; the server accepts at most %d bytes: raise max_payload in its config", what, err, b.nc.MaxPayload())
	case errors.As(err, &api):
		return fmt.Errorf("%s: %w; raise the stream's max message size (nats stream edit %s --max-msg-size)", what, err, b.want.Name)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return fmt.Errorf("%s: %w (the connection was closed or is draining: publish before stopping NATS)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
