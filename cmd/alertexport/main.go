// Command alertexport exports Microsoft Defender alerts to NATS. This package only parses the
// command line, makes one call into internal/app per command and turns its outcome into an
// exit code; see docs/commands.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alertexport/alertexport/config"
)

// Exit codes (docs/commands.md).
const (
	exitOK        = 0
	exitFailure   = 1
	exitBadConfig = 2 // also bad usage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C or SIGTERM is not caught: it ends the process at once
	}()
	stopProfiles := profile(os.LookupEnv, os.Stderr)
	code := run(ctx, os.Args[1:], cli{stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv, now: time.Now})
	stopProfiles()
	stop()
	os.Exit(code)
}

// lockedWriter writes one Write at a time: the log, the embedded NATS server's log and
// backfill's progress lines all go to stderr, each from goroutines of its own, and a writer
// such as a test's bytes.Buffer is not safe for that (nor would the lines stay whole).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// cli is what a command may touch of the outside world; tests supply their own.
type cli struct {
	stdout, stderr io.Writer
	env            config.LookupEnv
	now            func() time.Time
}

const usage = `alertexport exports Microsoft Defender alerts to NATS.

Usage:
  alertexport run [--config FILE]                      export alerts to NATS until SIGINT/SIGTERM
  alertexport demo [--alerts N] [--for DURATION] [--listen ADDR]
                                                       the export against the built-in simulator and NATS
  alertexport backfill --since TIME [--until TIME] [--tenant NAME] [--source NAME] [--config FILE]
                                                       export a past span again; live checkpoints stay
  alertexport tail [--config FILE] [--subject PATTERN] [--json]
                                                       print the alerts published on NATS
  alertexport status [--config FILE] [--json]          each job's holder, cursor, lag, last success and error
  alertexport validate [--config FILE]                 check the config, print it with defaults applied
  alertexport auth check [--config FILE] [--tenant NAME]
                                                       get a token per enabled source and check its roles
  alertexport consent-url --client-id ID [--cloud NAME] [--tenant ID|DOMAIN]
                                                       print the admin-consent link of a multi-tenant app
  alertexport version                                  print the version

The config file is --config, else $ALERTEXPORT_CONFIG, else ./config.toml.
`

func run(ctx context.Context, args []string, c cli) int {
	c.stderr = &lockedWriter{w: c.stderr}
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitBadConfig
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return c.runCommand(ctx, rest)
	case "demo":
		return c.demo(ctx, rest)
	case "tail":
		return c.tail(ctx, rest)
	case "backfill":
		return c.backfill(ctx, rest)
	case "status":
		return c.status(ctx, rest)
	case "validate":
		return c.validate(rest)
	case "auth":
		if len(rest) > 0 && rest[0] == "check" {
			return c.authCheck(ctx, rest[1:])
		}
		fmt.Fprintf(c.stderr, "alertexport auth: want \"auth check\"\n\n%s", usage)
		return exitBadConfig
	case "consent-url":
		return c.consentURL(rest)
	case "version", "--version":
		return c.version()
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "alertexport: unknown command %q\n\n%s", cmd, usage)
		return exitBadConfig
	}
}
