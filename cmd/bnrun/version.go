package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/models/fashion"
)

// cmdVersion prints bnrun's module version and VCS revision (as the Go
// toolchain stamped them into the binary), the Go version and platform,
// and the backend Open picks on this machine.
func cmdVersion(args []string, w io.Writer) error {
	if len(args) > 0 {
		return usageError{"version takes no arguments"}
	}
	version, rev := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = " revision " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					rev += " (modified)"
				}
			}
		}
	}
	backend := "(none)"
	if m, err := bnrun.OpenBytes(fashion.ResNet); err == nil {
		backend = m.Backend()
		m.Close()
	}
	fmt.Fprintf(w, "bnrun %s%s, %s %s/%s, backend %s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH, backend)
	return nil
}
