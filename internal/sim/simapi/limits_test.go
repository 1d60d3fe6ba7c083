package simapi

import (
	"testing"
	"time"
)

func TestWindowAdmit(t *testing.T) {
	t.Parallel()
	// The Defender for Endpoint alerts API's documented limits.
	endpointLimits := []RateLimit{{Requests: 100, Per: time.Minute}, {Requests: 1500, Per: time.Hour}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name   string
		limits []RateLimit
		calls  []time.Duration // earlier calls
		now    time.Duration
		wait   time.Duration
	}{
		{"within the limit", []RateLimit{{Requests: 3, Per: time.Second}}, []time.Duration{0, 100 * time.Millisecond}, 200 * time.Millisecond, 0},
		{"one over: wait for the second-oldest to leave", []RateLimit{{Requests: 2, Per: time.Second}}, []time.Duration{0, 100 * time.Millisecond}, 200 * time.Millisecond, 900 * time.Millisecond},
		{"old calls have left the window", []RateLimit{{Requests: 2, Per: time.Second}}, []time.Duration{0, 100 * time.Millisecond}, 1100 * time.Millisecond, 0},
		{"101st call in a minute", endpointLimits, repeat(100, 0, 100*time.Millisecond), 20 * time.Second, 40*time.Second + 100*time.Millisecond},
		{"1,501st call in an hour, under 100 a minute", endpointLimits, repeat(1500, 0, time.Second), 30 * time.Minute, 30*time.Minute + time.Second},
		{"no limits", []RateLimit{}, repeat(1000, 0, 0), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var win Window
			for _, c := range tt.calls {
				if w, _ := win.Admit(at(c), tt.limits); w != 0 {
					t.Fatalf("call at %v throttled", c)
				}
			}
			if got, _ := win.Admit(at(tt.now), tt.limits); got != tt.wait {
				t.Errorf("wait %v, want %v", got, tt.wait)
			}
		})
	}
}

// repeat returns n offsets from start, step apart.
func repeat(n int, start, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = start + time.Duration(i)*step
	}
	return out
}
