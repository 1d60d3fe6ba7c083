package graph

import (
	"context"
	"time"

	"github.com/alertexport/alertexport/sources"
)

// Older is one of a tenant's older jobs (endpoint, cloudapps) a Graph job may continue from:
// its checkpoint key and its lookback.
type Older struct {
	Key      string
	Lookback time.Duration
}

// LoadCheckpoint reads a job's checkpoint; a key never saved, or no store at all, reads as the
// zero checkpoint.
type LoadCheckpoint func(ctx context.Context, key string) (sources.Checkpoint, error)

// OlderCursor is the func ContinueFrom wants: from when the tenant's older jobs would read
// next — each cursor (Cloud Apps' resolution cursor too) less that job's lookback, or its
// origin before any alert — so that a tenant switched to Graph starts where they stopped.
// lookback is the Graph job's own: a job whose table was removed has none, and each older job
// reaches back at least that far.
func OlderCursor(load LoadCheckpoint, lookback time.Duration, older []Older) func(context.Context) (time.Time, error) {
	return func(ctx context.Context) (time.Time, error) {
		var from time.Time
		take := func(at time.Time) {
			if !at.IsZero() && (from.IsZero() || at.Before(from)) {
				from = at
			}
		}
		for _, o := range older {
			cp, err := load(ctx, o.Key)
			if err != nil {
				return time.Time{}, err
			}
			lb := max(o.Lookback, lookback)
			if cp.Cursor.IsZero() {
				take(cp.Origin)
				continue
			}
			take(cp.Cursor.Add(-lb))
			if !cp.ResolutionCursor.IsZero() {
				take(cp.ResolutionCursor.Add(-lb))
			}
		}
		return from, nil
	}
}
