package main

import (
	"fmt"

	"github.com/alertexport/alertexport/config"
)

// validate prints the effective config (stdout) and every problem (stderr); exit 2 if invalid.
func (c cli) validate(args []string) int {
	fs := c.newFlags("validate")
	path := c.configFlag(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, warns, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		fmt.Fprintf(c.stderr, "%s is invalid\n", *path)
		return exitBadConfig
	}
	fmt.Fprint(c.stdout, config.Render(cfg, c.env))
	jobs := 0
	for _, t := range cfg.Tenants {
		jobs += len(t.Sources())
	}
	fmt.Fprintf(c.stderr, "%s is valid: %s, %s, %s\n", *path, plural(len(cfg.Tenants), "tenant"), plural(jobs, "job"), plural(len(warns), "warning"))
	return exitOK
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
