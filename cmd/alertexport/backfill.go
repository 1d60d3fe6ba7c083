package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/sources/apis"
)

// backfill is `alertexport backfill`: export a past span again for the chosen jobs, with the
// live export's message IDs and without touching the live checkpoints (app.Backfill).
func (c cli) backfill(ctx context.Context, args []string) int {
	fs := c.newFlags("backfill")
	path := c.configFlag(fs)
	sinceFlag := fs.String("since", "", "start of the span: RFC 3339 (2026-11-01T00:00:00Z) or a duration ago (72h)")
	untilFlag := fs.String("until", "", "end of the span, exclusive (default: now); same forms")
	tenant := fs.String("tenant", "", "only this tenant")
	source := fs.String("source", "", "only this source: "+apis.Names("%s"))
	if code, ok := parse(fs, args); !ok {
		return code
	}
	now := c.now().UTC()
	since, err := parseWhen(*sinceFlag, now)
	if err != nil || *sinceFlag == "" {
		fmt.Fprintf(c.stderr, "backfill: --since %q: want an RFC 3339 time or a duration ago such as 72h\n", *sinceFlag)
		return exitBadConfig
	}
	until := now
	if *untilFlag != "" {
		if until, err = parseWhen(*untilFlag, now); err != nil {
			fmt.Fprintf(c.stderr, "backfill: --until %q: want an RFC 3339 time or a duration ago such as 24h\n", *untilFlag)
			return exitBadConfig
		}
	}
	if !since.Before(until) {
		fmt.Fprintf(c.stderr, "backfill: --since %s is not before --until %s\n", since.Format(time.RFC3339), until.Format(time.RFC3339))
		return exitBadConfig
	}
	cfg, warns, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		return exitBadConfig
	}
	if missing := environmentProblems(warns); missing > 0 {
		fmt.Fprintf(c.stderr, "%d of the warnings above name a secret or file that is missing here; backfill needs them\n", missing)
		return exitBadConfig
	}
	err = app.Backfill(ctx, cfg, c.env, app.NewLogger(cfg.Log, c.stderr), c.stderr,
		app.BackfillOptions{Since: since, Until: until, Tenant: *tenant, Source: *source})
	if err != nil {
		fmt.Fprintf(c.stderr, "backfill: %v\n", err)
	}
	return exitCode(err)
}

// parseWhen reads an RFC 3339 time, or a duration meaning that long before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("not a time or a duration")
	}
	return now.Add(-d), nil
}
