package simapi

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"
)

// GenerateRange resolves the From and To of a generator's options (both
// zero means now; if only one is set, it is used for both) and rounds them
// inward to the API's precision: From up, To down, and To no earlier than
// From. It panics, naming caller, if To is before From.
func GenerateRange(from, to time.Time, now func() time.Time, precision time.Duration, caller string) (time.Time, time.Time) {
	switch {
	case from.IsZero() && to.IsZero():
		from = now()
		to = from
	case from.IsZero():
		from = to
	case to.IsZero():
		to = from
	}
	if to.Before(from) {
		panic(fmt.Sprintf("simulator: %s: To %v is before From %v", caller, to, from))
	}
	from = from.UTC()
	if c := from.Truncate(precision); c.Before(from) { // ceiling
		from = c.Add(precision)
	}
	to = to.UTC().Truncate(precision)
	if to.Before(from) {
		to = from
	}
	return from, to
}

// Draws are the random choices the alert generators make, from the
// tenant's seeded rng (used under the tenant's lock).
type Draws struct {
	RNG *rand.Rand
}

// Pick is one element of list.
func (d Draws) Pick(list []string) string { return list[d.RNG.IntN(len(list))] }

// Chance is true with probability p.
func (d Draws) Chance(p float64) bool { return d.RNG.Float64() < p }

// WeightedIndex picks i with probability weights[i]/sum.
func (d Draws) WeightedIndex(weights ...int) int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	x := d.RNG.IntN(sum)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// Hex is n random lower-case Hex digits.
func (d Draws) Hex(n int) string {
	b := make([]byte, (n+1)/2)
	for i := range b {
		b[i] = byte(d.RNG.Uint32())
	}
	return hex.EncodeToString(b)[:n]
}

// GUID is a random (version 4) GUID.
func (d Draws) GUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(d.RNG.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatGUID(b)
}
