package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// TestImageByImage checks splitImages on a DenseNet-like chain of Concats
// of computed tensors: at batch 3 the graph runs its batch-1 plan once per
// image, bit for bit as three Runs of one image; and its profile reports
// the batch-1 plan's steps with the batch's shapes. A constant added to
// the result (which could broadcast along the batch) or a Concat along the
// batch keeps the whole batch in one plan.
func TestImageByImage(t *testing.T) {
	cat := func(axis int64, out string, ins ...string) *ir.Node {
		n := node("Concat", ins, out)
		n.Attrs = map[string]*ir.Attr{"axis": {Name: "axis", Type: ir.AttrInt, I: axis}}
		return n
	}
	graph := func(tail ...*ir.Node) *ir.Graph {
		g := &ir.Graph{
			Inputs:  []ir.ValueInfo{input("x", -1, 2)},
			Outputs: []ir.ValueInfo{{Name: "y"}},
			Nodes: []*ir.Node{
				node("Relu", []string{"x"}, "a"),
				node("Mul", []string{"a", "x"}, "b"),
				cat(1, "y2", "a", "b"),
				node("Mul", []string{"y2", "y2"}, "c"),
				cat(1, "y3", "a", "b", "c"),
			},
			Initializers: map[string]*ir.Tensor{
				"k":  ir.NewF32([]int{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8}),
				"kb": ir.NewF32([]int{8, 2}, []float32{1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1}),
				"kc": ir.NewF32([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6}),
			},
		}
		g.Nodes = append(g.Nodes, tail...)
		return g
	}
	x := ir.NewF32([]int{3, 2}, []float32{0.5, -1, 2, 3, -0.25, 1.5})
	for _, tc := range []struct {
		name  string
		tail  []*ir.Node
		split bool
	}{
		{"chain", []*ir.Node{node("Identity", []string{"y3"}, "y")}, true},
		{"constant addend", []*ir.Node{node("Add", []string{"y3", "k"}, "y")}, false},
		{"concat of images", []*ir.Node{cat(0, "y", "y3", "y3")}, false},
		// separable as far as its ops go, but its Gemm's C is shaped for
		// a batch of 3: the plan for one image fails, so the batch stays
		{"batch-shaped constant", []*ir.Node{node("Gemm", []string{"y3", "kb", "kc"}, "y")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, graph(tc.tail...), Options{Threads: 2, Kernels: kern.Generic})
			if sep := tc.split || tc.name == "batch-shaped constant"; p.sep != sep {
				t.Fatalf("separable = %v, want %v", p.sep, sep)
			}
			pl, err := p.PlanFor([][]int{{3, 2}})
			if err != nil {
				t.Fatal(err)
			}
			if (pl.single != nil) != tc.split {
				t.Fatalf("plan for 3 images runs them one by one: %v, want %v", pl.single != nil, tc.split)
			}
			got, err := p.Run(context.Background(), []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.split {
				return
			}
			if pl.single.copiedParts != 0 || pl.copiedParts == 0 {
				t.Errorf("Concat inputs copied: %d at batch 1, %d at batch 3", pl.single.copiedParts, pl.copiedParts)
			}
			for img := range 3 {
				one := ir.NewF32([]int{1, 2}, x.F32[2*img:2*img+2])
				want, err := p.Run(context.Background(), []*ir.Tensor{one})
				if err != nil {
					t.Fatal(err)
				}
				for j, w := range want[0].F32 {
					if g := got[0].F32[8*img+j]; g != w {
						t.Fatalf("image %d: y[%d] = %v, want %v", img, j, g, w)
					}
				}
			}
			if !ir.SameShape(got[0].Shape, []int{3, 8}) {
				t.Errorf("output shape %v, want [3 8]", got[0].Shape)
			}
			prof, _, err := p.Profile(context.Background(), []*ir.Tensor{x}, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range prof {
				if len(sp.Out) > 0 && sp.Out[0] != nil && sp.Out[0][0] != 3 {
					t.Errorf("profile of %s: output %v, want the batch of 3", sp.Node.Name, sp.Out[0])
				}
			}
		})
	}
}

// TestImagesSideBySide checks that with two or more workers a separable
// graph without Concats runs its batch image by image, the images side by
// side, bit for bit as Runs of one image each, and on one worker keeps its
// batch plan; a cancelled Run fails with the context's error.
func TestImagesSideBySide(t *testing.T) {
	g := &ir.Graph{
		Inputs:  []ir.ValueInfo{input("x", -1, 3)},
		Outputs: []ir.ValueInfo{{Name: "y"}},
		Nodes: []*ir.Node{
			node("Relu", []string{"x"}, "a"),
			node("Mul", []string{"a", "x"}, "b"),
			node("Add", []string{"b", "a"}, "y"),
		},
	}
	x := ir.NewF32([]int{5, 3}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(i%7) - 2.5
	}
	for _, threads := range []int{1, 2, 3} {
		p := mustCompile(t, g, Options{Threads: threads, Kernels: kern.Generic})
		pl, err := p.PlanFor([][]int{{5, 3}})
		if err != nil {
			t.Fatal(err)
		}
		if split := pl.single != nil; split != (threads > 1) {
			t.Fatalf("%d threads: batch of 5 image by image: %v", threads, split)
		}
		got, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		for img := range 5 {
			want, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{1, 3}, x.F32[3*img:3*img+3])})
			if err != nil {
				t.Fatal(err)
			}
			for j, w := range want[0].F32 {
				if v := got[0].F32[3*img+j]; v != w {
					t.Fatalf("%d threads, image %d: y[%d] = %v, want %v", threads, img, j, v, w)
				}
			}
		}
		// RunInto allocates nothing, whether the images run one after
		// another or side by side (the plan made what they need).
		ins, outs := []*ir.Tensor{x}, []*ir.Tensor{nil}
		if err := p.RunInto(context.Background(), ins, outs); err != nil {
			t.Fatal(err)
		}
		if !raceEnabled {
			if n := testing.AllocsPerRun(200, func() {
				if err := p.RunInto(context.Background(), ins, outs); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("%d threads: %v allocations per Run, want 0", threads, n)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Run(ctx, []*ir.Tensor{x}); err != context.Canceled {
			t.Errorf("%d threads: cancelled Run: %v, want %v", threads, err, context.Canceled)
		}
		p.Close()
	}
}

// TestCacheImages checks cacheImages through splitImages on one worker: a
// separable graph with a convolution, grouped or not, whose batch plan's
// activations hold more than half the last-level cache runs image by
// image, bit for bit as Runs of one image each; the same graph at a batch
// whose activations fit stays batched.
func TestCacheImages(t *testing.T) {
	defer func(c int) { kern.LastLevelCache = c }(kern.LastLevelCache)
	kern.LastLevelCache = 64 << 10 // a bound of 32 KiB
	graph := func(group int64) *ir.Graph {
		conv := node("Conv", []string{"x", "w"}, "c")
		conv.Attrs = map[string]*ir.Attr{
			"group": {Name: "group", Type: ir.AttrInt, I: group},
			"pads":  {Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}},
		}
		w := ir.NewF32([]int{4, 4 / int(group), 3, 3}, nil)
		for i := range w.F32 {
			w.F32[i] = float32(i%5)/4 - 0.5
		}
		return &ir.Graph{
			Inputs:       []ir.ValueInfo{input("x", -1, 4, 16, 16)},
			Outputs:      []ir.ValueInfo{{Name: "y"}},
			Nodes:        []*ir.Node{conv, node("Relu", []string{"c"}, "r"), node("Add", []string{"r", "c"}, "y")},
			Initializers: map[string]*ir.Tensor{"w": w},
		}
	}
	for _, tc := range []struct {
		group int64
		batch int
		want  bool
	}{
		{2, 8, true},
		{2, 2, false},
		{1, 8, true},
		{1, 2, false},
	} {
		p := mustCompile(t, graph(tc.group), Options{Threads: 1, Kernels: kern.Generic})
		shape := []int{tc.batch, 4, 16, 16}
		pl, err := p.PlanFor([][]int{shape})
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("group %d, batch %d (%d KiB of activations)", tc.group, tc.batch, 4*pl.f32Size>>10)
		if split := pl.single != nil; split != tc.want {
			t.Fatalf("%s: image by image %v, want %v", what, split, tc.want)
		}
		x := ir.NewF32(shape, nil)
		for i := range x.F32 {
			x.F32[i] = float32(i%11)/5 - 1
		}
		got, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		sameAsImages(t, what, p, x, got[0])
		p.Close()
	}
}

// TestBatchedTail checks tailCut through splitImages: a separable graph
// whose head (two convolutions over 16×16 planes) has few weights for its
// activations and whose tail (two Gemms after a global pool) the other way
// round runs its images through the head on the batch-1 plan and the tail
// on the batch plan, on two workers (images side by side) and on one
// (above cacheImages' bound). The values are multiples of 1/4 small enough
// that every sum is exact, so the result must be bit for bit that of Runs
// of one image each, whichever kernels sum it. At batch 8 the tail starts
// after the second convolution; at batch 2, where the first Gemm's weights
// read once save too little, after that Gemm. The tail's arena holds none
// of the head's tensors (ArenaBytes counts it and an image's arena a
// worker), a Run allocates nothing, Runs from several goroutines agree,
// the profile gives every step the batch's shapes, and a graph whose
// weighted steps never save enough has no tail.
func TestBatchedTail(t *testing.T) {
	defer func(c int) { kern.LastLevelCache = c }(kern.LastLevelCache)
	kern.LastLevelCache = 64 << 10 // a bound of 32 KiB
	graph := tailGraph
	for _, tc := range []struct {
		threads, batch int
		group          int64
		hidden         int
		from           string // the first node of the tail; "" for none
	}{
		{2, 8, 1, 64, "Relu_r2"},
		{1, 8, 2, 64, "Relu_r2"},
		{2, 2, 1, 64, "Relu_hr"},
		{2, 8, 1, 2, ""},
		// the classifier's weights outweigh its activations by less
		// than 4 bytes to 1: a tail on one worker only
		// (tailWeightsPerByte)
		{1, 8, 1, 2, "Relu_r2"},
	} {
		what := fmt.Sprintf("%d threads, batch %d, group %d, hidden %d", tc.threads, tc.batch, tc.group, tc.hidden)
		p := mustCompile(t, graph(tc.group, tc.hidden), Options{Threads: tc.threads, Kernels: kern.Generic})
		shape := []int{tc.batch, 4, 16, 16}
		pl, err := p.PlanFor([][]int{shape})
		if err != nil {
			t.Fatal(err)
		}
		if pl.single == nil {
			t.Fatalf("%s: not image by image", what)
		}
		from := ""
		if pl.tailFrom > 0 {
			from = pl.steps[pl.tailFrom].c.node.Name
		}
		if from != tc.from {
			t.Fatalf("%s: tail from %q, want %q", what, from, tc.from)
		}
		_, ins, outs := runTailCase(t, what, p, shape)
		if tc.from == "" {
			p.Close()
			continue
		}
		if head := 2 * tc.batch * 16 * 16 * 16; pl.f32Size >= head {
			t.Errorf("%s: the tail's arena holds %d floats, as many as the first convolution's input and output (%d)", what, pl.f32Size, head)
		}
		// a Run's memory: the tail's arena and an image's a worker
		if got, want := pl.ArenaBytes(), 4*pl.f32Size+8*pl.i64Size+tc.threads*pl.single.ArenaBytes(); got != want {
			t.Errorf("%s: ArenaBytes %d, want %d", what, got, want)
		}
		prof, _, err := p.Profile(context.Background(), ins, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(prof) != 8 { // the Flatten is a view
			t.Errorf("%s: profile of %d steps, want 8", what, len(prof))
		}
		for _, sp := range prof {
			if len(sp.Out) == 0 || sp.Out[0] == nil || sp.Out[0][0] != tc.batch {
				t.Errorf("%s: profile of %s: output %v, want the batch of %d", what, sp.Node.Name, sp.Out, tc.batch)
			}
		}
		// Runs from several goroutines at once, each its own arenas
		checkRuns(t, what, p, ins, outs)
		p.Close()
	}
}

// runTailCase runs p on a batch of shape, made up, and checks its output
// bit for bit against Runs of its images one at a time (sameAsImages); it
// returns the batch, the Run's inputs and its outputs.
func runTailCase(t *testing.T, what string, p *Program, shape []int) (x *ir.Tensor, ins, outs []*ir.Tensor) {
	t.Helper()
	x = ir.NewF32(shape, nil)
	for i := range x.F32 {
		x.F32[i] = float32((i*7)%9-4) / 4
	}
	ins, outs = []*ir.Tensor{x}, []*ir.Tensor{nil}
	if err := p.RunInto(context.Background(), ins, outs); err != nil {
		t.Fatal(err)
	}
	sameAsImages(t, what, p, x, outs[0])
	return x, ins, outs
}

// checkRuns checks that Runs of p on ins (whose output a Run wrote to
// outs) allocate nothing, agree bit for bit when made from several
// goroutines at once, and stop on a cancelled context.
func checkRuns(t *testing.T, what string, p *Program, ins, outs []*ir.Tensor) {
	t.Helper()
	if !raceEnabled {
		if n := testing.AllocsPerRun(50, func() {
			if err := p.RunInto(context.Background(), ins, outs); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per Run, want 0", what, n)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			o := []*ir.Tensor{nil}
			for range 5 {
				if err := p.RunInto(context.Background(), ins, o); err != nil {
					errs <- err
					return
				}
				if !slices.Equal(o[0].F32, outs[0].F32) {
					errs <- fmt.Errorf("a concurrent Run's output differs")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%s: %v", what, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.RunInto(ctx, ins, outs); err != context.Canceled {
		t.Errorf("%s: cancelled Run: %v, want %v", what, err, context.Canceled)
	}
}

// tailGraph is TestBatchedTail's graph: two 3×3 convolutions on 4 → 16
// (in group groups) → 8 channels of 16×16, a global pool and two Gemms
// through hidden units to 10 outputs.
func tailGraph(group int64, hidden int) *ir.Graph {
	attr := func(n *ir.Node, name string, ints ...int64) *ir.Node {
		if n.Attrs == nil {
			n.Attrs = map[string]*ir.Attr{}
		}
		if len(ints) == 1 && name != "pads" {
			n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrInt, I: ints[0]}
		} else {
			n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrInts, Ints: ints}
		}
		return n
	}
	weights := func(shape ...int) *ir.Tensor {
		w := ir.NewF32(shape, nil)
		for i := range w.F32 {
			w.F32[i] = float32(i%5-2) / 4
		}
		return w
	}
	return &ir.Graph{
		Inputs:  []ir.ValueInfo{input("x", -1, 4, 16, 16)},
		Outputs: []ir.ValueInfo{{Name: "y"}},
		Nodes: []*ir.Node{
			attr(attr(node("Conv", []string{"x", "w"}, "c"), "group", group), "pads", 1, 1, 1, 1),
			node("Relu", []string{"c"}, "r"),
			attr(node("Conv", []string{"r", "w2"}, "c2"), "pads", 1, 1, 1, 1),
			node("Relu", []string{"c2"}, "r2"),
			node("GlobalAveragePool", []string{"r2"}, "p"),
			node("Flatten", []string{"p"}, "f"),
			node("Gemm", []string{"f", "g1"}, "h"),
			node("Relu", []string{"h"}, "hr"),
			node("Gemm", []string{"hr", "g2"}, "y"),
		},
		Initializers: map[string]*ir.Tensor{"w": weights(16, 4/int(group), 3, 3), "w2": weights(8, 16, 3, 3),
			"g1": weights(8, hidden), "g2": weights(hidden, 10)},
	}
}

// sameAsImages fails the test unless y, p's output for the batch x, holds
// bit for bit the outputs of Runs of x's images one at a time.
func sameAsImages(t *testing.T, what string, p *Program, x, y *ir.Tensor) {
	t.Helper()
	n := x.Shape[0]
	per, out := len(x.F32)/n, len(y.F32)/n
	for img := range n {
		shape := append([]int{1}, x.Shape[1:]...)
		want, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32(shape, x.F32[img*per:(img+1)*per])})
		if err != nil {
			t.Fatal(err)
		}
		for j, w := range want[0].F32 {
			if v := y.F32[img*out+j]; v != w {
				t.Fatalf("%s, image %d: y[%d] = %v, want %v", what, img, j, v, w)
			}
		}
	}
}

// TestImagesAtPlanShapes checks separableAt: a graph whose Reshape takes
// its shape from the input's Shape (PyTorch's x.view(x.size(0), -1)), so
// that no graph-level rule sees it keep the batch, runs its batch image by
// image on two workers, bit for bit as Runs of one image each, with a
// Slice of the channels and a Transpose that keeps axis 0 after it; the
// same graph with a Slice that reverses the batch, or a Transpose that
// mixes the images reshaped back to the batch's shape, keeps its batch
// plan (and its results).
func TestImagesAtPlanShapes(t *testing.T) {
	attrs := func(n *ir.Node, kv ...any) *ir.Node {
		n.Attrs = map[string]*ir.Attr{}
		for i := 0; i < len(kv); i += 2 {
			name := kv[i].(string)
			switch v := kv[i+1].(type) {
			case int64:
				n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrInt, I: v}
			case []int64:
				n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrInts, Ints: v}
			}
		}
		return n
	}
	i64 := func(v ...int64) *ir.Tensor { return ir.NewI64([]int{len(v)}, v) }
	// n = Shape(x)[0]; shape = [n, -1]; v = Relu(x) viewed as [N, 6],
	// then the tail
	head := func(shapeNode *ir.Node) []*ir.Node {
		return []*ir.Node{
			node("Shape", []string{"x"}, "s"),
			attrs(node("Gather", []string{"s", "zero"}, "n0"), "axis", int64(0)),
			attrs(node("Unsqueeze", []string{"n0", "axes0"}, "n")),
			shapeNode,
			node("Relu", []string{"x"}, "r"),
			node("Reshape", []string{"r", "shape"}, "v"),
		}
	}
	keep := attrs(node("Concat", []string{"n", "minus1"}, "shape"), "axis", int64(0))
	cases := []struct {
		name  string
		nodes []*ir.Node
		split bool
	}{
		{"flatten by Shape, channels sliced, transposed", append(head(keep),
			node("Slice", []string{"v", "s1", "e4", "ax1"}, "w"),
			node("Reshape", []string{"w", "sh3"}, "w3"),
			attrs(node("Transpose", []string{"w3"}, "y"), "perm", []int64{0, 2, 1})), true},
		// the images mixed, every tensor shaped as a batch: the images in
		// reverse order, and a transpose reshaped back
		{"the batch reversed by a Slice", append(head(keep),
			node("Slice", []string{"v", "minus1", "minbig", "ax0", "minus1"}, "y")), false},
		{"a transpose of the batch, reshaped back", append(head(keep),
			attrs(node("Transpose", []string{"v"}, "t"), "perm", []int64{1, 0}),
			node("Reshape", []string{"t", "shape"}, "y")), false},
	}
	x := ir.NewF32([]int{3, 2, 3}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(i%5) - 1.5
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &ir.Graph{
				Inputs:  []ir.ValueInfo{input("x", -1, 2, 3)},
				Outputs: []ir.ValueInfo{{Name: "y"}},
				Nodes:   tc.nodes,
				Initializers: map[string]*ir.Tensor{
					"zero": ir.NewI64(nil, []int64{0}), "axes0": i64(0), "minus1": i64(-1),
					"s1": i64(1), "e4": i64(4), "ax1": i64(1), "sh3": i64(0, 3, 1),
					"ax0": i64(0), "minbig": i64(-1 << 62),
				},
			}
			p := mustCompile(t, g, Options{Threads: 2, Kernels: kern.Generic})
			if p.sep {
				t.Fatalf("the graph is separable as a graph: the test needs plan-level shapes")
			}
			pl, err := p.PlanFor([][]int{{3, 2, 3}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(context.Background(), []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if (pl.single != nil) != tc.split {
				t.Fatalf("plan for 3 images runs them one by one: %v, want %v", pl.single != nil, tc.split)
			}
			// the batch plan's results, image by image where split
			q := mustCompile(t, g, Options{Threads: 1, Kernels: kern.Generic})
			want, err := q.Run(context.Background(), []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if !ir.SameShape(got[0].Shape, want[0].Shape) || !slices.Equal(got[0].F32, want[0].F32) {
				t.Fatalf("y = %v %v, want %v %v", got[0].Shape, got[0].F32, want[0].Shape, want[0].F32)
			}
			if !tc.split {
				return
			}
			per := len(got[0].F32) / 3
			for img := range 3 {
				one, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{1, 2, 3}, x.F32[6*img:6*img+6])})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(one[0].F32, got[0].F32[img*per:(img+1)*per]) {
					t.Fatalf("image %d: %v, want %v", img, got[0].F32[img*per:(img+1)*per], one[0].F32)
				}
			}
		})
	}
}

// TestSlotOf checks that slotOf names the pool slot of every chunk the
// pool deals (forJob.chunk), for loops of 1 to 40 units on 1 to 5 slots.
func TestSlotOf(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for slots := 1; slots <= min(n, 5); slots++ {
			j := &forJob{n: n, slots: slots}
			for s := range slots {
				for k := 0; ; k++ {
					lo, _, ok := j.chunk(s, k)
					if !ok {
						break
					}
					if got := slotOf(lo, n, slots); got != s {
						t.Fatalf("%d units on %d slots: chunk %d of slot %d starts at %d, slotOf says slot %d", n, slots, k, s, lo, got)
					}
				}
			}
		}
	}
}

// TestSubBatches checks splitSub: a batch of 8 on two workers (12 on
// three) runs as Runs of 4 images on one worker each, head and batched
// tail, bit for bit as a one-thread program runs each batch of 4 (and,
// the generic kernels summing a batch as an image, as Runs of one image
// each); its memory is the sub plans' (ArenaBytes), a Run allocates
// nothing, Runs from several goroutines agree and a cancelled one stops.
// Where a worker would get fewer than subMinImages images, or the batch
// does not divide among the workers, or no tail pays, there is no sub
// plan.
func TestSubBatches(t *testing.T) {
	defer func(c int) { kern.LastLevelCache = c }(kern.LastLevelCache)
	kern.LastLevelCache = 64 << 10 // a bound of 32 KiB: one worker splits too
	for _, tc := range []struct {
		threads, batch, hidden int
		sub                    bool
	}{
		{2, 8, 64, true},
		{3, 12, 64, true},
		{2, 16, 64, true},
		// a tail pays on one worker only (tailWeightsPerByte): the
		// batch plan has none, its sub plans have one
		{2, 8, 2, true},
		{2, 4, 64, false}, // 2 images a worker
		{3, 8, 64, false}, // 8 images on 3 workers
		{2, 8, 1, false},  // no tail pays
	} {
		what := fmt.Sprintf("%d threads, batch %d, hidden %d", tc.threads, tc.batch, tc.hidden)
		p := mustCompile(t, tailGraph(1, tc.hidden), Options{Threads: tc.threads, Kernels: kern.Generic})
		shape := []int{tc.batch, 4, 16, 16}
		pl, err := p.PlanFor([][]int{shape})
		if err != nil {
			t.Fatal(err)
		}
		if (pl.sub != nil) != tc.sub {
			t.Fatalf("%s: sub plan %v, want %v", what, pl.sub != nil, tc.sub)
		}
		x, ins, outs := runTailCase(t, what, p, shape)
		if !tc.sub {
			p.Close()
			continue
		}
		k := tc.batch / tc.threads
		if pl.subs != tc.threads || pl.sub.images != k || pl.sub.tailFrom == 0 {
			t.Errorf("%s: %d sub plans of %d images, tail from step %d; want %d of %d with a tail", what, pl.subs, pl.sub.images, pl.sub.tailFrom, tc.threads, k)
		}
		// each part as a one-thread program runs a batch of k
		one := mustCompile(t, tailGraph(1, tc.hidden), Options{Threads: 1, Kernels: kern.Generic})
		per, out := len(x.F32)/tc.batch, len(outs[0].F32)/tc.batch
		for w := range tc.threads {
			part := ir.NewF32(append([]int{k}, shape[1:]...), x.F32[w*k*per:(w+1)*k*per])
			want, err := one.Run(context.Background(), []*ir.Tensor{part})
			if err != nil {
				t.Fatal(err)
			}
			if got := outs[0].F32[w*k*out : (w+1)*k*out]; !slices.Equal(got, want[0].F32) {
				t.Errorf("%s: part %d differs from a one-thread Run of its %d images", what, w, k)
			}
		}
		one.Close()
		if got, want := pl.ArenaBytes(), tc.threads*pl.sub.ArenaBytes(); got != want {
			t.Errorf("%s: ArenaBytes %d, want %d", what, got, want)
		}
		checkRuns(t, what, p, ins, outs)
		p.Close()
	}
}

// TestSubBatchesProfile checks that a profiled Run of a plan with sub
// plans takes them: no arena of the batch plan's own tail made (hidden
// 64: it has one, cut for two workers), every step timed, its shapes the
// batch's, the steps from the sub plans' tail on named as the sub plan's,
// and the multiply-adds those of a one-thread program's profile.
func TestSubBatchesProfile(t *testing.T) {
	defer func(c int) { kern.LastLevelCache = c }(kern.LastLevelCache)
	kern.LastLevelCache = 64 << 10
	for _, hidden := range []int{64, 2} {
		what := fmt.Sprintf("hidden %d", hidden)
		shape := []int{8, 4, 16, 16}
		x := ir.NewF32(shape, nil)
		for i := range x.F32 {
			x.F32[i] = float32((i*7)%9-4) / 4
		}
		profile := func(threads int) ([]StepProfile, *Plan) {
			p := mustCompile(t, tailGraph(1, hidden), Options{Threads: threads, Kernels: kern.Generic})
			t.Cleanup(func() { p.Close() })
			prof, _, err := p.Profile(context.Background(), []*ir.Tensor{x}, 2)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := p.PlanFor([][]int{shape})
			if err != nil {
				t.Fatal(err)
			}
			return prof, pl
		}
		prof, pl := profile(2)
		one, _ := profile(1)
		if pl.sub == nil {
			t.Fatalf("%s: no sub plan", what)
		}
		if len(prof) != len(one) {
			t.Fatalf("%s: %d steps profiled, one thread %d", what, len(prof), len(one))
		}
		// pl's own tail would have run on an arena of pl's
		if pl.tailFrom > 0 && len(pl.arenas) > 0 {
			t.Errorf("%s: a Run took the batch plan's own tail, not the sub plans", what)
		}
		byNode := map[*ir.Node]int{}
		for i, st := range pl.steps {
			byNode[st.c.node] = i
		}
		for j, sp := range prof {
			i := byNode[sp.Node]
			if sp.Time <= 0 {
				t.Errorf("%s: step %d (%s) not timed", what, i, sp.Node.OpType)
			}
			if sp.MACs != one[j].MACs {
				t.Errorf("%s: step %d counts %d MACs, one thread %d", what, i, sp.MACs, one[j].MACs)
			}
			if len(sp.Out) == 0 || len(sp.Out[0]) == 0 || sp.Out[0][0] != shape[0] {
				t.Errorf("%s: step %d output shape %v, want batch %d", what, i, sp.Out, shape[0])
			}
			if i >= pl.sub.tailFrom {
				if k := ops.KernelOf(kern.Generic, pl.sub.steps[i].step, 2); sp.Kernel != k {
					t.Errorf("%s: tail step %d named %q, the sub plan's %q", what, i, sp.Kernel, k)
				}
			}
		}
	}
}
