package fold

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/runtime"
)

// TestOptimizeCompiledSame: OptimizeCompiled, which proves shapes by
// planning the program of the graph as loaded, rewrites every shipped
// model (and every model under BNRUN_GOLDEN_DIR, when set) exactly as
// OptimizeContext, which compiles the graph after the trivial rewrites
// again: the same report, nodes and initializers.
func TestOptimizeCompiledSame(t *testing.T) {
	roots := []string{"../testdata", "../models"}
	if dir := os.Getenv("BNRUN_GOLDEN_DIR"); dir != "" {
		roots = append(roots, dir)
	}
	var files []string
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".onnx") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 30 {
		t.Fatalf("%d models under %v, want the 30 or more shipped", len(files), roots)
	}
	ctx := context.Background()
	compared := 0
	for _, f := range files {
		g, err := loader.LoadFile(f)
		if err != nil {
			continue // the folders hold broken models on purpose too
		}
		prog, err := runtime.CompileContext(ctx, g, ProbeOptions())
		if err != nil {
			continue
		}
		want, wantRep, err := OptimizeContext(ctx, g)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, gotRep, err := OptimizeCompiled(ctx, prog)
		prog.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(gotRep, wantRep) {
			t.Errorf("%s: report\n%+v\nwant\n%+v", f, gotRep, wantRep)
		}
		same := len(got.Nodes) == len(want.Nodes) && len(got.Initializers) == len(want.Initializers)
		for i := 0; same && i < len(got.Nodes); i++ {
			a, b := got.Nodes[i], want.Nodes[i]
			same = a.Name == b.Name && a.QualifiedType() == b.QualifiedType() && slices.Equal(a.Inputs, b.Inputs) && slices.Equal(a.Outputs, b.Outputs)
		}
		for name, a := range got.Initializers {
			b := want.Initializers[name]
			same = same && b != nil && slices.Equal(a.Shape, b.Shape) && slices.Equal(a.F32, b.F32) && slices.Equal(a.I64, b.I64)
		}
		if !same {
			t.Errorf("%s: the optimised graphs differ", f)
		}
		compared++
	}
	if compared < 30 {
		t.Errorf("compared %d models, want 30 or more", compared)
	}
}
