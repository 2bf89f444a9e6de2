//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"fmt"
	"runtime"
)

// dlSupported reports whether this platform can load shared libraries.
const dlSupported = false

// errNoDlopen is the error of every load on a platform without dlopen
// support here.
var errNoDlopen = fmt.Errorf("loading shared libraries is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)

// dlopen always fails: this platform has no CUDA support in bnrun.
func dlopen(names []string) (uintptr, string, error) { return 0, "", errNoDlopen }

// bind always fails: this platform has no CUDA support in bnrun.
func bind(handle uintptr, lib, name string, fptr any) error { return errNoDlopen }
