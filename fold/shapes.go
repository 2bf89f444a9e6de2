package fold

import (
	"context"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/runtime"
)

// probeConstBytes caps the constants a probe plan folds: shapes need only
// small ones, and a hostile graph of large constant nodes must not make
// Open allocate more (the memory limits given to Open do not reach here).
// A probe that would need more proves no shapes.
const probeConstBytes = 64 << 20

// ProbeOptions are the options of the program OptimizeCompiled takes:
// one thread, and plans that fold at most 64 MiB of constants.
func ProbeOptions() runtime.Options {
	return runtime.Options{Threads: 1, MaxConstBytes: probeConstBytes}
}

// probeShapes infers the shape of every tensor for each probe size, by
// planning the graph with the runtime: with prog when it is not nil (a
// program of a graph whose tensors g's have the shapes of), else with g
// compiled. It returns nil (no proven shapes) when the graph's inputs are
// not declared or planning fails, and an error only when ctx is done.
func probeShapes(ctx context.Context, g *ir.Graph, prog *runtime.Program) ([]map[string][]int, error) {
	if prog == nil {
		var err error
		prog, err = runtime.CompileContext(ctx, g, ProbeOptions())
		if err != nil {
			return nil, ctx.Err()
		}
		defer prog.Close()
	}
	g = prog.Graph()
	var names []string
	for name := range g.Initializers {
		names = append(names, name)
	}
	for _, in := range g.Inputs {
		names = append(names, in.Name)
	}
	for _, n := range g.Nodes {
		names = append(names, n.Outputs...)
	}
	probes := runtime.ProbeShapes(g.Inputs)
	if probes == nil {
		return nil, nil
	}
	var all []map[string][]int
	for _, shapes := range probes {
		pl, err := prog.PlanForContext(ctx, shapes)
		if err != nil {
			return nil, ctx.Err()
		}
		m := map[string][]int{}
		for _, name := range names {
			if v, ok := prog.ValueOf(pl, name); ok && name != "" {
				m[name] = v.Shape
			}
		}
		all = append(all, m)
	}
	return all, nil
}

// sameShape reports whether tensors a and b provably have one shape.
func (w *work) sameShape(a, b string) bool {
	if len(w.shapes) == 0 {
		return false
	}
	for _, m := range w.shapes {
		sa, oka := m[a]
		sb, okb := m[b]
		if !oka || !okb || !ir.SameShape(sa, sb) {
			return false
		}
	}
	return true
}

// rank returns the proven rank of tensor t, or -1.
func (w *work) rank(t string) int {
	r := -1
	for _, m := range w.shapes {
		s, ok := m[t]
		if !ok || (r >= 0 && len(s) != r) {
			return -1
		}
		r = len(s)
	}
	return r
}

// dim returns the proven size of axis i of tensor t (the same at every
// probe), or -1.
func (w *work) dim(t string, i int) int {
	d := -1
	for _, m := range w.shapes {
		s, ok := m[t]
		if !ok || i >= len(s) || (d >= 0 && s[i] != d) {
			return -1
		}
		d = s[i]
	}
	return d
}
