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
type Limiter struct {
	limits []Limit

	mu          sync.Mutex
	windows     []*window
	pausedUntil time.Time
}

// window keeps one rate of n calls per `per`: it remembers when the calls of the last span
// were let through and lets one more through only while fewer than n of them are that recent.
// span is per plus a margin of 1 % for the skew between our windows and the server's: the
// server counts a call when it arrives, a little after it leaves here, so a span of per on its
// clock holds the calls of a span up to that skew longer on ours (0.6 s of a minute).
//
// This is a sliding log, not a token bucket (golang.org/x/time/rate): a bucket cannot both
// hand out a window's whole budget at once and keep the steady rate near the limit, and its
// small burst (2 calls for 100 a minute) paced a backlog's first poll — one page after another
// at 0.6 s each — below what Microsoft allows (BENCHMARKS.md, issue 20). With the log, a poll
// may make up to n calls as fast as the API answers, and a caller that never stops makes n
// calls every span: 99 % of the limit.
type window struct {
	n     int
	span  time.Duration
	calls []time.Time // when the calls of the last span went, oldest first
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
		l.windows = append(l.windows, &window{n: lim.Requests, span: lim.Per + lim.Per/100})
	}
	return l
}

// wait is how long after now a call may go: 0 when fewer than n calls went in the last span,
// else until the oldest of the last n has left it. Calls that have left it are forgotten.
func (w *window) wait(now time.Time) time.Duration {
	gone := 0
	for gone < len(w.calls) && now.Sub(w.calls[gone]) > w.span {
		gone++
	}
	w.calls = slices.Delete(w.calls, 0, gone)
	if len(w.calls) < w.n {
		return 0
	}
	return w.calls[len(w.calls)-w.n].Add(w.span).Sub(now) + 1 // strictly past the span
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

// Wait blocks until a call may be made, or ctx ends. A call is recorded in every window at the
// same instant, the one it is let through; so each window's bound holds for the times the
// calls are made, whichever window made a caller wait.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		d, paused := l.take(time.Now())
		if d == 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			if paused {
				return fmt.Errorf("the API asked to wait %v, longer than this call may take", d.Round(time.Second))
			}
			return fmt.Errorf("the rate limit %v needs a wait of %v, longer than this call may take", l.limits, d.Round(time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// take lets one call through at now and returns 0, or returns how long to wait before asking
// again, and whether that is because the API asked for a pause. A call is recorded only when
// every window lets it through.
func (l *Limiter) take(now time.Time) (wait time.Duration, paused bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.pausedUntil.Sub(now); d > 0 {
		return d, true
	}
	for _, w := range l.windows {
		wait = max(wait, w.wait(now))
	}
	if wait > 0 {
		return wait, false
	}
	for _, w := range l.windows {
		w.calls = append(w.calls, now)
	}
	return 0, false
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
