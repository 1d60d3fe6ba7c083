package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// profile starts the profiles the environment asks for, for measuring the binary as it runs
// (cmd/alertexport-bench -child-profile): ALERTEXPORT_CPUPROFILE names a file for a CPU profile of
// the whole life, ALERTEXPORT_MEMPROFILE one for the allocations made, written at exit,
// ALERTEXPORT_TRACE one for an execution trace of the whole life (go tool trace: which
// goroutine waits for which). It returns what ends them.
func profile(env func(string) (string, bool), stderr io.Writer) func() {
	var stops []func()
	// A profile of the whole life: a file, and what starts and stops writing to it.
	whole := func(name string, start func(io.Writer) error, stop func()) {
		path, ok := env(name)
		if !ok || path == "" {
			return
		}
		f, err := os.Create(path)
		if err == nil {
			if err = start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return
		}
		stops = append(stops, func() { stop(); f.Close() })
	}
	whole("ALERTEXPORT_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile)
	whole("ALERTEXPORT_TRACE", trace.Start, trace.Stop)
	if path, ok := env("ALERTEXPORT_MEMPROFILE"); ok && path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "ALERTEXPORT_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
