package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The bookkeeping both alert stores share (endpoint_store.go,
// cloudapps_store.go): per alert, its revisions in the order stored, each
// with the simulator time from which the service's index shows it; the
// alerts in insertion order (the seeded generators pick from it) and in
// answer order (opaqueOrder, server.go). What a revision holds, and what
// counts as a version of an alert, is each API's own.

// revision is what a history holds: an immutable, pre-rendered state of an
// alert (*endpointVersion, *cloudAppsRevision).
type revision interface {
	comparable
	visibleFrom() time.Time // when the index starts showing it
}

// history is one alert's revisions, in the order stored; the last is the
// newest.
type history[R revision] struct {
	id    string
	order uint64 // opaqueOrder(id)
	revs  []R
}

func (h *history[R]) latest() R { return h.revs[len(h.revs)-1] }

// visible is the newest revision a query at now sees, or the zero R (nil)
// when none is visible yet.
func (h *history[R]) visible(now time.Time) R {
	for i := len(h.revs) - 1; i >= 0; i-- {
		if r := h.revs[i]; !r.visibleFrom().After(now) {
			return r
		}
	}
	var none R
	return none
}

// alertStore is one tenant's alerts. It does no locking: the tenant's mutex
// guards it.
type alertStore[R revision] struct {
	orderOf  func(id string) uint64 // the server's opaqueOrder
	alerts   map[string]*history[R]
	inserted []*history[R] // insertion order: the seeded generator picks from it
	ordered  []*history[R] // answer order (opaqueOrder), sorted lazily
	sorted   bool
}

func newAlertStore[R revision](orderOf func(id string) uint64) alertStore[R] {
	return alertStore[R]{orderOf: orderOf, alerts: map[string]*history[R]{}}
}

// add appends r to the history of alert id, creating the alert when the id
// is unknown.
func (s *alertStore[R]) add(id string, r R) {
	h, ok := s.alerts[id]
	if !ok {
		h = &history[R]{id: id, order: s.orderOf(id)}
		s.alerts[id] = h
		s.inserted = append(s.inserted, h)
		s.ordered = append(s.ordered, h)
		s.sorted = false
	}
	h.revs = append(h.revs, r)
}

// pickRandom returns the ids of n distinct alerts chosen with rng (fewer
// when the store holds fewer), in the order drawn.
func (s *alertStore[R]) pickRandom(rng *rand.Rand, n int) []string {
	n = min(n, len(s.inserted))
	if n <= 0 {
		return nil
	}
	ids := make([]string, 0, n)
	for _, i := range rng.Perm(len(s.inserted))[:n] {
		ids = append(ids, s.inserted[i].id)
	}
	return ids
}

// inAnswerOrder returns the alerts in answer order: by opaqueOrder, ties
// (which a 64-bit hash almost never has) by id.
func (s *alertStore[R]) inAnswerOrder() []*history[R] {
	if !s.sorted {
		slices.SortFunc(s.ordered, func(a, b *history[R]) int {
			return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.id, b.id))
		})
		s.sorted = true
	}
	return s.ordered
}

// sortedPage returns s[skip:skip+limit] as slices.SortStableFunc(s, cmp) would order s, without
// sorting all of s: a page of a large answer costs O(len(s) log(skip+limit)) instead of a sort
// of every match, which made the simulator, not the client, the bound of a 100,000-alert
// backlog read a page at a time. s itself is left as it was.
func sortedPage[E any](s []E, skip, limit int, cmp func(a, b E) int) []E {
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
