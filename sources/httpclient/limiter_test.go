package httpclient

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/internal/sim"
)

// greedy plays a caller that asks again the moment its last call was answered, on a fake
// clock, for span: each call is answered latency() after it was let through. It returns when
// the calls were let through and when their answers came.
func greedy(t *testing.T, l *Limiter, span time.Duration, latency func() time.Duration) (sent, answered []time.Time) {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for now := start; now.Before(start.Add(span)); {
		wait, paused, seq := l.take(now)
		if paused {
			t.Fatal("paused without a Pause")
		}
		if wait > 0 {
			now = now.Add(wait)
			continue
		}
		sent = append(sent, now)
		now = now.Add(latency())
		l.answer(seq, now)
		answered = append(answered, now)
	}
	return sent, answered
}

func instant() time.Duration { return 0 }

// TestLimiterWindowsAndSteadyRate: a caller as greedy as can be, answered at once, never gets
// more than the limit into any window of a limit's length, gets a window's whole budget at
// once (a backlog's first pages are not paced), and keeps the binding limit's rate after.
func TestLimiterWindowsAndSteadyRate(t *testing.T) {
	tests := []struct {
		name   string
		limits []Limit
		first  int // calls let through at once
	}{
		{"Defender for Endpoint", []Limit{{Requests: 100, Per: time.Minute}, {Requests: 1500, Per: time.Hour}}, 100},
		{"Defender for Cloud Apps", []Limit{{Requests: 30, Per: time.Minute}}, 30},
		{"Graph", []Limit{{Requests: 150, Per: time.Minute}}, 150},
		{"Cloud Apps scaled by 60", []Limit{{Requests: 30, Per: time.Second}}, 30},
		{"Endpoint scaled by 60", []Limit{{Requests: 100, Per: time.Second}, {Requests: 1500, Per: time.Minute}}, 100},
		{"two short windows", []Limit{{Requests: 10, Per: time.Second}, {Requests: 25, Per: 3 * time.Second}}, 10},
		{"4 a second", []Limit{{Requests: 4, Per: time.Second}}, 4},
		{"1 a second", []Limit{{Requests: 1, Per: time.Second}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.limits...)
			longest := l.Longest()
			const spans = 20
			calls, _ := greedy(t, l, spans*longest, instant)
			for _, lim := range tt.limits {
				if got := sim.MostInWindow(calls, lim.Per); got > lim.Requests {
					t.Errorf("%v: %d calls in one window, want at most %d", lim, got, lim.Requests)
				}
			}
			if at := slices.IndexFunc(calls, func(c time.Time) bool { return c.After(calls[0]) }); at != tt.first {
				t.Errorf("%d calls at once, want %d", at, tt.first)
			}
			bound := 1e18
			for _, lim := range tt.limits {
				bound = min(bound, float64(lim.Requests)*spans*float64(longest)/float64(lim.Per))
			}
			share := float64(len(calls)) / bound
			t.Logf("%.3f of the binding limit", share)
			if share < 0.95 || share > 1 {
				t.Errorf("%.3f of the binding limit over %d windows, want at least 0.95", share, spans)
			}
		})
	}
}

// TestLimiterWhateverTheDelays: the server counts a call when it arrives, at any moment between
// leaving here and its answer coming back; with answers that take from nothing to longer than a
// window, and arrivals anywhere in between, no window of the server's sees more than the limit.
func TestLimiterWhateverTheDelays(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lims := range [][]Limit{
		{{Requests: 100, Per: time.Minute}, {Requests: 1500, Per: time.Hour}},
		{{Requests: 30, Per: time.Minute}},
		{{Requests: 150, Per: time.Minute}},
		{{Requests: 30, Per: time.Second}},
		{{Requests: 10, Per: time.Second}, {Requests: 25, Per: 3 * time.Second}},
		{{Requests: 1, Per: time.Second}},
	} {
		t.Run(Limit.String(lims[0]), func(t *testing.T) {
			l := NewLimiter(lims...)
			shortest := lims[0].Per
			latency := func() time.Duration {
				if rng.IntN(10) == 0 { // now and then, an answer that takes long
					return time.Duration(rng.Int64N(int64(2 * shortest)))
				}
				return time.Duration(rng.Int64N(int64(shortest / 50)))
			}
			sent, answered := greedy(t, l, 3*l.Longest(), latency)
			arrived := make([]time.Time, len(sent))
			for i := range sent {
				arrived[i] = sent[i].Add(time.Duration(rng.Int64N(int64(answered[i].Sub(sent[i])) + 1)))
			}
			slices.SortFunc(arrived, time.Time.Compare)
			for _, lim := range lims {
				if got := sim.MostInWindow(arrived, lim.Per); got > lim.Requests {
					t.Errorf("%v: the server sees %d calls in one window", lim, got)
				}
			}
		})
	}
}

// TestLimiterCallsInFlight: calls not yet answered count as just made, however long they take:
// with the limit's worth in flight, the next call waits for answers.
func TestLimiterCallsInFlight(t *testing.T) {
	l := NewLimiter(Limit{Requests: 2, Per: time.Second})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, _, first := l.take(now)
	_, _, second := l.take(now)
	if wait, _, _ := l.take(now.Add(time.Hour)); wait == 0 {
		t.Fatal("a third call went while two were in flight")
	}
	l.answer(first, now.Add(time.Hour))
	l.answer(first, now.Add(2*time.Hour)) // dated once: a second answer changes nothing
	if wait, _, _ := l.take(now.Add(time.Hour + time.Second)); wait == 0 {
		t.Error("a call went one window after the first answer, exactly: the server may count both")
	}
	if wait, _, _ := l.take(now.Add(time.Hour + time.Second + 1)); wait != 0 {
		t.Errorf("a call waits %v once the first answer has left the window", wait)
	}
	l.answer(second, now.Add(time.Hour))
}

func TestLimiterIgnoresZeroLimits(t *testing.T) {
	if l := NewLimiter(Limit{Requests: 0, Per: time.Minute}, Limit{Requests: 5, Per: 0}); len(l.windows) != 0 || l.Longest() != 0 {
		t.Error("zero limits should be ignored")
	}
}

func TestLimiterLongest(t *testing.T) {
	var none *Limiter
	tests := []struct {
		name string
		l    *Limiter
		want time.Duration
	}{
		{"nil", none, 0},
		{"none", NewLimiter(), 0},
		{"Cloud Apps", NewLimiter(Limit{Requests: 30, Per: time.Minute}), time.Minute},
		{"Endpoint", NewLimiter(Limit{Requests: 100, Per: time.Minute}, Limit{Requests: 1500, Per: time.Hour}), time.Hour},
		{"scaled", NewLimiter(Limit{Requests: 1500, Per: time.Minute}, Limit{Requests: 100, Per: time.Second}), time.Minute},
	}
	for _, tt := range tests {
		if got := tt.l.Longest(); got != tt.want {
			t.Errorf("%s: Longest = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLimitString(t *testing.T) {
	for l, want := range map[Limit]string{{Requests: 100, Per: time.Minute}: "100/1m", {Requests: 1500, Per: time.Hour}: "1500/1h", {Requests: 30, Per: time.Second}: "30/1s", {Requests: 7, Per: 90 * time.Second}: "7/1m30s"} {
		if got := l.String(); got != want {
			t.Errorf("%#v: %q, want %q", l, got, want)
		}
	}
}

// TestLimiterPause: after a Retry-After, nobody calls before it has passed.
func TestLimiterPause(t *testing.T) {
	l := NewLimiter()
	l.Pause(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s") {
		t.Errorf("Wait during a pause longer than the caller's deadline = %v, want an error at once saying so", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := l.Wait(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
	var nilLimiter *Limiter
	if _, err := nilLimiter.Wait(context.Background()); err != nil {
		t.Errorf("a nil limiter must not limit: %v", err)
	}
	nilLimiter.Pause(time.Second)
}

// TestLimiterWaitBeyondDeadline: a wait for a token longer than the caller's deadline fails at
// once, saying so.
func TestLimiterWaitBeyondDeadline(t *testing.T) {
	l := NewLimiter(Limit{Requests: 1, Per: time.Hour})
	answered, err := l.Wait(context.Background())
	if err != nil {
		t.Fatalf("the first call: %v", err)
	}
	answered()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := l.Wait(ctx); err == nil || !strings.Contains(err.Error(), "rate limit [1/1h] needs a wait") {
		t.Errorf("Wait = %v, want an error at once naming the limit", err)
	}
}
