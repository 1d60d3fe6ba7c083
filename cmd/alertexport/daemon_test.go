package main

import (
	"context"
	"testing"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sources"
	"github.com/alertexport/alertexport/worker"
)

// TestOlderCursor: a Graph job continues from the oldest point the tenant's endpoint and
// cloudapps jobs would read next — Cloud Apps' resolution cursor included, each less its own
// lookback, an origin when no alert was seen yet — and from nothing without checkpoints.
func TestOlderCursor(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tn := config.Tenant{Name: "contoso", Endpoint: config.Source{Lookback: 10 * time.Minute},
		CloudApps: config.Source{Lookback: 30 * time.Minute}, Graph: config.Source{Lookback: 10 * time.Minute}}
	tests := []struct {
		name     string
		endpoint *sources.Checkpoint
		cloud    *sources.Checkpoint
		want     time.Time
	}{
		{"no checkpoints", nil, nil, time.Time{}},
		{"endpoint only", &sources.Checkpoint{Cursor: base}, nil, base.Add(-10 * time.Minute)},
		{"the resolution cursor lags", &sources.Checkpoint{Cursor: base}, &sources.Checkpoint{Cursor: base.Add(time.Hour), ResolutionCursor: base.Add(-2 * time.Hour)}, base.Add(-150 * time.Minute)},
		{"an origin before any alert", nil, &sources.Checkpoint{Origin: base.Add(-24 * time.Hour)}, base.Add(-24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := worker.NewFileStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for key, cp := range map[string]*sources.Checkpoint{"contoso.endpoint": tt.endpoint, "contoso.cloudapps": tt.cloud} {
				if cp != nil {
					if _, err := st.Save(ctx, key, cp, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			d := &daemon{}
			var s worker.Store = st
			d.store.Store(&s)
			got, err := d.olderCursor(tn)(ctx)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("olderCursor = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if got, err := (&daemon{}).olderCursor(tn)(context.Background()); err != nil || !got.IsZero() {
		t.Errorf("without a store (backfill): %v, %v", got, err)
	}
}
