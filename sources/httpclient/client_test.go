package httpclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertexport/alertexport/sources/simulator"
)

func TestCAFileIsTrustedBesideSystemRoots(t *testing.T) {
	t.Parallel()
	sim, err := simulator.Start(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}

	without, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(without.CloseIdleConnections)
	if _, err := without.Get(sim.URL()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca_file the simulator was trusted: %v", err)
	}
	with, err := New(Options{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(with.CloseIdleConnections)
	resp, err := with.Get(sim.URL() + "/nowhere")
	if err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	resp.Body.Close()

	if _, err := New(Options{CAFile: notPEM}); !errors.Is(err, errNoCerts) {
		t.Errorf("a file without certificates: %v", err)
	}
	if _, err := New(Options{CAFile: filepath.Join(dir, "missing.pem")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
