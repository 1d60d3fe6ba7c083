package sources

import (
	"fmt"
	"testing"
	"time"
)

func TestIDSet(t *testing.T) {
	s := NewIDSet()
	for i := range 100_000 {
		s.Add(fmt.Sprintf("da6374729003828388%02d_%d", i%100, i))
	}
	s.Add("da637472900382838800_0") // again
	if s.Len() != 100_000 {
		t.Errorf("Len = %d, want 100000", s.Len())
	}
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"da637472900382838800_0", true},
		{"da637472900382838899_99999", true},
		{"da637472900382838800_100000", false},
		{"", false},
	} {
		if got := s.Has(c.id); got != c.want {
			t.Errorf("Has(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

func TestVersionSet(t *testing.T) {
	s := NewVersionSet()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 1234500, time.UTC)
	s.Add("da1", t0)
	for _, c := range []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"da1", t0, true},
		{"da1", t0.Add(100 * time.Nanosecond), false}, // another version of the same alert
		{"da2", t0, false},                            // the same time, another alert
	} {
		if got := s.Has(c.id, c.at); got != c.want {
			t.Errorf("Has(%s, %v) = %v, want %v", c.id, c.at, got, c.want)
		}
	}
}
