package worker

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIdentityStableAcrossReopen: the first open of a data_dir writes a name; every later open
// (a restart) reads the same one; a name file broken by hand is replaced with a warning.
func TestIdentityStableAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data") // created on first use
	open := func() *Identity {
		t.Helper()
		id, err := OpenIdentity(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := id.Close(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := open()
	if !first.Stable() || !validReplicaName(first.Name()) {
		t.Fatalf("first open: name %q, stable %v", first.Name(), first.Stable())
	}
	host, _ := os.Hostname()
	if !strings.HasPrefix(first.Name(), strings.ReplaceAll(host, ".", "-")+"-") {
		t.Errorf("name %q does not start with the host name %q", first.Name(), host)
	}
	for range 3 {
		if again := open(); again.Name() != first.Name() {
			t.Fatalf("reopened: name %q, want %q", again.Name(), first.Name())
		}
	}
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("not a name\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	id, err := OpenIdentity(dir, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	if !id.Stable() || id.Name() == first.Name() || !strings.Contains(log.String(), "not a replica name") {
		t.Errorf("broken name file: name %q (stable %v); log:\n%s", id.Name(), id.Stable(), log.String())
	}
	if again := open(); again.Name() != id.Name() {
		t.Errorf("the replacement name was not kept: %q, want %q", again.Name(), id.Name())
	}
}

// TestSecondOpenerOfADataDirIsRefused: while one opener holds a data_dir, another gets
// ErrDataDirInUse naming the data_dir and what to do; once the first closes (or dies: the
// kernel drops the lock), the data_dir opens again with the same name.
func TestSecondOpenerOfADataDirIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := OpenIdentity(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// flock(2) locks belong to the open file, so a second open in this process is refused
	// exactly as another process would be (cmd/alertexport tests that one with two processes).
	second, err := OpenIdentity(dir, nil)
	if !errors.Is(err, ErrDataDirInUse) || second != nil {
		t.Fatalf("second open: %v, %v; want ErrDataDirInUse", second, err)
	}
	for _, want := range []string{dir, "a data_dir of its own"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenIdentity(dir, nil)
	if err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
	defer again.Close()
	if again.Name() != first.Name() {
		t.Errorf("name %q after reopening, want %q", again.Name(), first.Name())
	}
}

// TestUnusableDataDirGivesAPerProcessIdentity: a data_dir that cannot be created is not fatal
// (an external NATS does not need it): a warning naming it, and a name for this process only.
func TestUnusableDataDirGivesAPerProcessIdentity(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "data") // under a file: cannot be created, even by root
	var log bytes.Buffer
	a, err := OpenIdentity(dir, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenIdentity(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stable() || b.Stable() || a.Name() == b.Name() {
		t.Errorf("names %q and %q (stable %v, %v), want two per-process names", a.Name(), b.Name(), a.Stable(), b.Stable())
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), dir) {
		t.Errorf("no warning naming the data_dir:\n%s", log.String())
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}
