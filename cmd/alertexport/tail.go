package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/sinks/natsconn"
)

// tail is `alertexport tail`: print the alerts published on NATS, one line each.
func (c cli) tail(ctx context.Context, args []string) int {
	fs := c.newFlags("tail")
	path := c.configFlag(fs)
	subject := fs.String("subject", "", "subject pattern to subscribe to (default: <first token of nats.subject>.>)")
	asJSON := fs.Bool("json", false, "print each envelope as JSON instead of a line")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, _, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		return exitBadConfig
	}
	n := cfg.NATS
	if n.URL == "" {
		// The daemon's embedded server, with the credentials it requires.
		var ok bool
		if n, ok = natsconn.EmbeddedClient(n); !ok {
			fmt.Fprintln(c.stderr, "tail: nats.url is empty (embedded server) and nats.embedded_listen is not set, so nothing outside `run` can reach the server; set embedded_listen (e.g. \"127.0.0.1:4222\") or nats.url")
			return exitBadConfig
		}
	}
	if *subject == "" {
		*subject = strings.SplitN(n.Subject, ".", 2)[0] + ".>"
	}
	log := app.NewLogger(cfg.Log, c.stderr)
	nc, err := natsconn.Connect(ctx, n, c.env, natsconn.Options{Logger: log})
	if err != nil {
		if ctx.Err() != nil {
			return exitOK // stopped while connecting
		}
		fmt.Fprintf(c.stderr, "tail: %v\n", err)
		return exitFailure
	}
	defer nc.Close()
	ch := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(*subject, ch)
	if err != nil {
		fmt.Fprintf(c.stderr, "tail: subscribe %q: %v\n", *subject, err)
		return exitBadConfig
	}
	defer sub.Unsubscribe() //nolint:errcheck // closing anyway
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case m := <-ch:
			app.PrintAlert(c.stdout, m, *asJSON)
		}
	}
}
