package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/sources/apis"
)

// demo is `alertexport demo`: the export against the built-in simulator and an embedded NATS
// server, printing each alert (app.Demo).
func (c cli) demo(ctx context.Context, args []string) int {
	fs := c.newFlags("demo")
	backlog := fs.Int("alerts", 100, "alerts already waiting in the simulated tenant (the backlog)")
	runFor := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C)")
	listen := fs.String("listen", "", "let outside subscribers reach the embedded NATS server here, e.g. 127.0.0.1:4222")
	srcList := fs.String("sources", "endpoint,cloudapps", "the sources to export, comma-separated: "+apis.Names("%s")+" (graph shows the other two products' alerts and its own; incidents groups Graph's alerts)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	enabled := map[string]bool{}
	for _, s := range strings.Split(*srcList, ",") {
		s = strings.TrimSpace(s)
		if _, ok := apis.Lookup(s); !ok {
			fmt.Fprintf(c.stderr, "demo: --sources: %q is not a source; want %s\n", s, apis.Names("%s"))
			return exitBadConfig
		}
		enabled[s] = true
	}
	if *backlog < 0 {
		fmt.Fprintln(c.stderr, "demo: --alerts must be 0 or more")
		return exitBadConfig
	}
	return exitCode(app.Demo(ctx, app.DemoOptions{Alerts: *backlog, For: *runFor, Listen: *listen, Sources: enabled}, c.stdout, c.stderr, c.now))
}
