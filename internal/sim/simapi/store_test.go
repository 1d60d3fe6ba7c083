package simapi

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortedPage: a page taken by sortedPage is the same page of the stably sorted slice, ties
// in their original order, for pages at the start, in the middle, at the end and past it.
func TestSortedPage(t *testing.T) {
	type item struct{ key, pos int }
	byKey := func(a, b item) int { return cmp.Compare(a.key, b.key) }
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name              string
		n, keys           int
		skip, limit       int
		descending, empty bool
	}{
		{name: "first page", n: 1000, keys: 50, limit: 100},
		{name: "a middle page", n: 1000, keys: 50, skip: 400, limit: 100},
		{name: "the last, short page", n: 1000, keys: 50, skip: 950, limit: 100},
		{name: "every key distinct", n: 500, keys: 1 << 30, skip: 10, limit: 7},
		{name: "one key: the original order", n: 300, keys: 1, skip: 5, limit: 100},
		{name: "descending", n: 1000, keys: 20, skip: 30, limit: 100, descending: true},
		{name: "more than there is", n: 40, keys: 5, limit: 100},
		{name: "past the end", n: 40, keys: 5, skip: 40, limit: 100, empty: true},
		{name: "no limit", n: 40, keys: 5, limit: 0, empty: true},
		{name: "nothing", n: 0, keys: 5, limit: 100, empty: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := make([]item, tt.n)
			for i := range s {
				s[i] = item{key: rng.IntN(tt.keys), pos: i}
			}
			order := byKey
			if tt.descending {
				order = func(a, b item) int { return -byKey(a, b) }
			}
			orig := slices.Clone(s)
			got := SortedPage(s, tt.skip, tt.limit, order)
			if !slices.Equal(s, orig) {
				t.Fatal("sortedPage changed its input")
			}
			sorted := slices.Clone(s)
			slices.SortStableFunc(sorted, order)
			var want []item
			if tt.skip < len(sorted) && tt.limit > 0 {
				want = sorted[tt.skip:min(len(sorted), tt.skip+tt.limit)]
			}
			if !slices.Equal(got, want) || tt.empty != (len(got) == 0) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}
