package bnrun_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/runtime"
)

// TestModuleRequiresOnlyWhatItCompiles reads go.mod and fails when the
// root module requires anything beyond what its packages import: the
// test-only dependencies (onnx-go's conformance corpus) live in the nested
// module conformance/, so that a program importing bnrun does not get them
// in its module graph and go.sum.
func TestModuleRequiresOnlyWhatItCompiles(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"google.golang.org/protobuf":    true,
		"github.com/klauspost/cpuid/v2": true,
		"github.com/ebitengine/purego":  true,
		"golang.org/x/image":            true,
		"golang.org/x/sys":              true, // cpuid's and purego's own
	}
	inBlock := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !allowed[f[0]] {
			t.Errorf("go.mod requires %s; the root module should require only what its packages compile (test-only dependencies belong in conformance/go.mod)", f[0])
		}
	}
}

// TestDefaultLimitsAgree: the loader does not import the runtime, so it
// writes the runtime's default memory of one Run itself; its default file
// cap must still be one tensor at the loader's cap plus that memory.
func TestDefaultLimitsAgree(t *testing.T) {
	if got, want := int64(loader.DefaultMaxFileBytes), int64(loader.DefaultMaxTensorBytes)+int64(runtime.DefaultMaxTotalBytes); got != want {
		t.Errorf("loader.DefaultMaxFileBytes = %d, want loader.DefaultMaxTensorBytes + runtime.DefaultMaxTotalBytes = %d", got, want)
	}
}
