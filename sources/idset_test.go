package sources

import (
	"fmt"
	"testing"
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
