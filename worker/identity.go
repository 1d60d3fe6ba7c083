package worker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
)

// Files of the replica identity in data_dir.
const (
	identityFile = "replica-id"   // the name, written once (temporary file, fsync, rename)
	lockFile     = "replica.lock" // locked by the live process; never renamed over, never removed
)

// ErrDataDirInUse: another live process holds data_dir's lock.
var ErrDataDirInUse = errors.New("data_dir is in use by another alertexport process")

// Identity is this replica's name in the lease bucket (docs/replicas.md). It
// is kept in data_dir, so that a process restarted there is the same replica and takes its own
// leases back at once instead of waiting out lease_ttl. An exclusive lock on a file in data_dir,
// held for the process's life, keeps two live processes from ever sharing it: that is what makes
// taking a lease back safe (see Leases.takeBack). The kernel drops the lock when the process
// dies, SIGKILL included, so there is no stale lock to clean up.
type Identity struct {
	name   string
	stable bool
	lock   *flock.Flock // nil when data_dir could not be locked
}

// Name is the replica's name: <hostname>-<16 hex digits>.
func (id *Identity) Name() string { return id.name }

// Stable reports whether the name is kept in data_dir (false: this process's own, as when
// data_dir cannot be written).
func (id *Identity) Stable() bool { return id.stable }

// Close releases data_dir's lock (the process ending does too).
func (id *Identity) Close() error {
	if id.lock == nil {
		return nil
	}
	return id.lock.Close()
}

// OpenIdentity takes data_dir's lock and reads the replica's name there, creating both on
// first use. A data_dir another live process holds is ErrDataDirInUse. One that cannot be
// created, locked or written is not fatal (the export does not need it with an external NATS):
// a warning, and a name for this process only — the behaviour without a kept identity, where a
// restart waits out its previous run's leases.
func OpenIdentity(dataDir string, log *slog.Logger) (*Identity, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	perProcess := func(err error) *Identity {
		id := &Identity{name: newReplicaName()}
		log.Warn("cannot keep this replica's identity in data_dir; using one for this process only, so after a crash the restarted process waits out lease_ttl before it runs its jobs again",
			"data_dir", dataDir, "err", err, "replica", id.name)
		return id
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return perProcess(err), nil
	}
	lock, err := LockDataDir(dataDir)
	switch {
	case errors.Is(err, ErrDataDirInUse):
		return nil, err
	case err != nil:
		return perProcess(err), nil
	}
	// The lock stays held from here on even if the name cannot be kept: a second process on
	// this data_dir (and its embedded NATS store) is still refused.
	name, created, err := readOrCreateName(filepath.Join(dataDir, identityFile), log)
	if err != nil {
		id := perProcess(err)
		id.lock = lock
		return id, nil
	}
	log.Info("this replica's identity", "replica", name, "file", filepath.Join(dataDir, identityFile), "new", created)
	return &Identity{name: name, stable: true, lock: lock}, nil
}

// LockDataDir takes data_dir's lock (the one OpenIdentity holds) for a process that uses
// data_dir without being a replica — backfill starting the embedded NATS server there — so that
// it never runs beside a daemon on the same store. A data_dir another live process holds is
// ErrDataDirInUse; Close releases the lock.
func LockDataDir(dataDir string) (*flock.Flock, error) {
	lock := flock.New(filepath.Join(dataDir, lockFile))
	ok, err := lock.TryLock()
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("locking %s: %w", lock.Path(), err)
	}
	if !ok {
		_ = lock.Close()
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			abs = dataDir
		}
		return nil, fmt.Errorf("%w: %s is locked (`fuser -v %s` shows by whom); give each replica a data_dir of its own, or stop the other process first",
			ErrDataDirInUse, abs, filepath.Join(abs, lockFile))
	}
	return lock, nil
}

// readOrCreateName reads the name kept in path, or writes a new one. The caller holds the lock,
// so no other process writes it meanwhile.
func readOrCreateName(path string, log *slog.Logger) (name string, created bool, err error) {
	f, err := os.Open(path)
	switch {
	case err == nil:
		b, rerr := io.ReadAll(io.LimitReader(f, maxReplicaName+2))
		f.Close()
		if rerr != nil {
			return "", false, rerr
		}
		if name := strings.TrimSpace(string(b)); validReplicaName(name) {
			return name, false, nil
		}
		// Only a hand edit makes it so (the write is atomic): a new name costs one wait of
		// lease_ttl, nothing else.
		log.Warn("the replica identity file is not a replica name; writing a new one", "file", path)
	case !errors.Is(err, os.ErrNotExist):
		return "", false, err
	}
	name = newReplicaName()
	if err := writeAtomic(path, []byte(name+"\n")); err != nil {
		return "", false, err
	}
	return name, true, nil
}

const maxReplicaName = 100

// validReplicaName: what newReplicaName makes, so that a name is a KV key token and fits a
// log line.
func validReplicaName(s string) bool {
	if s == "" || len(s) > maxReplicaName {
		return false
	}
	for _, c := range []byte(s) {
		if !nameByte(c) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// newReplicaName is <hostname>-<16 random hex digits>: the host tells an operator where a
// replica ran, the random part keeps two hosts' names apart.
func newReplicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	b := []byte(host)
	for i, c := range b {
		if !nameByte(c) {
			b[i] = '-'
		}
	}
	return string(b[:min(len(b), maxReplicaName-17)]) + "-" + randomHex(8)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
