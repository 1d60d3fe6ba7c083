package httpclient

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestLimiterStaysUnderEveryLimit: in any window of a limit's length, a token bucket admits at
// most its burst plus rate × length; that must stay below the documented limit.
func TestLimiterStaysUnderEveryLimit(t *testing.T) {
	for _, lims := range [][]Limit{
		{{100, time.Minute}, {1500, time.Hour}}, // Defender for Endpoint
		{{30, time.Minute}},                     // Defender for Cloud Apps
		{{150, time.Minute}},                    // Graph
		{{1, time.Second}}, {{2, time.Second}},  // scaled-down test limits
	} {
		l := NewLimiter(lims...)
		if len(l.buckets) != len(lims) {
			t.Fatalf("%v: %d buckets", lims, len(l.buckets))
		}
		for i, b := range l.buckets {
			most := math.Floor(float64(b.Burst()) + float64(b.Limit())*lims[i].Per.Seconds()) // whole calls
			if most > float64(lims[i].Requests) || most < 0.45*float64(lims[i].Requests) {
				t.Errorf("%v: at most %.1f calls per %v, want at most %d and not far below", lims[i], most, lims[i].Per, lims[i].Requests)
			}
		}
	}
	if l := NewLimiter(Limit{0, time.Minute}, Limit{5, 0}); len(l.buckets) != 0 {
		t.Error("zero limits should be ignored")
	}
}

// TestLimiterPause: after a Retry-After, nobody calls before it has passed.
func TestLimiterPause(t *testing.T) {
	l := NewLimiter()
	l.Pause(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s") {
		t.Errorf("Wait during a pause longer than the caller's deadline = %v, want an error at once saying so", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := l.Wait(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
	var nilLimiter *Limiter
	if err := nilLimiter.Wait(context.Background()); err != nil {
		t.Errorf("a nil limiter must not limit: %v", err)
	}
	nilLimiter.Pause(time.Second)
}
