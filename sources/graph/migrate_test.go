package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/sources/graph"
)

// TestOlderCursor: a Graph job continues from the oldest point the tenant's endpoint and
// cloudapps jobs would read next — Cloud Apps' resolution cursor included, each less its own
// lookback (at least Graph's), an origin when no alert was seen yet — and from nothing without
// checkpoints.
func TestOlderCursor(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	older := []graph.Older{{Key: "contoso.endpoint", Lookback: 10 * time.Minute}, {Key: "contoso.cloudapps", Lookback: 30 * time.Minute}}
	tests := []struct {
		name     string
		endpoint sources.Checkpoint
		cloud    sources.Checkpoint
		lookback time.Duration // Graph's
		want     time.Time
	}{
		{"no checkpoints", sources.Checkpoint{}, sources.Checkpoint{}, 10 * time.Minute, time.Time{}},
		{"endpoint only", sources.Checkpoint{Cursor: base}, sources.Checkpoint{}, 10 * time.Minute, base.Add(-10 * time.Minute)},
		{"the resolution cursor lags", sources.Checkpoint{Cursor: base}, sources.Checkpoint{Cursor: base.Add(time.Hour), ResolutionCursor: base.Add(-2 * time.Hour)}, 10 * time.Minute, base.Add(-150 * time.Minute)},
		{"an origin before any alert", sources.Checkpoint{}, sources.Checkpoint{Origin: base.Add(-24 * time.Hour)}, 10 * time.Minute, base.Add(-24 * time.Hour)},
		{"Graph's lookback is longer", sources.Checkpoint{Cursor: base}, sources.Checkpoint{}, time.Hour, base.Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cps := map[string]sources.Checkpoint{"contoso.endpoint": tt.endpoint, "contoso.cloudapps": tt.cloud}
			load := func(_ context.Context, key string) (sources.Checkpoint, error) { return cps[key], nil }
			got, err := graph.OlderCursor(load, tt.lookback, older)(context.Background())
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("OlderCursor = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	t.Run("a store that fails", func(t *testing.T) {
		t.Parallel()
		broken := errors.New("bucket gone")
		load := func(context.Context, string) (sources.Checkpoint, error) { return sources.Checkpoint{}, broken }
		if _, err := graph.OlderCursor(load, time.Minute, older)(context.Background()); !errors.Is(err, broken) {
			t.Errorf("err = %v; want %v", err, broken)
		}
	})
}
