package main

import (
	"context"
	"fmt"

	"github.com/alertexport/alertexport/internal/app"
)

// status is `alertexport status`: each enabled job's holder, cursor, lag, last success and
// error, read from the shared state (app.Status).
func (c cli) status(ctx context.Context, args []string) int {
	fs := c.newFlags("status")
	path := c.configFlag(fs)
	asJSON := fs.Bool("json", false, "print a JSON array, one object per job, instead of a table")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, _, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		fmt.Fprintf(c.stderr, "%s is invalid\n", *path)
		return exitBadConfig
	}
	if err := app.Status(ctx, cfg, c.env, c.stdout, c.stderr, c.now().UTC(), *asJSON); err != nil {
		fmt.Fprintf(c.stderr, "status: %v\n", err)
		return exitFailure
	}
	return exitOK
}
