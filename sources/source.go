// Package sources holds what every Defender source shares: the Source interface the worker drives,
// the messages a poll hands over, and the checkpoint that makes polling lossless and repeat-free
// (docs/delivery.md). Each API lives in its own subpackage (endpoint, cloudapps, graph).
package sources

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
	"github.com/alertexport/alertexport/sources/page"
)

// Source polls one (tenant, API) pair.
type Source interface {
	// Poll exports what changed since cp: it hands the versions not yet exported to emit, in
	// batches, and returns once every batch was emitted. A batch that carries a checkpoint may
	// be saved once emit has published every message of this poll so far; a failed poll leaves
	// the last saved checkpoint in force, and the next poll re-reads from it.
	Poll(ctx context.Context, cp Checkpoint, emit Emit) error
}

// Backfiller is a Source that can export a past span again (alertexport backfill).
type Backfiller interface {
	Source
	// Backfill hands over every alert version of [since, until) as the API shows it now, with
	// the message IDs of the live export, and never a checkpoint.
	Backfill(ctx context.Context, since, until time.Time, emit Emit) error
}

// Options tunes a source that reads pages of alerts; the zero value is what production uses.
type Options struct {
	PageSize  int                        // alerts asked per page; 0 = the API's maximum
	BatchSize int                        // messages per Emit; 0 = 250
	Now       func() time.Time           // the local clock, used only for the first poll's start; nil = time.Now
	Logger    *slog.Logger               // nil = discard
	Late      func(behind time.Duration) // told of each version that appeared behind the cursor (indexed late)
	HeldBack  func(reason string)        // told of each version exported that may not move the cursor (HoldBack)
}

// WithDefaults fills in what o leaves zero; maxPage is the API's largest page.
func (o Options) WithDefaults(maxPage int) Options {
	if o.PageSize <= 0 || o.PageSize > maxPage {
		o.PageSize = maxPage
	}
	if o.BatchSize <= 0 {
		// One batch is published while the next is written, so two are held at once: 250
		// envelopes of 5–10 KB are 1.3–2.5 MB each, which kept a 100,000-alert backlog under
		// 64 MiB of RSS where 500 peaked at 60–64 MiB, at the same rate (BENCHMARKS.md, issue 20).
		o.BatchSize = 250
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Emit publishes a batch and returns when every message in it is durably accepted, or, for a
// batch without a checkpoint handed over through Overlap, once it is on its way (its failure
// then comes back from the next call). An error stops the poll without a further checkpoint.
type Emit func(ctx context.Context, b Batch) error

// Batch is a slice of a poll's output. Messages is only valid during the Emit call: the source
// reuses it.
type Batch struct {
	Messages []Message
	// Checkpoint, when not nil, is the state to save once Messages (and all earlier batches of
	// the poll) are accepted. It is only valid during the Emit call: save or copy it there.
	Checkpoint *Checkpoint
}

// Message is one alert version to publish, or a dead letter: an alert the API sent that could
// not be normalized. A dead letter is published too (never dropped), with its error.
type Message struct {
	MsgID  string
	Tenant string // the tenant's name, and the source's: a dead letter has no envelope to say so
	Source string
	Alert  *envelope.Alert // nil for a dead letter
	// Envelope, when set, is the body to publish (an alert or an incident): Outbox.Queue writes
	// it to Body and keeps in Alert only what subjects, headers and metrics read (its Summary).
	Envelope envelope.Envelope
	// Body is the envelope as it is published (envelope.Marshal), written by Outbox.Queue; Alert
	// then keeps only what subjects, headers and metrics read (envelope.Alert.Summary).
	Body []byte
	Raw  []byte // a dead letter's bytes as received
	Err  error  // why it is a dead letter
}

// Checkpoint is the state of one (tenant, source) job: the cursor (a time the API stamped, never
// the local clock) and the versions exported inside the lookback window before it.
type Checkpoint struct {
	// Cursor is the newest version time up to which everything visible has been exported.
	// Zero: the job has never completed a poll.
	Cursor time.Time `json:"cursor,omitzero"`
	// ResolutionCursor is Defender for Cloud Apps' second cursor, on resolutionDate.
	ResolutionCursor time.Time `json:"resolution_cursor,omitzero"`
	// Origin is where the job's first poll began (now − start_from): a job that has exported
	// nothing yet keeps reading from there instead of sliding with the clock.
	Origin time.Time `json:"origin,omitzero"`
	// Seen holds the versions exported at or after Cursor − lookback: alert ID → version times
	// in Unix nanoseconds. Re-reading that overlap exports nothing twice.
	Seen Seen `json:"seen,omitempty"`
	// Strays holds the versions exported that may not move the cursor (dated before 2000 or
	// past the API's clock, or sent outside the range asked for: sources.Held), for as long as
	// the API keeps sending them, so that each is exported once.
	Strays Seen `json:"strays,omitempty"`
}

// Seen is a set of alert versions: an alert's key (SeenKey) → its version times (Nanos).
type Seen map[string][]int64

// SeenKey is how Seen keeps alert ID id: envelope.ShortID, the form message IDs carry, so
// that one ID of a megabyte cannot make every checkpoint that large.
func SeenKey(id string) string { return envelope.ShortID(id) }

// Has reports whether version t of alert id was exported.
func (s Seen) Has(id string, t time.Time) bool {
	return slices.Contains(s[SeenKey(id)], Nanos(t))
}

// HasAny reports whether some version of alert id was exported.
func (s Seen) HasAny(id string) bool { return len(s[SeenKey(id)]) > 0 }

// Add records version t of alert id.
func (s Seen) Add(id string, t time.Time) {
	k := SeenKey(id)
	if n := Nanos(t); !slices.Contains(s[k], n) {
		s[k] = append(s[k], n)
	}
}

// Prune forgets versions older than before: the next poll does not read that far back.
func (s Seen) Prune(before time.Time) {
	limit := Nanos(before)
	maps.DeleteFunc(s, func(id string, vs []int64) bool {
		vs = slices.DeleteFunc(vs, func(n int64) bool { return n < limit })
		s[id] = vs
		return len(vs) == 0
	})
}

// Upto is s without the versions after t, copied only when it has some. A poll that reads a
// wide window before the one it finishes exports alerts past its cursor; its checkpoint need
// not remember them (a poll that stops re-reads them from the cursor, and JetStream drops what
// was published), which keeps a backlog's checkpoint to the lookback's alerts instead of
// growing past NATS's max_payload.
func (s Seen) Upto(t time.Time) Seen {
	limit := Nanos(t)
	ahead := false
	for _, vs := range s {
		if slices.ContainsFunc(vs, func(n int64) bool { return n > limit }) {
			ahead = true
			break
		}
	}
	if !ahead {
		return s
	}
	out := make(Seen, len(s))
	for id, vs := range s {
		var keep []int64
		for _, n := range vs {
			if n <= limit {
				keep = append(keep, n)
			}
		}
		if len(keep) > 0 {
			out[id] = keep
		}
	}
	return out
}

// Len is the number of versions held.
func (s Seen) Len() int {
	n := 0
	for _, vs := range s {
		n += len(vs)
	}
	return n
}

// Clone is a deep copy of cp: a poll works on its own copy, so that a failed poll leaves the
// caller's checkpoint as it was.
func (cp Checkpoint) Clone() Checkpoint {
	cp.Seen = cp.Seen.clone()
	if cp.Seen == nil {
		cp.Seen = Seen{} // a poll adds to it
	}
	cp.Strays = cp.Strays.clone()
	return cp
}

func (s Seen) clone() Seen {
	if s == nil {
		return nil
	}
	out := make(Seen, len(s))
	for id, vs := range s {
		out[id] = slices.Clone(vs)
	}
	return out
}

// DeadLetterID is the message ID of an alert that has no readable version: made of its bytes,
// so that re-reading it in the overlap publishes no second copy. For an alert the page decoder
// passed over as too large (cause is a *page.TooLargeError), raw is only its first bytes: the
// ID is made of all of them, which the decoder hashed on the way, so two such alerts that begin
// alike still differ.
func DeadLetterID(tenant, source string, raw []byte, cause error) string {
	sum := sha256.Sum256(raw)
	if big, ok := errors.AsType[*page.TooLargeError](cause); ok {
		sum = big.Sum
	}
	return tenant + "." + source + ".deadletter." + hex.EncodeToString(sum[:12])
}

// Outbox collects a poll's messages and hands them to Emit in batches.
type Outbox struct {
	Emit    Emit
	Pending []Message
	Logger  *slog.Logger // told of envelopes cut to envelope.MaxEntities; nil = discard
}

// Queue adds m to the pending messages. An alert is written to its envelope at once and keeps
// only its summary, so that the decoded alert and its raw bytes — most of a message's memory —
// are free while batches wait to be published, not held until their acks. An envelope that
// cannot be written is queued as a dead letter instead (never dropped).
//
// Every source's envelopes pass here, so this is where an alert's entities are cut to
// envelope.MaxEntities (raw keeps them all), with a warning naming the alert.
//
// A dead letter's bytes are copied here: a source may hand over bytes that are valid only while
// it takes the alert (page.Borrow).
func (o *Outbox) Queue(m Message) {
	if m.Envelope != nil {
		if a, ok := m.Envelope.(*envelope.Alert); ok {
			m.Alert = a // capped and written below
		} else {
			body, err := m.Envelope.Marshal()
			if err != nil {
				m = Message{MsgID: m.MsgID, Tenant: m.Tenant, Source: m.Source, Raw: m.Envelope.RawBytes(),
					Err: fmt.Errorf("the envelope cannot be written: %w", err)}
			} else {
				m.Body, m.Alert = body, m.Envelope.Summary()
			}
		}
		m.Envelope = nil
	}
	if m.Alert != nil && m.Body == nil {
		if n := len(m.Alert.Entities); n > envelope.MaxEntities {
			m.Alert.Entities = m.Alert.Entities[:envelope.MaxEntities]
			if o.Logger != nil {
				o.Logger.Warn("the alert has more entities than an envelope lists; the envelope lists the first ones, raw has them all",
					"tenant", m.Tenant, "source", m.Source, "alert", m.Alert.ID, "entities", n, "listed", envelope.MaxEntities)
			}
		}
		body, err := envelope.Marshal(m.Alert)
		if err != nil {
			m = Message{MsgID: m.MsgID, Tenant: m.Tenant, Source: m.Source, Raw: m.Alert.Raw,
				Err: fmt.Errorf("the envelope cannot be written: %w", err)}
		} else {
			m.Body, m.Alert = body, m.Alert.Summary()
		}
	}
	if m.Body == nil && m.Raw != nil {
		m.Raw = bytes.Clone(m.Raw)
	}
	o.Pending = append(o.Pending, m)
}

// Flush hands the pending messages, and cp when not nil, to Emit. With neither there is
// nothing to do.
func (o *Outbox) Flush(ctx context.Context, cp *Checkpoint) error {
	if len(o.Pending) == 0 && cp == nil {
		return nil
	}
	err := o.Emit(ctx, Batch{Messages: o.Pending, Checkpoint: cp})
	o.Pending = o.Pending[:0]
	return err
}

// FlushIfFull hands the pending messages over, without a checkpoint, once there are batch of
// them. A publish failure comes back as a PublishError.
func (o *Outbox) FlushIfFull(ctx context.Context, batch int) error {
	if len(o.Pending) < batch {
		return nil
	}
	if err := o.Flush(ctx, nil); err != nil {
		return PublishError{err}
	}
	return nil
}

// Unbroken is what a page's call ends with when the page decoder failed with err: the error an
// item's handler raised — a publish failure, too many strays — as it is, with ok true; ok false
// when err is the body's (broken or cut short), which the caller retries.
func Unbroken(err error) (_ error, ok bool) {
	var pub PublishError
	switch {
	case errors.As(err, &pub):
		return pub.Err, true
	case errors.Is(err, ErrTooManyStrays):
		return err, true
	}
	return nil, false
}

// PublishError carries an Emit failure out of a page decoder untouched, so that it is not
// mistaken for a broken body (which would be retried).
type PublishError struct{ Err error }

func (e PublishError) Error() string { return e.Err.Error() }
func (e PublishError) Unwrap() error { return e.Err }

// Identity is whose alerts a source reads, as every envelope names it: the tenant's name in the
// config, its Entra tenant ID, and the cloud's Defender portal for links to alerts ("" when the
// API's alerts carry their own link).
type Identity struct {
	Tenant, TenantID, Portal string
}

// LoadCheckpoint reads a job's checkpoint by its key (<tenant>.<source>); a key never saved, or
// no store at all, reads as the zero checkpoint.
type LoadCheckpoint func(ctx context.Context, key string) (Checkpoint, error)

// Continuer is a source that may start where the tenant's other sources stopped (Graph, which
// takes over from endpoint and cloudapps: docs/migrating-to-graph.md). lookback gives another
// source's lookback by its name.
type Continuer interface {
	ContinueFromOlder(load LoadCheckpoint, lookback func(source string) time.Duration)
}
