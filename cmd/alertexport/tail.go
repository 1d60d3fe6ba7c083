package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/sources/envelope"
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
	log := newLogger(cfg.Log, c.stderr)
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
			printAlert(c.stdout, m, *asJSON)
		}
	}
}

// printAlert writes one alert message: its envelope, or a line with time, tenant, source,
// severity, title and id. A dead letter says so.
func printAlert(w io.Writer, m *nats.Msg, asJSON bool) {
	if asJSON {
		fmt.Fprintf(w, "%s\n", m.Data)
		return
	}
	if reason := m.Header.Get(envelope.HeaderError); reason != "" {
		fmt.Fprintf(w, "%s  DEAD-LETTER  %s/%s  %s  (%s)\n", time.Now().UTC().Format(time.TimeOnly),
			m.Header.Get(envelope.HeaderTenant), m.Header.Get(envelope.HeaderSource), reason, m.Subject)
		return
	}
	var a envelope.Alert
	if err := json.Unmarshal(m.Data, &a); err != nil {
		fmt.Fprintf(w, "unreadable message on %s: %v\n", m.Subject, err)
		return
	}
	fmt.Fprintln(w, alertLine(&a))
}

// alertLine is the one-line form of an alert, as a chat-ops bot would post it.
func alertLine(a *envelope.Alert) string {
	title := "(no title)"
	if a.Title != nil {
		title = *a.Title
	}
	if r := []rune(title); len(r) > 90 {
		title = string(r[:89]) + "…"
	}
	return fmt.Sprintf("%s  %-13s  %s/%s  %-7s  %s  (%s)", a.UpdatedAt.UTC().Format("2006-01-02 15:04:05"),
		strings.ToUpper(a.Severity), a.Tenant, a.Source, a.Event, title, a.ID)
}
