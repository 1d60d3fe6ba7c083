package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time (-ldflags "-X main.version=… -X main.commit=…");
// otherwise they come from the module and VCS information Go embeds.
var version, commit string

func (c cli) version() int {
	v, rev := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	fmt.Fprintf(c.stdout, "alertexport %s (commit %s, %s %s/%s)\n", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
