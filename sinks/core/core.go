// Package core is the fire-and-forget publisher (nats.mode = "core"): plain NATS publishes and a
// flush. It is at-most-once. The flush proves the server read the batch, not that any subscriber
// got it, and a subscriber that is away misses it. Publish waits for the connection before it
// writes, but when the connection breaks mid-batch, what was written to the dying socket or
// buffered by nats.go for the reconnect can be lost (docs.nats.io, "Buffering Messages During
// Reconnect Attempts"). Nor is there Nats-Msg-Id deduplication: a batch published again after a
// failed flush reaches subscribers twice. Use mode "jetstream" when alerts must not be lost.
package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/envelope"
)

// flushTimeout bounds a flush when ctx has no deadline (nats.go requires one).
const flushTimeout = 30 * time.Second

// Sink publishes with core NATS. It is safe for concurrent use.
type Sink struct {
	nc       *nats.Conn
	subjects *sinks.Subjects
}

var _ sinks.Sink = (*Sink)(nil)

// New returns a publisher on nc for cfg's subject template.
func New(nc *nats.Conn, cfg config.NATS) *Sink {
	return &Sink{nc: nc, subjects: sinks.NewSubjects(cfg.Subject)}
}

// Publish publishes msgs and returns once the server has read them all (a flush round trip).
// While the connection is down it waits for it (until ctx ends) rather than fill nats.go's
// reconnect buffer. A message larger than the server's max_payload goes out as a dead letter
// (sinks.NewMsg). No result is a Duplicate: core NATS does not deduplicate.
func (s *Sink) Publish(ctx context.Context, msgs []sources.Message) ([]sinks.Result, error) {
	out := make([]*nats.Msg, len(msgs))
	limit := s.limit()
	for i := range msgs {
		m, err := sinks.NewMsg(s.subjects, &msgs[i], limit)
		if err != nil {
			return nil, fmt.Errorf("core: message %d of the batch cannot be built: %w", i, err)
		}
		out[i] = m
	}
	if err := s.waitConnected(ctx); err != nil {
		return nil, fmt.Errorf("core: %d messages not published: %w", len(msgs), err)
	}
	for i, m := range out {
		err := s.nc.PublishMsg(m)
		if errors.Is(err, nats.ErrMaxPayload) {
			// Reconnected meanwhile to a server that takes less: build it against that.
			var rebuilt *nats.Msg
			if rebuilt, err = sinks.NewMsg(s.subjects, &msgs[i], s.limit()); err == nil {
				m, out[i] = rebuilt, rebuilt
				err = s.nc.PublishMsg(m)
			}
		}
		if err != nil {
			hint := ""
			if errors.Is(err, nats.ErrMaxPayload) {
				hint = fmt.Sprintf("; the server accepts at most %d bytes: raise max_payload in its config", s.nc.MaxPayload())
			}
			return nil, fmt.Errorf("core: message %s (subject %s, %d bytes): %w%s", msgs[i].MsgID, m.Subject, len(m.Data), err, hint)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) && !s.nc.IsClosed() {
			// nats.go fails pending flushes with "connection closed" when the connection breaks
			// and reconnects.
			err = fmt.Errorf("the connection broke before the server confirmed the batch; some messages may be lost: %w", err)
		}
		return nil, fmt.Errorf("core: flushing %d messages: %w", len(msgs), err)
	}
	res := make([]sinks.Result, len(msgs))
	for i, m := range out {
		res[i].DeadLetter = m.Header.Get(envelope.HeaderError)
	}
	return res, nil
}

// limit is the server's max_payload.
func (s *Sink) limit() sinks.Limit {
	return sinks.Limit{Bytes: int(s.nc.MaxPayload()), By: "the server's max_payload"}
}

// waitConnected returns once nc is connected, or why it will not be.
func (s *Sink) waitConnected(ctx context.Context) error {
	if s.nc.IsConnected() {
		return nil
	}
	ch := s.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer s.nc.RemoveStatusListener(ch)
	for {
		switch {
		case s.nc.IsConnected():
			return nil
		case s.nc.IsClosed():
			return nats.ErrConnectionClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the NATS connection: %w", ctx.Err())
		}
	}
}
