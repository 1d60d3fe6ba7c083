package sources

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources/envelope"
)

func TestHorizon(t *testing.T) {
	t.Parallel()
	local := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	for _, c := range []struct {
		name  string
		dates []string // Date headers of the answers, in order ("" = none)
		now   time.Time
		doubt bool
	}{
		{name: "no answer yet", now: local},
		{name: "missing Date", dates: []string{""}, now: local},
		{name: "unreadable Date", dates: []string{"yesterday"}, now: local},
		{name: "server 30s ahead", dates: []string{date(local.Add(30 * time.Second))}, now: local.Add(30 * time.Second)},
		{name: "server 2m behind", dates: []string{date(local.Add(-2 * time.Minute))}, now: local.Add(-2 * time.Minute)},
		{name: "newest Date counts", dates: []string{date(local.Add(-time.Minute)), date(local)}, now: local},
		{name: "wrong Date in 2099", dates: []string{date(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))}, now: local, doubt: true},
		{name: "wrong Date an hour ahead", dates: []string{date(local.Add(time.Hour))}, now: local, doubt: true},
		{name: "wrong Date an hour behind: the earlier counts", dates: []string{date(local.Add(-time.Hour))}, now: local.Add(-time.Hour), doubt: true},
		{name: "wrong Date at the Unix epoch", dates: []string{date(time.Unix(0, 0))}, now: local, doubt: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := NewHorizon(func() time.Time { return local })
			for _, d := range c.dates {
				header := http.Header{}
				if d != "" {
					header.Set("Date", d)
				}
				h.Observe(header)
			}
			if got := h.Now(); !got.Equal(c.now) {
				t.Errorf("Now = %v, want %v", got, c.now)
			}
			if got := h.Limit(); !got.Equal(c.now.Add(Ahead)) {
				t.Errorf("Limit = %v, want %v", got, c.now.Add(Ahead))
			}
			if (h.Doubt() != "") != c.doubt {
				t.Errorf("Doubt = %q, want one: %v", h.Doubt(), c.doubt)
			}
		})
	}
}

func TestHorizonMovesOnWithTheLocalClock(t *testing.T) {
	t.Parallel()
	local := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h := NewHorizon(func() time.Time { return local })
	h.Observe(http.Header{"Date": {local.Add(-time.Minute).Format(http.TimeFormat)}})
	local = local.Add(10 * time.Second)
	if got, want := h.Now(), local.Add(-time.Minute); !got.Equal(want) {
		t.Errorf("Now = %v, want the Date moved on by the time since: %v", got, want)
	}
}

func TestHeld(t *testing.T) {
	t.Parallel()
	limit := time.Date(2026, 12, 4, 12, 1, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), HeldFuture},
		{limit.Add(time.Nanosecond), HeldFuture},
		{limit, ""},
		{time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC), ""},
		{Floor, ""},
		{Floor.Add(-time.Nanosecond), HeldAncient},
		{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), HeldAncient},
		{time.Unix(0, 0), HeldAncient},
	} {
		if got := Held(c.t, limit, false); got != c.want {
			t.Errorf("Held(%v) = %q, want %q", c.t, got, c.want)
		}
	}
	// Sent outside the range asked for: held, unless a date already says why.
	if got := Held(limit.Add(-time.Hour), limit, true); got != HeldOutside {
		t.Errorf("Held(outside) = %q, want %q", got, HeldOutside)
	}
	if got := Held(Floor.Add(-time.Hour), limit, true); got != HeldAncient {
		t.Errorf("Held(outside, before 2000) = %q, want %q", got, HeldAncient)
	}
}

// TestNanosDoesNotWrap: Windows' zero date (1601-01-01) is out of int64 nanoseconds;
// time.UnixNano would make it 2185, a version that moved every cursor past every alert.
func TestNanosDoesNotWrap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64},
		{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), math.MinInt64 + 1},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), math.MaxInt64},
		{time.Date(9999, 12, 31, 23, 59, 58, 0, time.UTC), math.MaxInt64 - 1},
		{time.Unix(0, 42), 42},
	} {
		if got := Nanos(c.t); got != c.want {
			t.Errorf("Nanos(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	// Seen: a 1601 version is known, is not taken for 2185, and is pruned with the old ones.
	s := Seen{}
	zero := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Add("a", zero)
	if !s.Has("a", zero) || s.Has("a", time.Date(2185, 7, 21, 23, 34, 33, 709551616, time.UTC)) {
		t.Errorf("Seen = %v: want the 1601 version, and no 2185 one", s)
	}
	// Two placeholder versions of one alert stay two (they were one when clamped).
	s.Add("b", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if s.Has("b", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)) || s.Has("a", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("versions of 3000 and 9999, or of 1601 and year 1, are taken for one: %v", s)
	}
	s.Prune(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if s.HasAny("a") {
		t.Errorf("a 1601 version survived a prune at 2026: %v", s)
	}
}

// TestSeenShortensLongIDs: an alert ID of a megabyte does not go into the checkpoint whole;
// its key is stable and different from another long ID's.
func TestSeenShortensLongIDs(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	other := long[:len(long)-1] + "y"
	v := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := Seen{}
	s.Add(long, v)
	if !s.Has(long, v) || s.Has(other, v) {
		t.Errorf("long IDs: Has(long) = %v, Has(other) = %v; want true, false", s.Has(long, v), s.Has(other, v))
	}
	for k := range s {
		if len(k) > envelope.MaxIDInMsgID {
			t.Errorf("a key of %d bytes, want at most %d", len(k), envelope.MaxIDInMsgID)
		}
	}
	if k := SeenKey(long); k != SeenKey(strings.Clone(long)) || k == SeenKey(other) {
		t.Error("SeenKey is not stable, or two long IDs share a key")
	}
	if SeenKey("da637472900382838869_1364969609") != "da637472900382838869_1364969609" {
		t.Error("a normal ID is not kept as it is")
	}
}
