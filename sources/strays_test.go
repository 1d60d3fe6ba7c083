package sources

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestStraySet: a version that may not move the cursor is remembered for as long as the API
// keeps sending it (every poll reads it again, so it must be known), and forgotten at the end
// of the first poll that did not meet it; a poll that stops midway forgets nothing.
func TestStraySet(t *testing.T) {
	t.Parallel()
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	zero := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	first := NewStraySet(nil)
	if first.Known("a", y2099) {
		t.Fatal("an empty set knows a version")
	}
	limit := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if err := first.Add("a", y2099, limit); err != nil {
		t.Fatal(err)
	}
	if err := first.Add("b", zero, limit); err != nil {
		t.Fatal(err)
	}
	if !first.Known("a", y2099) || !first.HasAny("b") {
		t.Fatal("a stray added is not known")
	}
	saved := first.Saved(true)

	second := NewStraySet(saved) // the API sends a again, not b
	if !second.Known("a", y2099) {
		t.Fatal("a stray from the checkpoint is not known")
	}
	if mid := second.Saved(false); !mid.Has("b", zero) {
		t.Errorf("a checkpoint midway forgot b, which the rest of the poll may still meet: %v", mid)
	}
	end := second.Saved(true)
	if !end.Has("a", y2099) || end.HasAny("b") {
		t.Errorf("at the end = %v: want a kept (met again) and b forgotten (not sent any more)", end)
	}
	if NewStraySet(nil).Saved(true) != nil {
		t.Error("an empty set saves something")
	}
}

// TestStraySetPromotes: versions held back while the API's Date and this machine's clock
// disagreed become ordinary ones, in Seen, once they may move a cursor; those below the poll's
// floor, still in the future, or not met this poll stay strays.
func TestStraySetPromotes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	floor, limit := now.Add(-10*time.Minute), now.Add(Ahead)
	prev := Seen{}
	for id, v := range map[string]time.Time{"plausible": now.Add(-time.Minute), "below": now.Add(-time.Hour),
		"future": now.Add(time.Hour), "unmet": now.Add(-2 * time.Minute)} {
		prev.Add(id, v)
	}
	s := NewStraySet(prev)
	for _, id := range []string{"plausible", "below", "future"} {
		if !s.HasAny(id) {
			t.Fatalf("%s is not in the set", id)
		}
	}
	s.Known("plausible", now.Add(-time.Minute))
	s.Known("below", now.Add(-time.Hour))
	s.Known("future", now.Add(time.Hour))
	seen := Seen{}
	if got := s.Promote(seen, floor, limit); !got.Equal(now.Add(-time.Minute)) {
		t.Errorf("Promote = %v, want the plausible one's time", got)
	}
	if !seen.Has("plausible", now.Add(-time.Minute)) || seen.Len() != 1 {
		t.Errorf("Seen = %v, want the plausible version only", seen)
	}
	end := s.Saved(true)
	if end.HasAny("plausible") || !end.HasAny("below") || !end.HasAny("future") || end.HasAny("unmet") {
		t.Errorf("strays at the end = %v: want below and future", end)
	}
}

// TestStraySetIsBounded: past MaxStrays the poll fails with a reason, instead of remembering
// ever more (every version is held back when the clocks disagree by far); dead letters without
// a version count too, and each is published once.
func TestStraySetIsBounded(t *testing.T) {
	t.Parallel()
	s := NewStraySet(nil)
	limit := time.Date(2026, 12, 4, 12, 1, 0, 0, time.UTC)
	for i := range MaxStrays - 1 {
		if err := s.Add(fmt.Sprint("a", i), limit.Add(time.Hour), limit); err != nil {
			t.Fatalf("stray %d: %v", i, err)
		}
	}
	if known, err := s.DeadLetter("contoso.cloudapps.deadletter.42a7"); known || err != nil {
		t.Fatalf("a new dead letter: known %v, %v", known, err)
	}
	if known, err := s.DeadLetter("contoso.cloudapps.deadletter.42a7"); !known || err != nil {
		t.Errorf("a dead letter met again: known %v, %v; want it known", known, err)
	}
	err := s.Add("one too many", limit.Add(time.Hour), limit)
	if !errors.Is(err, ErrTooManyStrays) {
		t.Fatalf("Add past MaxStrays = %v, want ErrTooManyStrays", err)
	}
	t.Log(err)
}
