package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestProfilesFromTheEnvironment: ALERTEXPORT_CPUPROFILE and ALERTEXPORT_MEMPROFILE get their
// profiles written when the command ends; without them nothing is written.
func TestProfilesFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "p.cpu"), filepath.Join(dir, "p.allocs")
	env := map[string]string{"ALERTEXPORT_CPUPROFILE": cpu, "ALERTEXPORT_MEMPROFILE": mem}
	stop := profile(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	stop()
	for _, f := range []string{cpu, mem} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	profile(func(string) (string, bool) { return "", false }, io.Discard)()
}
