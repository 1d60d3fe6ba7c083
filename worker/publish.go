package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/alertexport/alertexport/sinks"
	"github.com/alertexport/alertexport/sources"
)

// Publisher is the publish-and-count step of a job: hand a batch to the sink and sort what
// became of each message. The worker's polls and backfill share it.
type Publisher struct {
	Sink           sinks.Sink
	Tenant, Source string
	// Metrics, when set, counts each message in the job's series; Logger, when set, logs each
	// dead letter. Backfill sets neither: it reports its own totals.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Outcome is what became of one batch.
type Outcome struct {
	Published   int       // accepted as new
	Duplicates  int       // the stream already held them
	DeadLetters int       // not normalized, or too large for the server
	Newest      time.Time // the latest update among the batch's alerts; zero if none
}

// Publish publishes msgs and counts them. An error means some may not have been accepted; the
// caller must not move its checkpoint.
func (p Publisher) Publish(ctx context.Context, msgs []sources.Message) (Outcome, error) {
	var o Outcome
	if len(msgs) == 0 {
		return o, nil
	}
	res, err := p.Sink.Publish(ctx, msgs)
	if err != nil {
		return o, err
	}
	for i := range msgs {
		msg := &msgs[i]
		var r sinks.Result
		if i < len(res) {
			r = res[i]
		}
		if msg.Alert != nil && msg.Alert.UpdatedAt.After(o.Newest) {
			o.Newest = msg.Alert.UpdatedAt
		}
		switch {
		case r.Duplicate:
			o.Duplicates++
			if p.Metrics != nil {
				p.Metrics.duplicates.WithLabelValues(p.Tenant, p.Source).Inc()
			}
		case r.DeadLetter != "" || msg.Alert == nil: // not normalized, or too large
			o.DeadLetters++
			if p.Metrics != nil {
				p.Metrics.deadLetters.WithLabelValues(p.Tenant, p.Source).Inc()
			}
			if p.Logger != nil {
				p.Logger.Warn("alert published as a dead letter", "tenant", p.Tenant, "source", p.Source, "msg_id", msg.MsgID, "err", r.DeadLetter)
			}
		default:
			o.Published++
			if p.Metrics != nil {
				p.Metrics.published.WithLabelValues(p.Tenant, p.Source, msg.Alert.Severity, msg.Alert.Event).Inc()
			}
		}
	}
	return o, nil
}
