package simapi

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The bookkeeping every API's alert store shares: per alert, its revisions in the order stored, each
// with the simulator time from which the service's index shows it; the
// alerts in insertion order (the seeded generators pick from it) and in
// answer order (the server's opaque order). What a revision holds, and what
// counts as a version of an alert, is each API's own.

// Revision is what a history holds: an immutable, pre-rendered state of an
// alert, as each API renders it.
type Revision interface {
	comparable
	VisibleFrom() time.Time // when the index starts showing it
}

// History is one alert's revisions, in the order stored; the last is the
// newest.
type History[R Revision] struct {
	ID    string
	Order uint64 // OpaqueOrder(id)
	Revs  []R
}

// Latest is the newest revision, visible or not.
func (h *History[R]) Latest() R { return h.Revs[len(h.Revs)-1] }

// Visible is the newest revision a query at now sees, or the zero R (nil)
// when none is visible yet.
func (h *History[R]) Visible(now time.Time) R {
	for i := len(h.Revs) - 1; i >= 0; i-- {
		if r := h.Revs[i]; !r.VisibleFrom().After(now) {
			return r
		}
	}
	var none R
	return none
}

// AlertStore is one tenant's alerts. It does no locking: the tenant's mutex
// guards it.
type AlertStore[R Revision] struct {
	OrderOf  func(id string) uint64 // Host.OpaqueOrder
	Alerts   map[string]*History[R]
	Inserted []*History[R] // insertion order: the seeded generator picks from it
	ordered  []*History[R] // answer order (OpaqueOrder), sorted lazily
	sorted   bool
}

// NewAlertStore is an empty store whose alerts are answered in the order
// orderOf gives (Host.OpaqueOrder).
func NewAlertStore[R Revision](orderOf func(id string) uint64) AlertStore[R] {
	return AlertStore[R]{OrderOf: orderOf, Alerts: map[string]*History[R]{}}
}

// Add appends r to the history of alert id, creating the alert when the id
// is unknown.
func (s *AlertStore[R]) Add(id string, r R) {
	h, ok := s.Alerts[id]
	if !ok {
		h = &History[R]{ID: id, Order: s.OrderOf(id)}
		s.Alerts[id] = h
		s.Inserted = append(s.Inserted, h)
		s.ordered = append(s.ordered, h)
		s.sorted = false
	}
	h.Revs = append(h.Revs, r)
}

// PickRandom returns the ids of n distinct alerts chosen with rng (fewer
// when the store holds fewer), in the order drawn.
func (s *AlertStore[R]) PickRandom(rng *rand.Rand, n int) []string {
	n = min(n, len(s.Inserted))
	if n <= 0 {
		return nil
	}
	ids := make([]string, 0, n)
	for _, i := range rng.Perm(len(s.Inserted))[:n] {
		ids = append(ids, s.Inserted[i].ID)
	}
	return ids
}

// InAnswerOrder returns the alerts in answer order: by OpaqueOrder, ties
// (which a 64-bit hash almost never has) by id.
func (s *AlertStore[R]) InAnswerOrder() []*History[R] {
	if !s.sorted {
		slices.SortFunc(s.ordered, func(a, b *History[R]) int {
			return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.ID, b.ID))
		})
		s.sorted = true
	}
	return s.ordered
}

// SortedPage returns s[skip:skip+limit] as slices.SortStableFunc(s, cmp) would order s, without
// sorting all of s: a page of a large answer costs O(len(s) log(skip+limit)) instead of a sort
// of every match, which made the simulator, not the client, the bound of a 100,000-alert
// backlog read a page at a time. s itself is left as it was.
func SortedPage[E any](s []E, skip, limit int, cmp func(a, b E) int) []E {
	k := skip + limit
	if skip >= len(s) || limit <= 0 {
		return nil
	}
	// before orders by cmp, then by position: the order a stable sort gives.
	before := func(i, j int) bool {
		c := cmp(s[i], s[j])
		return c < 0 || c == 0 && i < j
	}
	// heap is a max-heap (by before) of the k first positions seen so far.
	heap := make([]int, 0, min(k, len(s)))
	down := func(i int) {
		for {
			l, big := 2*i+1, i
			if l < len(heap) && before(heap[big], heap[l]) {
				big = l
			}
			if r := l + 1; r < len(heap) && before(heap[big], heap[r]) {
				big = r
			}
			if big == i {
				return
			}
			heap[i], heap[big] = heap[big], heap[i]
			i = big
		}
	}
	for i := range s {
		switch {
		case len(heap) < k:
			heap = append(heap, i)
			for j := len(heap) - 1; j > 0; {
				p := (j - 1) / 2
				if !before(heap[p], heap[j]) {
					break
				}
				heap[p], heap[j] = heap[j], heap[p]
				j = p
			}
		case before(i, heap[0]):
			heap[0] = i
			down(0)
		}
	}
	slices.SortFunc(heap, func(i, j int) int {
		if before(i, j) {
			return -1
		}
		return 1
	})
	out := make([]E, 0, len(heap)-skip)
	for _, i := range heap[skip:] {
		out = append(out, s[i])
	}
	return out
}
