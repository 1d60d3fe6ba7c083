package httpclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// staticToken hands out one token; these tests are about throttling, not Entra ID.
type staticToken struct{}

func (staticToken) Token(context.Context, string) (string, error) { return "t", nil }
func (staticToken) Invalidate(string, string)                     {}

// TestThrottleWaitIsCapped: a 429 without Retry-After holds the tenant back for ThrottleWait,
// but never longer than a Retry-After could (a limit with an hour's window must not stall a
// tenant for an hour).
func TestThrottleWaitIsCapped(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"a minute", time.Minute, time.Minute},
		{"an hour, capped", time.Hour, maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter()
			a := &API{Name: "cloudapps", Tenant: "t", HTTP: srv.Client(), Tokens: staticToken{}, Limiter: l,
				Retry: Retry{MaxTries: 1, Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: time.Second}, ThrottleWait: tt.set}
			before := time.Now()
			if err := a.Get(t.Context(), srv.URL, func(io.Reader) error { return nil }); err == nil {
				t.Fatal("a 429 succeeded")
			}
			l.mu.Lock()
			paused := l.pausedUntil.Sub(before)
			l.mu.Unlock()
			if paused < tt.want || paused > tt.want+10*time.Second {
				t.Errorf("paused for %v, want %v", paused, tt.want)
			}
		})
	}
}
