package sources

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// MaxStrays bounds the strays a checkpoint keeps. Strays are rare (an alert dated 2099, a dead
// letter without a version); thousands at once mean that nearly every version is held back — the
// API's clock and this machine's disagree by far, or the API dates everything wrong — and a
// checkpoint that remembered them all would outgrow NATS's max_payload. Past it the poll fails
// and says so, with its checkpoint unchanged.
const MaxStrays = 5000

// ErrTooManyStrays is the poll error past MaxStrays.
var ErrTooManyStrays = errors.New("too many alert versions that may not move the cursor")

// deadLetterTime is the version under which StraySet keeps a dead letter that has no version
// of its own (ancient, so it is never promoted).
var deadLetterTime = time.Unix(0, 0)

// StraySet is a poll's record of the versions it exports that may not move the cursor (Held,
// or outside the range asked for), and of the dead letters that have no version. Each poll reads
// again whatever the API still sends, so a stray is remembered from checkpoint to checkpoint for
// as long as the API keeps sending it, and then forgotten: a version dated 2099 stays known for
// as long as the alert keeps that version, one sent by a glitch once is not kept forever.
type StraySet struct {
	kept Seen // from the checkpoint, not met again yet
	met  Seen // met (again) by this poll
	n    int  // versions in kept and met together
}

// NewStraySet starts a poll from the checkpoint's strays.
func NewStraySet(prev Seen) *StraySet {
	return &StraySet{kept: prev.clone(), met: Seen{}, n: prev.Len()}
}

// Known reports whether version t of alert id was exported as a stray (by an earlier poll, or
// earlier in this one), and if so records that the poll met it again.
func (s *StraySet) Known(id string, t time.Time) bool {
	if !s.met.Has(id, t) && !s.kept.Has(id, t) {
		return false
	}
	s.met.Add(id, t)
	return true
}

// Add records stray version t of alert id, exported by this poll; past MaxStrays it is an
// error that says why there are so many (limit: the newest time a cursor may take).
func (s *StraySet) Add(id string, t, limit time.Time) error {
	if s.n >= MaxStrays {
		return fmt.Errorf("%w: more than %d are dated before 2000, after the API server's clock plus a minute (%s), or outside the range asked for; when nearly all are, the API's Date header and this machine's clock disagree (a warning says by how much): fix the time sync; the checkpoint stays where it is",
			ErrTooManyStrays, MaxStrays, limit.Format(time.RFC3339))
	}
	s.met.Add(id, t)
	s.n++
	return nil
}

// Hold records stray version t of alert id, exported by this poll — why (Held, or HeldOutside)
// says why it may not move a cursor whose limit is limit — and reports it (Options.HoldBack);
// past MaxStrays it is an error naming the job.
func (s *StraySet) Hold(o Options, tenant, source, id string, t, limit time.Time, why string) error {
	if err := s.Add(id, t, limit); err != nil {
		return fmt.Errorf("tenant %q: %s: %w", tenant, source, err)
	}
	o.HoldBack(tenant, source, id, t, limit, why)
	return nil
}

// DeadLetter reports whether the dead letter msgID, which has no version of its own, was
// published before, and records that this poll met it; past MaxStrays it is an error.
func (s *StraySet) DeadLetter(msgID string) (known bool, err error) {
	if s.Known(msgID, deadLetterTime) {
		return true, nil
	}
	return false, s.Add(msgID, deadLetterTime, deadLetterTime)
}

// HasAny reports whether some version of alert id was exported as a stray.
func (s *StraySet) HasAny(id string) bool { return s.met.HasAny(id) || s.kept.HasAny(id) }

// Promote moves the strays this poll met that may move a cursor now — dated from floor (the
// poll's lower bound: a version below it is not read again) to limit — into seen, and returns
// the newest of them (zero: none). A version held back while the clocks disagreed becomes an
// ordinary one once they agree again, so that the cursor can move past it and forget it.
func (s *StraySet) Promote(seen Seen, floor, limit time.Time) time.Time {
	var newest time.Time
	lo, hi := Nanos(floor), Nanos(limit)
	for k, vs := range s.met {
		keep := vs[:0]
		for _, n := range vs {
			t := time.Unix(0, n).UTC()
			if n < lo || n > hi || Held(t, limit, false) != "" {
				keep = append(keep, n)
				continue
			}
			seen.Add(k, t) // k is a SeenKey already, which SeenKey keeps as it is
			s.n--
			if t.After(newest) {
				newest = t
			}
			if kv := s.kept[k]; kv != nil {
				s.kept[k] = slices.DeleteFunc(kv, func(m int64) bool { return m == n })
			}
		}
		if len(keep) == 0 {
			delete(s.met, k)
		} else {
			s.met[k] = keep
		}
	}
	return newest
}

// Saved is what a checkpoint keeps: the strays met by this poll, and, before the poll has read
// everything (final false), those it has not met yet.
func (s *StraySet) Saved(final bool) Seen {
	out := s.met.clone()
	if !final {
		for k, vs := range s.kept {
			for _, n := range vs {
				if !slices.Contains(out[k], n) {
					out[k] = append(out[k], n)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
