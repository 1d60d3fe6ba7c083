package graph

import (
	"context"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/apis"
)

// Older is one of a tenant's older jobs (endpoint, cloudapps) a Graph job may continue from:
// its checkpoint key and its lookback.
type Older struct {
	Key      string
	Lookback time.Duration
}

// ContinueFromOlder makes the source continue from where the tenant's endpoint and cloudapps
// jobs stand (OlderCursor), reading their checkpoints with load; lookback gives a source's
// lookback by its name. It is sources.Continuer, so the assembly needs to know no API by name.
func (s *Source) ContinueFromOlder(load sources.LoadCheckpoint, lookback func(source string) time.Duration) {
	older := make([]Older, 0, 2)
	for _, name := range []string{apis.Endpoint.Name, apis.CloudApps.Name} {
		older = append(older, Older{Key: s.id.Tenant + "." + name, Lookback: lookback(name)})
	}
	s.ContinueFrom(OlderCursor(load, s.lookback, older))
}

// OlderCursor is the func ContinueFrom wants: from when the tenant's older jobs would read
// next — each cursor (Cloud Apps' resolution cursor too) less that job's lookback, or its
// origin before any alert — so that a tenant switched to Graph starts where they stopped.
// lookback is the Graph job's own: a job whose table was removed has none, and each older job
// reaches back at least that far.
func OlderCursor(load sources.LoadCheckpoint, lookback time.Duration, older []Older) func(context.Context) (time.Time, error) {
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
