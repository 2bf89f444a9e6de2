package bnrun_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// importRule is what one package of the module may import of bnrun, and
// what it must never reach through others; its package doc says the same.
type importRule struct {
	// may lists the packages of bnrun it may import directly.
	may []string
	// never lists the packages of bnrun it must not reach at all.
	never []string
	// std is set when the package imports only the standard library.
	std bool
}

// graphSide is every package that knows the graph (ir and what builds on
// it), which the kernel library must not reach.
var graphSide = []string{"ir", "ops", "runtime", "loader", "fold", "npy", "bnrun", "vision", "cmd/bnrun"}

// importRules holds every package of the module, named by its folder
// ("bnrun" for the root). Imports point one way: the command, then the
// root package, then fold, runtime and loader, then ops, then ir and the
// kernel library.
var importRules = map[string]importRule{
	"ir":                {std: true},
	"kern/amd64":        {std: true},
	"kern/kerntest":     {std: true},
	"models/fashion":    {std: true},
	"internal/hugepage": {std: true},
	"kern":              {may: []string{"kern/amd64", "internal/hugepage"}, never: graphSide},
	"kern/cuda":         {may: []string{"kern"}, never: graphSide},
	"ops":               {may: []string{"ir", "kern", "internal/hugepage"}, never: []string{"runtime", "loader", "fold", "npy", "bnrun", "vision", "cmd/bnrun", "kern/cuda", "kern/cuda/lower"}},
	"kern/cuda/lower":   {may: []string{"ops", "kern", "kern/cuda"}, never: []string{"runtime", "loader", "fold", "npy", "bnrun", "vision", "cmd/bnrun"}},
	"loader":            {may: []string{"ir"}, never: []string{"ops", "kern", "runtime", "fold", "npy", "bnrun", "vision", "cmd/bnrun"}},
	"npy":               {may: []string{"ir"}, never: []string{"ops", "kern", "runtime", "loader", "fold", "bnrun", "vision", "cmd/bnrun"}},
	"runtime":           {may: []string{"ir", "ops", "kern", "kern/cuda", "kern/cuda/lower"}, never: []string{"loader", "fold", "npy", "bnrun", "vision", "cmd/bnrun"}},
	"fold":              {may: []string{"ir", "ops", "kern", "runtime"}, never: []string{"loader", "npy", "bnrun", "vision", "cmd/bnrun"}},
	"bnrun":             {may: []string{"ir", "ops", "kern", "runtime", "loader", "fold", "npy"}, never: []string{"vision", "cmd/bnrun"}},
	"vision":            {may: []string{"bnrun", "loader"}, never: []string{"cmd/bnrun"}},
	"cmd/bnrun":         {may: []string{"bnrun", "vision", "npy", "models/fashion"}},
}

// moduleImports parses the imports of every non-test Go file of the
// module (all build configurations at once: build tags are not applied),
// by package folder, keeping the import paths as written.
func moduleImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	pkgs := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == "." {
				return nil
			}
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			dir = "bnrun"
		}
		if pkgs[dir] == nil {
			pkgs[dir] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			pkgs[dir][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestImportRules fails when a package imports a package of bnrun that
// importRules does not allow it, or reaches one its rule forbids, or is
// missing from importRules; and when ir, which every other package may
// import, imports anything but the standard library.
func TestImportRules(t *testing.T) {
	const module = "github.com/bnrun/bnrun"
	pkgs := moduleImports(t)
	direct := map[string][]string{}
	for pkg, imps := range pkgs {
		rule, ok := importRules[pkg]
		if !ok {
			t.Errorf("package %s has no entry in importRules: say in its package doc what it may import, and add it", pkg)
			continue
		}
		for imp := range imps {
			var own string
			switch {
			case imp == module:
				own = "bnrun"
			case strings.HasPrefix(imp, module+"/"):
				own = strings.TrimPrefix(imp, module+"/")
			case rule.std && strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				t.Errorf("%s imports %s; it imports only the standard library", pkg, imp)
				continue
			default:
				continue
			}
			direct[pkg] = append(direct[pkg], own)
			if !slices.Contains(rule.may, own) {
				t.Errorf("%s imports %s, which its import rule does not allow (see its package doc and importRules)", pkg, own)
			}
		}
	}
	for pkg := range importRules {
		if pkgs[pkg] == nil {
			t.Errorf("importRules names %s, which is not a package of the module", pkg)
		}
	}
	for pkg, rule := range importRules {
		// reached: every package of bnrun pkg depends on, with the
		// import that first reached it, for the message.
		reached := map[string]string{}
		queue := []string{pkg}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, q := range direct[p] {
				if _, seen := reached[q]; !seen && q != pkg {
					reached[q] = p
					queue = append(queue, q)
				}
			}
		}
		for _, bad := range rule.never {
			if via, ok := reached[bad]; ok {
				t.Errorf("%s depends on %s (imported by %s), which its import rule forbids", pkg, bad, via)
			}
		}
	}
}
