package sources

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

// A cursor follows the newest version a poll exported, so one version dated wrong (an alert
// stamped 2099, Windows' zero date 1601-01-01 standing for "no date") would carry it past every
// alert to come, and each later poll would ask for nothing. A version may therefore move a
// cursor only when it lies between Floor and the API server's clock plus Ahead (docs/delivery.md,
// "When a version is dated wrong"); any other version is still exported, or dead-lettered, and is
// reported as held back.

// Floor is the oldest time a cursor may take: no Defender alert predates 2000, so an earlier
// date is a placeholder, not a time.
var Floor = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Ahead is how far past the API server's clock a cursor may go: the service stamps versions
// with its own clock, so a later one is dated wrong.
const Ahead = time.Minute

// MaxSkew is how far an API's Date header may be from this machine's clock and still be taken
// as the server's clock. When the two are farther apart one of them is wrong, and the earlier
// one counts: a cursor held back only re-reads, one pushed ahead skips alerts.
const MaxSkew = 5 * time.Minute

// Reasons a version is held back (the reason label of alertexport_versions_held_back_total).
const (
	HeldFuture  = "future"         // after the server's clock plus Ahead
	HeldAncient = "before_2000"    // before Floor
	HeldOutside = "outside_filter" // outside the range the poll asked the API for
)

// Horizon is the newest time a poll's cursor may reach: the API server's clock, read from the
// Date headers of its answers (the time each answer was made), plus Ahead. Without a Date it is
// the local clock. It is safe for concurrent use.
type Horizon struct {
	local func() time.Time

	mu      sync.Mutex
	date    time.Time // the newest Date read
	at      time.Time // the local time it was read at
	doubt   string    // why a Date read was not taken as it is ("" when every one was)
	dated   bool      // an answer had a usable Date
	undated bool      // an answer had none
}

// NewHorizon starts a poll's horizon; local is the machine's clock (nil: time.Now).
func NewHorizon(local func() time.Time) *Horizon {
	if local == nil {
		local = time.Now
	}
	return &Horizon{local: local}
}

// Observe reads an answer's Date header.
func (h *Horizon) Observe(header http.Header) {
	d, err := http.ParseTime(header.Get("Date"))
	now := h.local()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.undated = true
		return
	}
	h.dated = true
	d = d.UTC()
	switch skew := d.Sub(now); {
	case d.Before(Floor):
		h.doubt = fmt.Sprintf("the API's Date header says %s, which cannot be right; this machine's clock (%s) is used", d.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return
	case skew > MaxSkew || skew < -MaxSkew:
		h.doubt = fmt.Sprintf("the API's Date header (%s) and this machine's clock (%s) differ by %s; the earlier one is used (check the machine's time sync, or a proxy rewriting Date)",
			d.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew.Abs().Round(time.Second))
		if skew > 0 {
			return // the local clock is the earlier
		}
	}
	if d.After(h.date) || h.date.IsZero() {
		h.date, h.at = d, now
	}
}

// Now is the server's time: the newest Date read, moved on by the local time since; the local
// clock when no answer carried a usable Date.
func (h *Horizon) Now() time.Time {
	now := h.local()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.date.IsZero() {
		return now.UTC()
	}
	return h.date.Add(max(0, now.Sub(h.at)))
}

// Limit is the newest version time that may move a cursor now.
func (h *Horizon) Limit() time.Time { return h.Now().Add(Ahead) }

// Doubt says why the server's clock was not taken from the Date headers as they came ("" when
// it was, or when none came: see Missing).
func (h *Horizon) Doubt() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.doubt
}

// Missing reports whether no answer carried a Date header (the local clock stood in for it).
func (h *Horizon) Missing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.dated && h.undated
}

// Held says why version t may not move a cursor whose limit is limit: HeldAncient, HeldFuture,
// HeldOutside when the API sent it outside the range asked for (outside), or "" when it may.
func Held(t, limit time.Time, outside bool) string {
	switch {
	case t.Before(Floor):
		return HeldAncient
	case t.After(limit):
		return HeldFuture
	case outside:
		return HeldOutside
	}
	return ""
}

// Nanos is t in Unix nanoseconds, as Seen keeps versions. Outside the years an int64 of
// nanoseconds holds (1678 to 2262), where time.UnixNano's result is undefined (1601-01-01 would
// come back as 2185), it counts whole seconds on from the int64's ends instead: distinct for
// versions a second apart (0001-01-01 and 1601-01-01, or 3000 and 9999-12-31, stay two
// versions), and far from the years a version may move a cursor in. Such a version never moves
// a cursor (Held), so only its identity matters.
func Nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64 + max(t.Unix()-minSeconds, 0)
	case t.After(maxNanos):
		return math.MaxInt64 - max(maxSeconds-t.Unix(), 0)
	}
	return t.UnixNano()
}

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
	// Year 1 to year 9999: the times an RFC 3339 string can hold.
	minSeconds = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxSeconds = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// HoldBack reports a version exported that does not move the cursor: a warning, and the
// HeldBack observer.
func (o Options) HoldBack(tenant, source, id string, t, limit time.Time, reason string) {
	msg := "alert version exported, but it does not move the cursor: "
	switch reason {
	case HeldFuture:
		msg += "it is dated after the API server's clock plus a minute"
	case HeldAncient:
		msg += "it is dated before 2000"
	default:
		msg += "the API sent it outside the range asked for"
	}
	o.logger().Warn(msg, "tenant", tenant, "source", source, "alert", id, "version", t.Format(time.RFC3339Nano), "limit", limit.Format(time.RFC3339))
	if o.HeldBack != nil {
		o.HeldBack(reason)
	}
}

// ReportHorizon logs, once a poll, when the server's clock could not be read from the API's
// Date headers as they came.
func (o Options) ReportHorizon(tenant, source string, h *Horizon) {
	switch {
	case h.Doubt() != "":
		o.logger().Warn(h.Doubt(), "tenant", tenant, "source", source)
	case h.Missing():
		o.logger().Debug("the API sent no Date header; cursors are bounded by this machine's clock", "tenant", tenant, "source", source)
	}
}

// logger is o.Logger, or one that discards when the options were not given defaults.
func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}
