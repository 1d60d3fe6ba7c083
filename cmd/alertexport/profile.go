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
	if path, ok := env("ALERTEXPORT_CPUPROFILE"); ok && path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintf(stderr, "ALERTEXPORT_CPUPROFILE: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "ALERTEXPORT_CPUPROFILE: %v\n", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path, ok := env("ALERTEXPORT_TRACE"); ok && path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintf(stderr, "ALERTEXPORT_TRACE: %v\n", err)
		} else if err := trace.Start(f); err != nil {
			fmt.Fprintf(stderr, "ALERTEXPORT_TRACE: %v\n", err)
			f.Close()
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
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
