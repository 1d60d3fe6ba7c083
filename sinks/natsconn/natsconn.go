// Package natsconn opens alertexport's NATS connection: to an external server (nats.url, with every
// auth and TLS option of docs/configuration.md), or in-process to the embedded server it can also
// start. Both connections reconnect forever and report their state through slog and a callback, so
// that a daemon outlives NATS restarts and /readyz can tell whether NATS is reachable.
package natsconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/alertexport/alertexport/config"
)

// Name is the connection name the server shows (nats server report connections, /connz).
const Name = "alertexport"

const (
	// defaultReconnectWait paces attempts while the server is away: fast enough to be back
	// seconds after a NATS restart, slow enough not to hammer a server that is down.
	defaultReconnectWait = 2 * time.Second
	// pingInterval detects a dead TCP path (no RST, e.g. a vanished load balancer) within
	// about a minute instead of nats.go's default of up to six.
	pingInterval = 20 * time.Second
	maxPingsOut  = 3
)

// Options are what the caller adds to a connection.
type Options struct {
	// Logger receives disconnects, reconnects and asynchronous errors. nil discards them.
	Logger *slog.Logger
	// OnStatus, when set, is called with true whenever the connection is (re)established and
	// with false whenever it is lost or closed; calls are serialized and the last one reflects
	// the current state. It lets the worker's /readyz follow NATS.
	OnStatus func(connected bool)
	// OnClosed, when set, is called once nats.go has closed the connection for good — it never
	// reconnects after that: the server refused a protocol line with an -ERR such as "maximum
	// control line exceeded" — with nats.go's last error. A Close or Drain of the program's own
	// ends here too (the error then nil, unless one came before): the caller tells them apart.
	OnClosed func(err error)

	reconnectWait time.Duration // tests shorten it; zero means defaultReconnectWait
}

// Connect connects to the external server(s) of cfg.URL (a comma-separated list is allowed)
// with the authentication and TLS options cfg names, and returns once connected. While no
// server is reachable it keeps trying (a daemon started before NATS waits instead of exiting)
// and logs why, until ctx ends. Credentials the server refuses and certificates that do not
// verify end the wait at once with an error: retrying would not fix them.
//
// Once connected it never gives up reconnecting; on a server's second identical auth refusal
// it keeps trying too, so rotated credentials files are picked up (nats.go re-reads them at
// every connect).
func Connect(ctx context.Context, cfg config.NATS, env config.LookupEnv, o Options) (*nats.Conn, error) {
	if cfg.URL == "" {
		return nil, errors.New("natsconn: nats.url is empty; an empty url means the embedded server (StartEmbedded and ConnectEmbedded)")
	}
	auth, err := authOptions(cfg, env)
	if err != nil {
		return nil, err
	}
	w := newWatcher(o)
	opts := append(w.options(),
		nats.RetryOnFailedConnect(true),
		nats.IgnoreAuthErrorAbort(),
	)
	opts = append(opts, auth...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsconn: connecting to nats.url %s: %w", redactURLs(cfg.URL), err)
	}
	w.report(nc) // "not connected" until the first connect, if it did not happen at once
	if err := w.waitConnected(ctx, nc, cfg); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsconn: not connected to nats.url %s: %w", redactURLs(cfg.URL), err)
	}
	w.handOver(nc)
	return nc, nil
}

// ConnectEmbedded connects in-process to s (see StartEmbedded), without a socket, with the
// credentials of cfg that s requires.
func ConnectEmbedded(s *server.Server, cfg config.NATS, env config.LookupEnv, o Options) (*nats.Conn, error) {
	auth, err := authOptions(embeddedClient(cfg), env)
	if err != nil {
		return nil, err
	}
	w := newWatcher(o)
	nc, err := nats.Connect("", append(append(w.options(), nats.InProcessServer(s)), auth...)...)
	if err != nil {
		return nil, fmt.Errorf("natsconn: connecting to the embedded NATS server: %w", err)
	}
	w.report(nc)
	w.handOver(nc)
	return nc, nil
}

// watcher turns nats.go's connection callbacks into logs, OnStatus calls and, during the first
// connect, the reason the server is not reachable.
type watcher struct {
	log      *slog.Logger
	onStatus func(bool)
	onClosed func(error)
	wait     time.Duration

	statusMu sync.Mutex // serializes OnStatus so the last call is the current state

	mu      sync.Mutex
	lastErr error         // the newest reason a (re)connect attempt failed
	errs    chan struct{} // signalled when lastErr changes, while Connect waits

	handed    atomic.Bool // the connection is the caller's (handOver): its close is OnClosed's
	closeOnce sync.Once
}

// handOver gives nc to the caller: from now on its close is told to OnClosed. (A close before,
// when Connect gives up waiting, is Connect's own error.) A close that came meanwhile is told
// now.
func (w *watcher) handOver(nc *nats.Conn) {
	w.handed.Store(true)
	if nc.IsClosed() {
		w.closed(nc.LastError())
	}
}

// closed tells OnClosed, once, of a handed-over connection's close.
func (w *watcher) closed(err error) {
	if w.onClosed != nil && w.handed.Load() {
		w.closeOnce.Do(func() { w.onClosed(err) })
	}
}

func newWatcher(o Options) *watcher {
	w := &watcher{log: o.Logger, onStatus: o.OnStatus, onClosed: o.OnClosed, wait: o.reconnectWait, errs: make(chan struct{}, 1)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.wait <= 0 {
		w.wait = defaultReconnectWait
	}
	w.log = w.log.With("component", "nats")
	return w
}

func (w *watcher) options() []nats.Option {
	return []nats.Option{
		nats.Name(Name),
		nats.MaxReconnects(-1), // nats.go's default (60) would close the connection for good after ~2 min
		// A stop drains; nats.go's default of 30 s would take most of a container's stop timeout.
		nats.DrainTimeout(5 * time.Second),
		nats.ReconnectWait(w.wait),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(func(nc *nats.Conn) {
			w.log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
			w.report(nc)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			w.log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
			w.setErr(nil)
			w.report(nc)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			// err is nil on a deliberate Close or Drain.
			if err != nil {
				w.log.Warn("disconnected from NATS; reconnecting", "err", err)
			}
			w.report(nc)
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			// Every ReconnectWait while the server is away: warn when the reason changes, the
			// rest at debug.
			if w.setErr(err) {
				w.log.Warn("cannot reach NATS; retrying", "err", err, "every", w.wait.String())
			} else {
				w.log.Debug("cannot reach NATS; retrying", "err", err)
			}
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			err := nc.LastError()
			if err != nil {
				w.log.Info("NATS connection closed", "err", err)
			} else {
				w.log.Info("NATS connection closed")
			}
			w.report(nc)
			w.closed(err)
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				w.log.Error("NATS error", "subject", sub.Subject, "err", err)
				return
			}
			w.log.Error("NATS error", "err", err)
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			w.log.Warn("NATS server is entering lame duck mode; will reconnect to another", "server", nc.ConnectedServerName())
		}),
	}
}

// report tells OnStatus the connection's state as it is now.
func (w *watcher) report(nc *nats.Conn) {
	if w.onStatus == nil {
		return
	}
	w.statusMu.Lock()
	defer w.statusMu.Unlock()
	w.onStatus(nc.IsConnected())
}

// setErr records why the last attempt failed and reports whether that reason is new.
func (w *watcher) setErr(err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := (err == nil) != (w.lastErr == nil) || err != nil && err.Error() != w.lastErr.Error()
	w.lastErr = err
	if changed && err != nil {
		select {
		case w.errs <- struct{}{}:
		default:
		}
	}
	return changed
}

func (w *watcher) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// waitConnected returns once nc is connected, or with why not when ctx ends, the connection
// closes or a connect attempt failed in a way retrying cannot fix.
func (w *watcher) waitConnected(ctx context.Context, nc *nats.Conn, cfg config.NATS) error {
	ch := nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(ch)
	for {
		if nc.IsConnected() {
			return nil
		}
		if nc.IsClosed() {
			return fmt.Errorf("connection closed: %w", cmpErr(nc.LastError(), w.err()))
		}
		if err := w.err(); fatalConnectErr(err) {
			return fmt.Errorf("%w%s", err, fixHint(err, cfg))
		}
		select {
		case <-ch:
		case <-w.errs:
		case <-ctx.Done():
			if err := w.err(); err != nil {
				return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
			}
			return ctx.Err()
		}
	}
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return errors.New("no reason given")
}

// fatalConnectErr reports whether a failed first connect is a configuration problem:
// the server refused the credentials, or its certificate did not verify.
func fatalConnectErr(err error) bool {
	if err == nil {
		return false
	}
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

func fixHint(err error, cfg config.NATS) string {
	if !errors.Is(err, nats.ErrAuthorization) && !errors.Is(err, nats.ErrAuthExpired) &&
		!errors.Is(err, nats.ErrAuthRevoked) && !errors.Is(err, nats.ErrAccountAuthExpired) {
		return "; the server's certificate did not verify: set nats.ca_file to the CA that signed it, and connect by a name (or IP) the certificate lists"
	}
	var used string
	switch {
	case cfg.CredsFile != "":
		used = fmt.Sprintf("the user in nats.creds_file %q", cfg.CredsFile)
	case cfg.NkeySeedFile != "":
		used = fmt.Sprintf("the nkey of nats.nkey_seed_file %q", cfg.NkeySeedFile)
	case cfg.TokenEnv != "":
		used = fmt.Sprintf("the token in $%s (nats.token_env)", cfg.TokenEnv)
	case cfg.User != "":
		used = fmt.Sprintf("user %q with the password in $%s (nats.password_env)", cfg.User, cfg.PasswordEnv)
	case cfg.CertFile != "":
		used = fmt.Sprintf("the certificate of nats.cert_file %q", cfg.CertFile)
	default:
		return "; the server requires credentials: set nats.creds_file, nats.nkey_seed_file, nats.token_env or nats.user and nats.password_env"
	}
	return "; the server refused " + used + ": check it against the server's authorization config (or renew it if it expired)"
}
