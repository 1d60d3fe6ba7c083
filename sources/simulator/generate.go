package simulator

import (
	"fmt"
	"time"
)

// generateRange resolves the From and To of a generator's options (both
// zero means now; if only one is set, it is used for both) and rounds them
// inward to the API's precision: From up, To down, and To no earlier than
// From. It panics, naming caller, if To is before From.
func generateRange(from, to time.Time, now func() time.Time, precision time.Duration, caller string) (time.Time, time.Time) {
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
