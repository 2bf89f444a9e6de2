//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// dlSupported reports whether this platform can load shared libraries.
const dlSupported = true

// dlopen opens the first of names that loads and returns its handle and
// name. The error names every library tried, with the dynamic loader's
// message for the first.
func dlopen(names []string) (uintptr, string, error) {
	var first error
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			return h, name, nil
		}
		if first == nil {
			first = err
		}
	}
	return 0, "", first
}

// bind points *fptr, a pointer to a Go function variable whose signature
// mirrors the C function's, at the symbol name of the library lib opened
// as handle. A missing symbol is an error, not a panic.
func bind(handle uintptr, lib, name string, fptr any) error {
	sym, err := purego.Dlsym(handle, name)
	if err != nil || sym == 0 {
		return fmt.Errorf("%s has no symbol %s", lib, name)
	}
	purego.RegisterFunc(fptr, sym)
	return nil
}
