// Package app assembles alertexport: config → the API registry → sources, sink, checkpoint
// store, worker. Each command of cmd/alertexport is one call here (Run, Backfill, Status, Demo);
// the command only parses its flags and turns the result into an exit code.
package app

import (
	"io"
	"log/slog"

	"github.com/alertexport/alertexport/config"
)

// ConfigError is a failure the config (or the command line) must fix: running again unchanged
// would fail the same way. Commands exit 2 on it, 1 on any other error.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// NewLogger builds the process logger on w (stderr) in the configured format.
func NewLogger(l config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.Level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
