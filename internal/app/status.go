package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/sinks/natsconn"
	"github.com/alertexport/alertexport/worker"
)

// statusConnectTimeout bounds the wait for NATS: status answers a person or a script, it does
// not wait for NATS as the daemon does.
const statusConnectTimeout = 5 * time.Second

// Status is `alertexport status`: one line per enabled job from the shared state — who holds
// it, its cursor and lag, its last success and error, the versions in its lookback set — as a
// table or (asJSON) a JSON array on w; the embedded server's warnings, if status starts it, go
// to stderr. It only reads: no bucket, key or file is created or written.
func Status(ctx context.Context, cfg *config.Config, env config.LookupEnv, w, stderr io.Writer, now time.Time, asJSON bool) error {
	st, err := openState(ctx, cfg, env, stderr)
	if err != nil {
		return err
	}
	defer st.close()
	var rows []StatusRow
	for _, t := range cfg.Tenants {
		for _, s := range t.Sources() {
			row, err := st.row(ctx, t.Name, string(s.Kind), now)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", t.Name, s.Kind, err)
			}
			rows = append(rows, row)
		}
	}
	if asJSON {
		if rows == nil {
			rows = []StatusRow{} // [] rather than null: a script iterates it either way
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printStatus(w, rows, st.core)
	return nil
}

// StatusRow is one job in Status's output; its JSON is documented in docs/commands.md. Times
// are UTC, null when unknown.
type StatusRow struct {
	Tenant string `json:"tenant"`
	Source string `json:"source"`
	// Holder is the replica holding the job's lease; null when none does (and in core mode,
	// which has no leases).
	Holder       *string    `json:"holder"`
	Cursor       *time.Time `json:"cursor"`
	LagSeconds   *float64   `json:"lag_seconds"` // now − cursor
	Seen         int        `json:"seen"`        // versions in the lookback set
	LastPoll     *time.Time `json:"last_poll"`
	LastPolledBy *string    `json:"last_polled_by"`
	LastSuccess  *time.Time `json:"last_success"`
	LastError    *string    `json:"last_error"`
	LastErrorAt  *time.Time `json:"last_error_at"`
	FailingSince *time.Time `json:"failing_since"`
}

// stateView reads the shared state: the checkpoints and status records, and the leases.
type stateView struct {
	store interface {
		worker.Store
		worker.StatusStore
	} // nil: no state bucket yet
	leases jetstream.KeyValue // nil: no lease bucket (yet, or core mode)
	core   bool
	close  func()
}

func (v *stateView) row(ctx context.Context, tenant, source string, now time.Time) (StatusRow, error) {
	r := StatusRow{Tenant: tenant, Source: source}
	key := tenant + "." + source
	if v.leases != nil {
		h, err := worker.LeaseHolder(ctx, v.leases, key)
		if err != nil {
			return r, err
		}
		if h != "" {
			r.Holder = &h
		}
	}
	if v.store == nil {
		return r, nil
	}
	cp, _, err := v.store.Load(ctx, key)
	if err != nil {
		return r, err
	}
	r.Cursor, r.Seen = timePtr(cp.Cursor), cp.Seen.Len()
	if !cp.Cursor.IsZero() {
		lag := max(now.Sub(cp.Cursor), 0).Seconds()
		r.LagSeconds = &lag
	}
	js, ok, err := v.store.LoadStatus(ctx, key)
	if err != nil || !ok {
		return r, err
	}
	r.LastPoll, r.LastSuccess, r.LastErrorAt, r.FailingSince = timePtr(js.LastPoll), timePtr(js.LastSuccess), timePtr(js.LastErrorAt), timePtr(js.FailingSince)
	if js.Replica != "" {
		r.LastPolledBy = &js.Replica
	}
	if js.LastError != "" {
		r.LastError = &js.LastError
	}
	return r, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// printStatus writes rows as an aligned table. Every value that came from the state is made
// terminal-safe: an error's text is what an API answered.
func printStatus(w io.Writer, rows []StatusRow, core bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tSOURCE\tHOLDER\tCURSOR\tLAG\tSEEN\tLAST-SUCCESS\tLAST-ERROR")
	stamp := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.Format(time.RFC3339)
	}
	for _, r := range rows {
		holder := "none"
		switch {
		case core:
			holder = "-" // core mode has no leases
		case r.Holder != nil:
			holder = TerminalSafe(*r.Holder)
		}
		lag := "-"
		if r.LagSeconds != nil {
			lag = (time.Duration(*r.LagSeconds * float64(time.Second))).Round(time.Second).String()
		}
		lastErr := "-"
		if r.LastError != nil {
			lastErr = stamp(r.LastErrorAt, "?") + " " + TerminalSafe(*r.LastError)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", TerminalSafe(r.Tenant), r.Source, holder,
			stamp(r.Cursor, "-"), lag, r.Seen, stamp(r.LastSuccess, "never"), lastErr)
	}
	_ = tw.Flush()
}

// openState reaches the state cfg's daemon keeps: the files in data_dir/state (core mode), the
// KV buckets on nats.url, or those of the embedded server — the running daemon's through
// embedded_listen, or, the daemon stopped, the store in data_dir opened here.
func openState(ctx context.Context, cfg *config.Config, env config.LookupEnv, stderr io.Writer) (*stateView, error) {
	if cfg.NATS.Mode == "core" {
		return &stateView{store: worker.OpenFileStore(filepath.Join(cfg.Worker.DataDir, "state")), core: true, close: func() {}}, nil
	}
	if cfg.NATS.URL != "" {
		return dialState(ctx, cfg.NATS, env)
	}
	return embeddedState(ctx, cfg, env, stderr)
}

// dialState connects to n.URL and opens the buckets there.
func dialState(ctx context.Context, n config.NATS, env config.LookupEnv) (*stateView, error) {
	cctx, cancel := context.WithTimeout(ctx, statusConnectTimeout)
	defer cancel()
	nc, err := natsconn.Connect(cctx, n, env, natsconn.Options{})
	if err != nil {
		return nil, fmt.Errorf("cannot reach the state: %w", err)
	}
	v, err := openBuckets(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	v.close = nc.Close
	return v, nil
}

// embeddedState reads the embedded server's state in data_dir.
func embeddedState(ctx context.Context, cfg *config.Config, env config.LookupEnv, stderr io.Writer) (*stateView, error) {
	dir := cfg.Worker.DataDir
	if _, err := os.Stat(filepath.Join(dir, "nats")); errors.Is(err, os.ErrNotExist) {
		// No server ever stored anything there: nothing ran yet. Starting one would create
		// the store.
		return &stateView{close: func() {}}, nil
	}
	lock, err := worker.LockDataDir(dir)
	switch {
	case errors.Is(err, worker.ErrDataDirInUse):
		client, ok := natsconn.EmbeddedClient(cfg.NATS)
		if !ok {
			return nil, fmt.Errorf("a running alertexport holds data_dir %s and its embedded NATS server; set nats.embedded_listen (e.g. \"127.0.0.1:4222\") so that status can reach that server, or stop the daemon", dir)
		}
		v, err := dialState(ctx, client, env)
		if err != nil {
			return nil, fmt.Errorf("%w (a running alertexport holds data_dir %s: is it listening on nats.embedded_listen %s?)", err, dir, cfg.NATS.EmbeddedListen)
		}
		return v, nil
	case err != nil:
		return nil, fmt.Errorf("cannot reach the state in data_dir %s: %w", dir, err)
	}
	// The daemon is stopped: open its store here, without a listener, holding data_dir's lock
	// so that no daemon starts on it meanwhile. Only the server's warnings are worth showing.
	n := cfg.NATS
	n.EmbeddedListen = ""
	logCfg := cfg.Log
	logCfg.Level = max(logCfg.Level, slog.LevelWarn)
	s, err := natsconn.StartEmbedded(dir, n, env, NewLogger(logCfg, stderr))
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("cannot reach the state in data_dir %s: %w", dir, err)
	}
	stop := func() {
		natsconn.StopEmbedded(s)
		_ = lock.Close()
	}
	nc, err := natsconn.ConnectEmbedded(s, n, env, natsconn.Options{})
	if err != nil {
		stop()
		return nil, fmt.Errorf("cannot reach the state in data_dir %s: %w", dir, err)
	}
	v, err := openBuckets(ctx, nc)
	if err != nil {
		nc.Close()
		stop()
		return nil, err
	}
	v.close = func() { nc.Close(); stop() }
	return v, nil
}

// openBuckets looks up the state and lease buckets, creating neither: one that does not exist
// means no job ran yet (or none holds a lease), which status shows as such.
func openBuckets(ctx context.Context, nc *nats.Conn) (*stateView, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, statusConnectTimeout)
	defer cancel()
	v := &stateView{}
	store, err := worker.OpenKVStore(ctx, js)
	switch {
	case err == nil:
		v.store = store
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, fmt.Errorf("cannot read the state: %w", err)
	}
	leases, err := js.KeyValue(ctx, worker.LeaseBucket)
	switch {
	case err == nil:
		v.leases = leases
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, fmt.Errorf("cannot read the leases: KV bucket %s: %w", worker.LeaseBucket, err)
	}
	return v, nil
}
