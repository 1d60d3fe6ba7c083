package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfilesFromTheEnvironment: ALERTEXPORT_CPUPROFILE, ALERTEXPORT_MEMPROFILE and
// ALERTEXPORT_TRACE get their profiles written when the command ends; a file that cannot be
// created is said on stderr; without them nothing is written.
func TestProfilesFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	cpu, mem, tr := filepath.Join(dir, "p.cpu"), filepath.Join(dir, "p.allocs"), filepath.Join(dir, "p.trace")
	env := map[string]string{"ALERTEXPORT_CPUPROFILE": cpu, "ALERTEXPORT_MEMPROFILE": mem, "ALERTEXPORT_TRACE": tr}
	stop := profile(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	stop()
	for _, f := range []string{cpu, mem, tr} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	profile(func(string) (string, bool) { return "", false }, io.Discard)()
	var stderr strings.Builder
	profile(func(k string) (string, bool) { return filepath.Join(dir, "missing", k), k == "ALERTEXPORT_TRACE" }, &stderr)()
	if !strings.HasPrefix(stderr.String(), "ALERTEXPORT_TRACE: ") {
		t.Errorf("stderr %q, want the trace's error", stderr.String())
	}
}
