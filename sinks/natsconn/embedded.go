package natsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/alertexport/alertexport/config"
)

// Storage limits of the embedded server's JetStream. nats-server would otherwise take 75 % of
// the RAM and of the free disk; these bound what alertexport may use on a shared host. 1 GiB of
// file storage holds some 100,000 alert versions of ~10 KB (ALERTS plus the state buckets);
// memory storage is not used by alertexport's streams, 64 MiB only leaves room for tools.
const (
	EmbeddedMaxStore  = 1 << 30  // bytes of file storage
	EmbeddedMaxMemory = 64 << 20 // bytes of memory storage
)

// embeddedReadyTimeout bounds the start: recovering a large store takes a few seconds.
const embeddedReadyTimeout = 30 * time.Second

// StartEmbedded runs nats-server in this process with JetStream, storing under
// <dataDir>/nats. With cfg.EmbeddedListen empty it opens no socket (only ConnectEmbedded
// reaches it); with a listen address ("127.0.0.1:4222"; port 0 picks a free one) outside
// subscribers can connect there. When cfg names credentials (user + password_env, token_env or
// nkey_seed_file, read through env) the server requires them of every client, in-process or
// not; config refuses a listener beyond loopback without them. Its logs go to logger
// (Noticef→Info, Warnf→Warn, Errorf/Fatalf→Error, Debugf/Tracef→Debug). It returns once the
// server accepts connections; the caller stops it with StopEmbedded.
func StartEmbedded(dataDir string, cfg config.NATS, env config.LookupEnv, logger *slog.Logger) (*server.Server, error) {
	listen := cfg.EmbeddedListen
	if dataDir == "" {
		return nil, errors.New("natsconn: worker.data_dir is empty; the embedded NATS server stores its data there")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := &server.Options{
		ServerName:         Name,
		JetStream:          true,
		StoreDir:           filepath.Join(dataDir, "nats"),
		JetStreamMaxStore:  EmbeddedMaxStore,
		JetStreamMaxMemory: EmbeddedMaxMemory,
		// A checkpoint keeps every version exported within the lookback; a burst of alerts can
		// make it larger than the default 1 MB.
		MaxPayload: 8 << 20,
		NoSigs:     true, // signals belong to alertexport, which stops the server itself
		DontListen: true,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
	}
	if err := embeddedAuth(opts, cfg, env); err != nil {
		return nil, fmt.Errorf("natsconn: embedded NATS server: %w", err)
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("natsconn: nats.embedded_listen %q: %w; want host:port such as 127.0.0.1:4222", listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("natsconn: nats.embedded_listen %q: port %q is not a number from 0 to 65535", listen, port)
		}
		if p == 0 {
			p = server.RANDOM_PORT // nats-server reads 0 as its default, 4222
		}
		opts.DontListen, opts.Host, opts.Port = false, host, p
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsconn: embedded NATS server: %w", err)
	}
	sl := &serverLog{log: logger.With("component", "nats-server"), fatal: make(chan string, 1)}
	s.SetLoggerV2(sl, logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	s.Start()

	// ReadyForConnections waits its whole timeout when the listener failed; a Fatalf (port in
	// use, store not writable) says so at once.
	ready := make(chan bool, 1)
	go func() { ready <- s.ReadyForConnections(embeddedReadyTimeout) }()
	var fatal string
	select {
	case ok := <-ready:
		if !ok {
			fatal = "not ready for connections after " + embeddedReadyTimeout.String()
		}
	case fatal = <-sl.fatal:
	}
	if fatal == "" && !s.JetStreamEnabled() {
		fatal = "JetStream did not start: " + sl.lastError()
	}
	if fatal != "" {
		StopEmbedded(s)
		where := "without a listener"
		if listen != "" {
			where = "listening on nats.embedded_listen " + listen
		}
		return nil, fmt.Errorf("natsconn: embedded NATS server (store %s, %s) did not start: %s", opts.StoreDir, where, fatal)
	}
	return s, nil
}

// StopEmbedded stops s and waits for it, then detaches its logger: a stream's internal
// goroutine can outlive WaitForShutdown and log while closing, after the caller has moved on
// (and, in tests, read the log). nats-server calls the logger under the lock SetLoggerV2 takes,
// so once it returns nothing more is written.
func StopEmbedded(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
	s.SetLoggerV2(nil, false, false, false)
}

// plaintextPasswords is nats-server's warning when its options hold a password (auth.go).
const plaintextPasswords = "Plaintext passwords detected, use nkeys or bcrypt"

// serverLog adapts nats-server's Logger to slog.
type serverLog struct {
	log   *slog.Logger
	fatal chan string // the first Fatalf, for StartEmbedded

	mu      sync.Mutex
	lastErr string
}

func (l *serverLog) logf(level slog.Level, format string, v []any) string {
	if level < slog.LevelError && !l.log.Enabled(context.Background(), level) {
		return "" // trace output is verbose: format it only when it is kept
	}
	msg := fmt.Sprintf(format, v...)
	l.log.Log(context.Background(), level, msg)
	return msg
}

func (l *serverLog) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }
func (l *serverLog) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *serverLog) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }

func (l *serverLog) Warnf(format string, v ...any) {
	if format == plaintextPasswords {
		// The password comes from password_env and lives only in this process; the advice
		// (bcrypt in a server config file) does not apply, and bcrypt cannot take passwords
		// over 72 bytes.
		l.logf(slog.LevelDebug, format, v)
		return
	}
	l.logf(slog.LevelWarn, format, v)
}

func (l *serverLog) Errorf(format string, v ...any) {
	l.setLastError(l.logf(slog.LevelError, format, v))
}

// Fatalf does not exit: nats-server returns after it, and alertexport decides what to do.
func (l *serverLog) Fatalf(format string, v ...any) {
	msg := l.logf(slog.LevelError, format, v)
	l.setLastError(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}

func (l *serverLog) setLastError(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastErr = msg
}

func (l *serverLog) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr == "" {
		return "see the nats-server log above"
	}
	return l.lastErr
}
