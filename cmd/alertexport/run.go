package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/app"
)

// runCommand is `alertexport run`: export until SIGINT/SIGTERM.
func (c cli) runCommand(ctx context.Context, args []string) int {
	fs := c.newFlags("run")
	path := c.configFlag(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, warns, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		return exitBadConfig
	}
	if missing := environmentProblems(warns); missing > 0 {
		fmt.Fprintf(c.stderr, "%d of the warnings above name a secret or file that is missing here; run needs them\n", missing)
		return exitBadConfig
	}
	return c.export(ctx, cfg, c.env, nil)
}

// export runs the export on cfg until ctx ends; started, if set, is called once it exports.
func (c cli) export(ctx context.Context, cfg *config.Config, env config.LookupEnv, started func(app.Running)) int {
	return exitCode(app.Run(ctx, cfg, env, app.NewLogger(cfg.Log, c.stderr), started))
}

// exitCode is the exit code of a command's outcome: 2 for what the config must fix.
func exitCode(err error) int {
	if _, bad := errors.AsType[*app.ConfigError](err); bad {
		return exitBadConfig
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}

func environmentProblems(warns []config.Problem) int {
	n := 0
	for _, w := range warns {
		if w.Environment {
			n++
		}
	}
	return n
}
