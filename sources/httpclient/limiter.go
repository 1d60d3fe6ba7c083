package httpclient

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/alertexport/alertexport/sources/apis"
)

// Limit is one call rate of an API, e.g. 100 calls per minute: at most Requests calls in any
// span of Per. It is the config's and the API facts' type, named here for the limiter's callers.
type Limit = apis.Limit

// Limiter keeps one tenant's calls to one API under every one of its rates, and holds all of
// them back while the API has asked for a pause (429 + Retry-After). Share one Limiter among
// everything that calls the same API for the same tenant.
//
// Each rate of n calls per `per` is a sliding log: a call may go while fewer than n calls were
// answered within the last `per`, a call not yet answered counting as within it. The server
// counts a call when it arrives, which is after it left here and before its answer came back;
// so two calls n apart arrive more than `per` apart, whatever the network's delays, and no
// window of the server's holds more than n. A poll may so make n calls as fast as the API
// answers, then one each time an answer leaves the span.
//
// It is not a token bucket (golang.org/x/time/rate): a bucket cannot both hand out a window's
// whole budget at once and keep the steady rate at the limit, and the one used before, with a
// burst of 2 calls for Endpoint's 100 a minute, paced a backlog's first poll at one page every
// 0.6 s, below what Microsoft allows (BENCHMARKS.md, issue 20).
type Limiter struct {
	limits []Limit

	mu          sync.Mutex
	windows     []*window
	seq         uint64 // numbers the calls let through
	pausedUntil time.Time
}

// window is one rate's log.
type window struct {
	Limit
	calls []call // the calls answered within the last Per, or not answered yet
}

type call struct {
	seq      uint64
	answered time.Time // zero: not yet
}

// NewLimiter returns a limiter for the given rates (those with Requests or Per not above zero
// are ignored).
func NewLimiter(limits ...Limit) *Limiter {
	l := &Limiter{}
	for _, lim := range limits {
		if lim.Requests <= 0 || lim.Per <= 0 {
			continue
		}
		l.limits = append(l.limits, lim)
		l.windows = append(l.windows, &window{Limit: lim})
	}
	return l
}

// wait is how long after now a call may go: 0 while fewer than Requests calls are in the log
// (calls answered more than Per ago leave it), else until enough of them have left it — a call
// not yet answered is taken as answered now, and the wait is asked again once it has passed.
func (w *window) wait(now time.Time) time.Duration {
	w.calls = slices.DeleteFunc(w.calls, func(c call) bool { return !c.answered.IsZero() && now.Sub(c.answered) > w.Per })
	if len(w.calls) < w.Requests {
		return 0
	}
	at := make([]time.Time, len(w.calls))
	for i, c := range w.calls {
		at[i] = c.answered
		if at[i].IsZero() {
			at[i] = now
		}
	}
	slices.SortFunc(at, time.Time.Compare)
	return at[len(at)-w.Requests].Add(w.Per).Sub(now) + 1 // strictly more than Per after it
}

// Limits returns the rates the limiter keeps (nil for a nil limiter).
func (l *Limiter) Limits() []Limit {
	if l == nil {
		return nil
	}
	return slices.Clone(l.limits)
}

// Longest is the longest span of the limiter's rates, 0 when it has none: how long a throttled
// client may have to wait for every window to clear.
func (l *Limiter) Longest() time.Duration {
	var d time.Duration
	for _, lim := range l.Limits() {
		d = max(d, lim.Per)
	}
	return d
}

// Wait blocks until a call may be made, or ctx ends. The call is then in every window's log,
// as not answered yet; answered, which the caller must call once the call's answer (or failure)
// came, dates it (only its first call counts: it may also be deferred). A call is let into every window at once, so each window's bound holds
// whichever window made a caller wait.
func (l *Limiter) Wait(ctx context.Context) (answered func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	for {
		d, paused, seq := l.take(time.Now())
		if d == 0 {
			return func() { l.answer(seq, time.Now()) }, nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			if paused {
				return nil, fmt.Errorf("the API asked to wait %v, longer than this call may take", d.Round(time.Second))
			}
			return nil, fmt.Errorf("the rate limit %v needs a wait of %v, longer than this call may take", l.limits, d.Round(time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// take lets one call through at now and returns 0 and its number, or returns how long to wait
// before asking again, and whether that is because the API asked for a pause. A call enters the
// logs only when every window lets it through.
func (l *Limiter) take(now time.Time) (wait time.Duration, paused bool, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.pausedUntil.Sub(now); d > 0 {
		return d, true, 0
	}
	for _, w := range l.windows {
		wait = max(wait, w.wait(now))
	}
	if wait > 0 {
		return wait, false, 0
	}
	l.seq++
	for _, w := range l.windows {
		w.calls = append(w.calls, call{seq: l.seq})
	}
	return 0, false, l.seq
}

// answer dates call seq, unless it is dated already: its answer came at at.
func (l *Limiter) answer(seq uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.windows {
		for i := len(w.calls) - 1; i >= 0; i-- {
			if w.calls[i].seq == seq {
				if w.calls[i].answered.IsZero() {
					w.calls[i].answered = at
				}
				break
			}
		}
	}
}

// Pause holds every caller back for d: the API said to wait (Retry-After), and asking again sooner
// only keeps a tenant throttled longer (learn.microsoft.com/defender-endpoint/api/common-errors).
func (l *Limiter) Pause(d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	until := time.Now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}
