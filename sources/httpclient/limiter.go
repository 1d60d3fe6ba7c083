package httpclient

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is one documented call rate of an API, e.g. 100 calls per minute.
type Limit struct {
	Requests int
	Per      time.Duration
}

// Limiter keeps one tenant's calls to one API under every one of its documented rates, and
// holds all of them back while the API has asked for a pause (429 + Retry-After). Share one
// Limiter among everything that calls the same API for the same tenant.
type Limiter struct {
	buckets []*rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

// NewLimiter returns a limiter for the given rates. Each is kept with a margin of 5 % (at least
// one call), since the server's window and ours never line up exactly: a token bucket with
// burst b and rate (n−b)/per admits at most n calls in any window of length per.
func NewLimiter(limits ...Limit) *Limiter {
	l := &Limiter{}
	for _, lim := range limits {
		if lim.Requests <= 0 || lim.Per <= 0 {
			continue
		}
		n := lim.Requests - max(1, lim.Requests/20)
		n = max(n, 1)
		burst := max(1, n/10)
		every := float64(n-burst) / lim.Per.Seconds()
		if n == burst {
			every = float64(n) / lim.Per.Seconds() / 2 // tiny limits: stay at half of them
		}
		l.buckets = append(l.buckets, rate.NewLimiter(rate.Limit(every), burst))
	}
	return l
}

// Wait blocks until a call may be made, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		for _, b := range l.buckets {
			if err := b.Wait(ctx); err != nil {
				return err
			}
		}
		// A pause may have begun while waiting for the buckets (another caller got a 429).
		l.mu.Lock()
		paused := time.Now().Before(l.pausedUntil)
		l.mu.Unlock()
		if !paused {
			return nil
		}
	}
}

func (l *Limiter) waitPause(ctx context.Context) error {
	for {
		l.mu.Lock()
		d := time.Until(l.pausedUntil)
		l.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return fmt.Errorf("the API asked to wait %v, longer than this call may take", d.Round(time.Second))
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

// Pause holds every caller back for d: the API said to wait (Retry-After), and asking again
// sooner only keeps a tenant throttled longer (research/defender-apis.md A3).
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
