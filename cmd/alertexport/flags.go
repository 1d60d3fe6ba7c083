package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/alertexport/alertexport/config"
)

// newFlags returns a flag set that reports errors instead of exiting.
func (c cli) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("alertexport "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// parse parses args; ok is false when the command should stop with code.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitBadConfig, false
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitBadConfig, false
	}
	return 0, true
}

// configFlag adds --config with its documented default.
func (c cli) configFlag(fs *flag.FlagSet) *string {
	def := "config.toml"
	if v, ok := c.env("ALERTEXPORT_CONFIG"); ok && v != "" {
		def = v
	}
	return fs.String("config", def, "config file (default $ALERTEXPORT_CONFIG or ./config.toml)")
}

// loadConfig loads and validates path, printing problems and warnings to w. ok is false when
// the config is invalid.
func (c cli) loadConfig(path string, w io.Writer) (*config.Config, []config.Problem, bool) {
	cfg, warns, err := config.Load(path, c.env)
	for _, p := range warns {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
	if err != nil {
		fmt.Fprintln(w, err)
		return nil, warns, false
	}
	return cfg, warns, true
}
