package sources

import (
	"context"
	"errors"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

// ErrNoVersion is why an alert without an ID or the time that versions it is a dead letter:
// it cannot be deduplicated or given a message ID. Each source names what its alerts lack
// (NoVersion).
var ErrNoVersion = errors.New("the alert has no version to export")

// NoVersion is ErrNoVersion in a source's words: "the alert has no " + lacks.
func NoVersion(lacks string) error { return noVersion(lacks) }

type noVersion string

func (e noVersion) Error() string      { return "the alert has no " + string(e) }
func (noVersion) Is(target error) bool { return target == ErrNoVersion }

// Version is one alert version as a source read it from a page.
type Version struct {
	ID    string
	Time  time.Time // the time that versions it (lastUpdateTime, …)
	Dated bool      // ID and Time were read; false: a dead letter without a version
	Raw   []byte    // the alert's bytes as received
	Err   error     // why it could not be decoded: a dead letter; nil when it was
	// Severity is the alert's severity as the API spells it ("" when absent), checked against
	// Admit.Below.
	Severity string
	// Preexisting: the alert was created before what the poll reads, so that even its first
	// export here is an update (its creation was nobody's to export).
	Preexisting bool
	// Cursor is the cursor the poll began from for this kind of version: Options.Late is told
	// how far behind it a version lies. Zero: none.
	Cursor time.Time
}

// Normalize builds the envelope of a decoded alert (or incident) with the event Admit decided
// for it.
type Normalize func(event string) (envelope.Envelope, error)

// Rules are what a source decides about the versions its poll reads; Admit asks them in
// order: Skip, then Held, then (for a version exported) Remember.
type Rules interface {
	// Skip reports whether version t of alert id is left out: exported already (Admit.Known
	// is the check every source makes) or outside what the poll exports.
	Skip(id string, t time.Time) bool
	// Held is asked once for each version not skipped, before the severity filter: why the
	// version may not move the cursor (see Held), "" when it may.
	Held(t time.Time) string
	// Remember records version t of alert id as exported; held is what Held said. It fails
	// past MaxStrays.
	Remember(id string, t time.Time, held string) error
}

// Admit is a poll's one path from a version it read to its outbox: dedup, severity, event,
// normalize, dead letter, message ID, queue, flush. The source keeps its request, decode and
// cursor rules (Rules); everything between a decoded version and a queued message is here, so
// that every source exports a version alike.
type Admit struct {
	Outbox
	Tenant, Source string
	Options        Options     // Late and HeldBack are told of what is exported
	State          *Checkpoint // the poll's working checkpoint: its Seen is what was exported
	Strays         *StraySet
	Exported       *IDSet   // alert IDs this poll exported: the event after Seen forgot them
	Below          []string // lower-case severities min_severity leaves out (the server should)
	// Batch: once this many messages wait, they are handed over; 0: the source flushes.
	Batch int
	// NoVersion is the dead letter's cause for an alert decoded without an ID or version time.
	NoVersion error
}

// Take admits version v: a dead letter, or an alert normalized (by normalize, nil for a dead
// letter) with its event, queued under its message ID unless r skips it or min_severity leaves
// it out. normalize is apart from v so that it stays on the caller's stack.
func (a *Admit) Take(ctx context.Context, r Rules, v Version, normalize Normalize) error {
	if !v.Dated {
		cause := v.Err
		if cause == nil {
			cause = a.NoVersion
		}
		return a.dead(ctx, v.Raw, cause)
	}
	if r.Skip(v.ID, v.Time) {
		return nil
	}
	held := r.Held(v.Time)
	if v.Err != nil {
		// Not decoded, but versioned: a dead letter under the version's message ID, so that a
		// re-read is recognized as any version is.
		if err := r.Remember(v.ID, v.Time, held); err != nil {
			return err
		}
		a.Exported.Add(v.ID)
		a.Queue(Message{MsgID: envelope.MsgID(a.Tenant, a.Source, v.ID, v.Time), Tenant: a.Tenant, Source: a.Source, Raw: v.Raw, Err: v.Err})
		return a.flush(ctx)
	}
	if len(a.Below) > 0 && envelope.Lower(v.Severity, a.Below...) != "" {
		return nil
	}
	env, err := normalize(a.Event(v.ID, v.Preexisting))
	if err := r.Remember(v.ID, v.Time, held); err != nil {
		return err
	}
	a.Exported.Add(v.ID)
	msgID := envelope.MsgID(a.Tenant, a.Source, v.ID, v.Time)
	if err != nil {
		a.Queue(Message{MsgID: msgID, Tenant: a.Tenant, Source: a.Source, Raw: v.Raw, Err: err})
	} else {
		a.Queue(Message{MsgID: msgID, Tenant: a.Tenant, Source: a.Source, Envelope: env})
	}
	if held == "" && !v.Cursor.IsZero() && v.Time.Before(v.Cursor) && a.Options.Late != nil {
		a.Options.Late(v.Cursor.Sub(v.Time))
	}
	return a.flush(ctx)
}

// Known reports whether version t of alert id was exported already: by an earlier poll (Seen,
// or the strays) or earlier in this one.
func (a *Admit) Known(id string, t time.Time) bool {
	return a.State.Seen.Has(id, t) || a.Strays.Known(id, t)
}

// Keep records an exported version where the cursor rules want it: in Seen, whose newest
// versions carry the cursor, or, when held says why it may not move a cursor whose limit is
// limit, among the strays (reported through Options.HoldBack).
func (a *Admit) Keep(id string, t time.Time, held string, limit time.Time) error {
	if held == "" {
		a.State.Seen.Add(id, t)
		return nil
	}
	return a.Strays.Hold(a.Options, a.Tenant, a.Source, id, t, limit, held)
}

// Event says whether this version is the alert's first export: "updated" when some version of
// the alert was exported before (in the overlap, as a stray, or earlier in this poll) or the
// alert was created before what the poll reads (preexisting); "created" otherwise. It depends
// only on the alert and the poll, so a version re-sent after a crash gets the same event.
func (a *Admit) Event(id string, preexisting bool) string {
	if preexisting || a.Exported.Has(id) || a.State.Seen.HasAny(id) || a.Strays.HasAny(id) {
		return envelope.Updated
	}
	return envelope.Created
}

// dead queues an alert that has no version as a dead letter under a message ID made of its
// bytes. The strays remember it for as long as the API keeps sending it, so that re-reading
// it publishes no second copy.
func (a *Admit) dead(ctx context.Context, raw []byte, cause error) error {
	id := DeadLetterID(a.Tenant, a.Source, raw, cause)
	if known, err := a.Strays.DeadLetter(id); known || err != nil {
		return err
	}
	a.Queue(Message{MsgID: id, Tenant: a.Tenant, Source: a.Source, Raw: raw, Err: cause})
	return a.flush(ctx)
}

func (a *Admit) flush(ctx context.Context) error {
	if a.Batch <= 0 {
		return nil
	}
	return a.FlushIfFull(ctx, a.Batch)
}
