package httpclient

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

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
	buckets     []*rate.Limiter
	pausedUntil time.Time
}

// NewLimiter returns a limiter for the given rates (those with Requests or Per not above zero
// are ignored).
//
// Each rate of n calls per `per` becomes a token bucket. A bucket with burst b refilling at r
// admits at most b + r·t calls in any span of length t, and calls are whole: at most
// ⌊b + r·t⌋. The bucket takes b = max(1, ⌊n/50⌋) and r·per = n − m − b + 0.95, just under
// n − m − b + 1, so that any span of length per holds at most n − m calls. The margin
// m = max(1, ⌈n/100⌉) calls is for the skew between our windows and the server's: the server
// counts a call when it arrives, a little after it leaves here, so a span of per on its clock
// holds the calls of a span up to that skew longer on ours; m calls at rate r are ≥ 1 % of per
// (0.6 s of a minute, 2 s for 30 calls a minute). The steady rate r is then 28.95 of 30 calls a
// minute (96.5 %), 97.95 of 100, 145.95 of 150, 1,455.95 of 1,500 an hour (97 %). Where the
// margin would eat most of the budget (below 3 calls per span), the bucket keeps 1 call of
// burst and half the rate.
func NewLimiter(limits ...Limit) *Limiter {
	l := &Limiter{}
	for _, lim := range limits {
		if lim.Requests <= 0 || lim.Per <= 0 {
			continue
		}
		r, b := bucket(lim)
		l.limits = append(l.limits, lim)
		l.buckets = append(l.buckets, rate.NewLimiter(r, b))
	}
	return l
}

// bucket sizes the token bucket of one limit (see NewLimiter).
func bucket(lim Limit) (rate.Limit, int) {
	n := lim.Requests
	burst := max(1, n/50)
	margin := max(1, (n+99)/100)
	steady := float64(n-margin-burst) + 0.95
	if 2*steady < float64(n) { // tiny limits: one call at a time, at half the rate
		return rate.Limit(float64(n) / 2 / lim.Per.Seconds()), 1
	}
	return rate.Limit(steady / lim.Per.Seconds()), burst
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

// Wait blocks until a call may be made, or ctx ends. A call takes a token from every bucket at
// the same instant, the one it is let through; so each bucket's bound holds for the times the
// calls are made, whichever bucket made a caller wait.
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
// again, and whether that is because the API asked for a pause. Tokens are taken only when
// every bucket has one.
func (l *Limiter) take(now time.Time) (wait time.Duration, paused bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.pausedUntil.Sub(now); d > 0 {
		return d, true
	}
	for _, b := range l.buckets {
		if tok := b.TokensAt(now); tok < 1 {
			secs := (1 - tok) / float64(b.Limit())
			wait = max(wait, time.Duration(math.Ceil(secs*float64(time.Second))))
		}
	}
	if wait > 0 {
		return wait, false
	}
	for _, b := range l.buckets {
		b.AllowN(now, 1)
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
