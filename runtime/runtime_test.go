package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// Test-only operators, so the runtime is tested independently of ops.
func init() {
	// rtScale: y = 2x + 1, elementwise.
	ops.Register("rtScale", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				env.Par.Do(len(in[0].F32), ops.RangeFunc(func(lo, hi int) {
					for i := lo; i < hi; i++ {
						out[0].F32[i] = 2*in[0].F32[i] + 1
					}
				}))
				return nil
			}}, nil
		}), nil
	})
	// rtAdd: y = a + b, same shapes.
	ops.Register("rtAdd", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			if !ir.SameShape(in[0].Shape, in[1].Shape) {
				return nil, ops.Step{}, n.Errorf("shapes differ")
			}
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				for i := range out[0].F32 {
					out[0].F32[i] = in[0].F32[i] + in[1].F32[i]
				}
				return nil
			}}, nil
		}), nil
	})
	// rtFlat: a view that flattens to 1-D.
	ops.Register("rtFlat", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: in[0].DType, Shape: []int{ir.NumElems(in[0].Shape)}}}, ops.Step{View: true, Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				copy(out[0].F32, in[0].F32)
				return nil
			}}, nil
		}), nil
	})
	// rtShape: the input's shape as a constant int64 tensor.
	ops.Register("rtShape", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			c := ir.NewI64([]int{len(in[0].Shape)}, nil)
			for i, d := range in[0].Shape {
				c.I64[i] = int64(d)
			}
			return []ops.Value{{DType: ir.Int64, Shape: c.Shape, Const: c}}, ops.Step{}, nil
		}), nil
	})
	// rtFail: fails at run time.
	ops.Register("rtFail", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				return errors.New("boom")
			}}, nil
		}), nil
	})
	// rtSleepy counts its runs (for cancellation tests).
	ops.Register("rtCount", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				countRuns.Add(1)
				copy(out[0].F32, in[0].F32)
				return nil
			}}, nil
		}), nil
	})
}

var countRuns atomic.Int64

func node(op string, ins []string, outs ...string) *ir.Node {
	return &ir.Node{Name: op + "_" + outs[0], OpType: op, Opset: 13, Inputs: ins, Outputs: outs}
}

func input(name string, dims ...int) ir.ValueInfo {
	vi := ir.ValueInfo{Name: name, DType: ir.Float32}
	for _, d := range dims {
		if d < 0 {
			vi.Dims = append(vi.Dims, ir.Dim{Value: -1, Param: "N"})
		} else {
			vi.Dims = append(vi.Dims, ir.Dim{Value: d})
		}
	}
	return vi
}

func chainGraph(n int) *ir.Graph {
	g := &ir.Graph{Inputs: []ir.ValueInfo{input("x", -1, 3)}, Outputs: []ir.ValueInfo{{Name: fmt.Sprintf("t%d", n)}}}
	prev := "x"
	for i := 1; i <= n; i++ {
		cur := fmt.Sprintf("t%d", i)
		g.Nodes = append(g.Nodes, node("rtScale", []string{prev}, cur))
		prev = cur
	}
	return g
}

func mustCompile(t *testing.T, g *ir.Graph, opts Options) *Program {
	t.Helper()
	if opts.Kernels == nil {
		opts.Kernels = &kern.Tier{Name: "test"}
	}
	p, err := Compile(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestChainReusesMemory(t *testing.T) {
	p := mustCompile(t, chainGraph(10), Options{Threads: 2})
	x := ir.NewF32([]int{4, 3}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	out, err := p.Run(context.Background(), []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	// y = 2y + 1 ten times: y = 1024x + 1023
	for i, v := range out[0].F32 {
		if want := 1024*float32(i) + 1023; v != want {
			t.Fatalf("element %d = %v, want %v", i, v, want)
		}
	}
	pl, err := p.PlanFor([][]int{{4, 3}})
	if err != nil {
		t.Fatal(err)
	}
	// Only two 12-element buffers (each padded to 16) alternate.
	if got := pl.ArenaBytes(); got != 2*16*4 {
		t.Errorf("arena uses %d bytes, want %d", got, 2*16*4)
	}
}

func TestOutOfOrderNodesAndFoldingAndViews(t *testing.T) {
	// shape is folded; flat is a view of a; a+b needs both.
	g := &ir.Graph{
		Inputs:       []ir.ValueInfo{input("x", 2, 2)},
		Outputs:      []ir.ValueInfo{{Name: "sum"}, {Name: "flat"}, {Name: "shape"}, {Name: "cc"}},
		Initializers: map[string]*ir.Tensor{"c": ir.NewF32([]int{2, 2}, []float32{1, 1, 1, 1})},
		Nodes: []*ir.Node{
			node("rtAdd", []string{"a", "b"}, "sum"),
			node("rtFlat", []string{"a"}, "flat"),
			node("rtScale", []string{"x"}, "a"),
			node("rtScale", []string{"a"}, "b"),
			node("rtShape", []string{"sum"}, "shape"),
			node("rtScale", []string{"c"}, "cc"),
		},
	}
	p := mustCompile(t, g, Options{Threads: 1})
	out, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{2, 2}, []float32{0, 1, 2, 3})})
	if err != nil {
		t.Fatal(err)
	}
	// a = 2x+1, b = 4x+3, sum = 6x+4
	want := []float32{4, 10, 16, 22}
	for i := range want {
		if out[0].F32[i] != want[i] {
			t.Fatalf("sum = %v, want %v", out[0].F32, want)
		}
	}
	if !ir.SameShape(out[1].Shape, []int{4}) || out[1].F32[3] != 7 {
		t.Errorf("flat = %v %v", out[1].Shape, out[1].F32)
	}
	if out[2].I64[0] != 2 || out[2].I64[1] != 2 {
		t.Errorf("shape = %v", out[2].I64)
	}
	if out[3].F32[0] != 3 {
		t.Errorf("cc = %v", out[3].F32)
	}
	pl, _ := p.PlanFor([][]int{{2, 2}})
	// Run-time steps: a, b, sum (flat is a view, shape and cc folded).
	if pl.Steps() != 3 {
		t.Errorf("plan runs %d steps, want 3", pl.Steps())
	}
}

func TestGraphErrors(t *testing.T) {
	cases := []struct {
		name string
		g    *ir.Graph
		want string
	}{
		{"missing input", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "y"}},
			Nodes: []*ir.Node{node("rtAdd", []string{"x", "ghost"}, "y")},
		}, `input "ghost" is not produced`},
		{"cycle", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "b"}},
			Nodes: []*ir.Node{node("rtAdd", []string{"x", "b"}, "a"), node("rtScale", []string{"a"}, "b")},
		}, "cycle"},
		{"duplicate output", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "a"}},
			Nodes: []*ir.Node{node("rtScale", []string{"x"}, "a"), node("rtScale", []string{"x"}, "a")},
		}, `"a" is already defined`},
		{"unsupported", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "c"}},
			Nodes: []*ir.Node{
				node("Frobnicate", []string{"x"}, "a"), node("Frobnicate", []string{"a"}, "b"),
				{Name: "q", OpType: "QuantizeLinear", Domain: "com.example", Inputs: []string{"b"}, Outputs: []string{"c"}},
			},
		}, "unsupported operators (2):\n  Frobnicate used by 2 node(s): Frobnicate_a, Frobnicate_b\n  com.example.QuantizeLinear used by 1 node(s): q"},
		{"opset too new", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "a"}},
			Nodes: []*ir.Node{{Name: "s", OpType: "rtScale", Opset: 22, Inputs: []string{"x"}, Outputs: []string{"a"}}},
		}, `node "s" (rtScale): opset 22 of the default domain is outside the supported range 7 to 21`},
		{"opset too old", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "a"}},
			Nodes: []*ir.Node{{Name: "s", OpType: "rtScale", Opset: 6, Inputs: []string{"x"}, Outputs: []string{"a"}}},
		}, "opset 6 of the default domain"},
		{"missing output", &ir.Graph{
			Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "nothing"}},
		}, `graph output "nothing"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.g, Options{Kernels: &kern.Tier{}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	p := mustCompile(t, chainGraph(2), Options{})
	bad := []struct {
		in   *ir.Tensor
		want string
	}{
		{ir.NewF32([]int{2, 4}, nil), "wants [N,3]"},
		{ir.NewF32([]int{6}, nil), "wants rank 2"},
		{ir.NewI64([]int{2, 3}, nil), "got int64, the model wants float32"},
		{&ir.Tensor{DType: ir.Float32, Shape: []int{2, 3}, F32: make([]float32, 5)}, "needs 6 elements, data has 5"},
	}
	for _, b := range bad {
		_, err := p.Run(context.Background(), []*ir.Tensor{b.in})
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("input %v: got %v, want error with %q", b.in.Shape, err, b.want)
		}
	}
	g := chainGraph(1)
	g.Nodes = append(g.Nodes, node("rtFail", []string{"t1"}, "t2"))
	g.Outputs[0].Name = "t2"
	pf := mustCompile(t, g, Options{})
	_, err := pf.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{1, 3}, nil)})
	if err == nil || !strings.Contains(err.Error(), `node "rtFail_t2" (rtFail): boom`) {
		t.Errorf("got %v", err)
	}
}

func TestCancellation(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.ValueInfo{input("x", 1)}, Outputs: []ir.ValueInfo{{Name: "b"}},
		Nodes: []*ir.Node{node("rtCount", []string{"x"}, "a"), node("rtCount", []string{"a"}, "b")}}
	p := mustCompile(t, g, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := countRuns.Load()
	_, err := p.Run(ctx, []*ir.Tensor{ir.NewF32([]int{1}, nil)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if countRuns.Load() != before {
		t.Errorf("nodes ran after cancellation")
	}
}

func TestConcurrentRunsAcrossShapes(t *testing.T) {
	p := mustCompile(t, chainGraph(5), Options{Threads: 2, MaxPlans: 2})
	run := func(n int) []float32 {
		x := ir.NewF32([]int{n, 3}, nil)
		for i := range x.F32 {
			x.F32[i] = float32(i % 7)
		}
		out, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Error(err)
			return nil
		}
		return out[0].F32
	}
	want := map[int][]float32{}
	for n := 1; n <= 5; n++ {
		want[n] = run(n)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				n := 1 + (g+i)%5
				got := run(n)
				for j := range got {
					if got[j] != want[n][j] {
						t.Errorf("batch %d: element %d differs", n, j)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestRunIntoAllocatesNothing(t *testing.T) {
	g := chainGraph(4)
	for _, n := range g.Nodes {
		n.OpType = "rtCount" // a kernel that itself allocates nothing
	}
	p := mustCompile(t, g, Options{Threads: 2})
	in := []*ir.Tensor{ir.NewF32([]int{8, 3}, nil)}
	outs := make([]*ir.Tensor, 1)
	ctx := context.Background()
	if err := p.RunInto(ctx, in, outs); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := p.RunInto(ctx, in, outs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("RunInto allocates %v times per run", allocs)
	}
}

func TestPoolCoversRange(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, n := range []int{1, 2, 3, 7, 100} {
		seen := make([]int32, n)
		p.Do(n, ops.RangeFunc(func(lo, hi int) {
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&seen[i], 1)
			}
		}))
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, s)
			}
		}
	}
}

// takerCheck is a TakerTask that checks what Do tells it: each taker
// below the pool's worker count, never two chunks at once with one taker,
// every unit once, and no call of plain Range.
type takerCheck struct {
	t       *testing.T
	workers int
	busy    []atomic.Bool
	seen    []atomic.Int32
	used    []atomic.Bool // takers that ran a chunk
}

func (c *takerCheck) Range(lo, hi int) { c.t.Errorf("Range(%d, %d) called on a TakerTask", lo, hi) }

func (c *takerCheck) RangeTaker(lo, hi, taker int) {
	if taker < 0 || taker >= c.workers {
		c.t.Errorf("taker %d of a pool of %d workers", taker, c.workers)
		return
	}
	if !c.busy[taker].CompareAndSwap(false, true) {
		c.t.Errorf("taker %d runs two chunks at once", taker)
		return
	}
	c.used[taker].Store(true)
	for i := lo; i < hi; i++ {
		c.seen[i].Add(1)
	}
	time.Sleep(time.Duration(hi-lo) * time.Microsecond)
	c.busy[taker].Store(false)
}

// TestPoolTakers checks that Do runs a TakerTask's chunks through
// RangeTaker with takers in [0, Workers()), one goroutine a taker at a
// time, every unit once, from concurrent callers; and that a loop's
// chunks go to more than one taker.
func TestPoolTakers(t *testing.T) {
	for _, workers := range []int{2, 3, 4} {
		p := NewPool(workers)
		var wg sync.WaitGroup
		var several atomic.Int32
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, n := range []int{1, 2, 5, 16, 33, 200} {
					for range 20 {
						c := &takerCheck{t: t, workers: workers, busy: make([]atomic.Bool, workers),
							seen: make([]atomic.Int32, n), used: make([]atomic.Bool, workers)}
						p.Do(n, c)
						for i := range c.seen {
							if v := c.seen[i].Load(); v != 1 {
								t.Errorf("%d workers, n=%d: unit %d run %d times", workers, n, i, v)
							}
						}
						takers := 0
						for i := range c.used {
							if c.used[i].Load() {
								takers++
							}
						}
						if takers > 1 {
							several.Add(1)
						}
					}
				}
			}()
		}
		wg.Wait()
		p.Close()
		if several.Load() == 0 {
			t.Errorf("%d workers: no loop ran on more than one taker", workers)
		}
	}
}

func TestMemoryLimits(t *testing.T) {
	p := mustCompile(t, chainGraph(3), Options{MaxTensorBytes: 4 * 100, MaxTotalBytes: 1 << 20})
	if _, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{30, 3}, nil)}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{40, 3}, nil)})
	if err == nil || !strings.Contains(err.Error(), `output "t1" of shape [40,3] exceeds the limit of 400 bytes per tensor`) {
		t.Errorf("per-tensor limit: got %v", err)
	}
	p = mustCompile(t, chainGraph(3), Options{MaxTotalBytes: 1000})
	_, err = p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{200, 3}, nil)})
	if err == nil || !strings.Contains(err.Error(), "bytes of intermediate memory, over the limit of 1000") {
		t.Errorf("total limit: got %v", err)
	}
}

// TestConcatInPlace checks placeParts on a DenseNet-like chain of Concats
// (each of all the features so far) plus a Concat that shares an input
// with the chain but not its layout: with one outer slice the chain's
// features and Concats become views of the last Concat, the other one
// copies, and every output is right; with two (batch 2) nothing is placed.
func TestConcatInPlace(t *testing.T) {
	cat := func(ins []string, out string) *ir.Node {
		n := node("Concat", ins, out)
		n.Attrs = map[string]*ir.Attr{"axis": {Name: "axis", Type: ir.AttrInt, I: 1}}
		return n
	}
	g := &ir.Graph{
		Inputs:  []ir.ValueInfo{input("x", -1, 2)},
		Outputs: []ir.ValueInfo{{Name: "y3"}, {Name: "sum"}},
		Nodes: []*ir.Node{
			node("rtScale", []string{"x"}, "a"),
			cat([]string{"a"}, "y1"),
			node("rtScale", []string{"y1"}, "b"),
			cat([]string{"a", "b"}, "y2"),
			node("rtScale", []string{"y2"}, "c"),
			cat([]string{"a", "b", "c"}, "y3"),
			node("rtScale", []string{"a"}, "e"),
			node("rtScale", []string{"e"}, "e2"),
			node("rtScale", []string{"e2"}, "e3"),
			cat([]string{"a", "e", "e2", "e3"}, "w"),
			node("rtAdd", []string{"w", "y3"}, "sum"),
		},
	}
	p := mustCompile(t, g, Options{Threads: 2})
	for _, n := range []int{1, 2} {
		x := ir.NewF32([]int{n, 2}, nil)
		for i := range x.F32 {
			x.F32[i] = float32(i) - 1.5
		}
		out, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		// The same graph, computed here per image.
		f := func(v float32) float32 { return 2*v + 1 }
		for i := range n {
			x0, x1 := x.F32[2*i], x.F32[2*i+1]
			a := []float32{f(x0), f(x1)}
			b := []float32{f(a[0]), f(a[1])}
			y2 := append(append([]float32{}, a...), b...)
			var c []float32
			for _, v := range y2 {
				c = append(c, f(v))
			}
			y3 := append(append([]float32{}, y2...), c...)
			w := append([]float32{}, a...)
			for range 3 {
				w = append(w, f(w[len(w)-2]), f(w[len(w)-1]))
			}
			for j, want := range y3 {
				if got := out[0].F32[8*i+j]; got != want {
					t.Fatalf("batch %d: y3[%d][%d] = %v, want %v", n, i, j, got, want)
				}
			}
			for j := range w {
				if got, want := out[1].F32[8*i+j], w[j]+y3[j]; got != want {
					t.Fatalf("batch %d: sum[%d][%d] = %v, want %v", n, i, j, got, want)
				}
			}
		}
		pl, err := p.PlanFor([][]int{{n, 2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b", "c", "y1", "y2"} {
			sp := pl.slots[p.slotIndex[name]]
			placed := sp.kind == slotView && sp.root == p.slotIndex["y3"]
			if placed != (n == 1) {
				t.Errorf("batch %d: %s placed in y3: %v (kind %d)", n, name, placed, sp.kind)
			}
		}
		// y3 and w share a and have room for each other, but not the
		// same inputs: neither may hold the other.
		if sp := pl.slots[p.slotIndex["y3"]]; sp.kind == slotView {
			t.Errorf("batch %d: y3 placed in slot %d, over w's inputs", n, sp.root)
		}
		if sp := pl.slots[p.slotIndex["e"]]; sp.kind == slotView && sp.root == p.slotIndex["y3"] {
			t.Errorf("batch %d: e placed in y3, over the features", n)
		}
	}
}

// TestPoolRetiredJobs checks that no worker enters a job outside its
// loop: a new one, before it is posted, and one whose loop has returned,
// reached through the pool's hint (as a helper that kept it would) or
// the free list; and that a job entered during its loop counts the
// entries as takers from 1 on.
func TestPoolRetiredJobs(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	p.mu.Lock()
	fresh := p.job()
	p.mu.Unlock()
	if _, ok := fresh.enter(); ok {
		t.Fatal("a worker entered a job never posted")
	}
	var takers []int
	p.Do(6, ops.RangeFunc(func(lo, hi int) {
		j := p.hint.Load()
		if lo == 0 && len(takers) == 0 {
			for range 2 {
				taker, ok := j.enter()
				if !ok {
					t.Error("could not enter a loop in progress")
					return
				}
				takers = append(takers, taker)
				j.state.Add(-1)
			}
		}
	}))
	// the pool's own helpers may enter before, between or after them
	if len(takers) != 2 || takers[0] < 1 || takers[1] <= takers[0] || takers[1] > 4 {
		t.Errorf("two entries into a loop got takers %v, want two rising from 1, at most 4", takers)
	}
	for _, j := range []*forJob{p.hint.Load(), p.free[len(p.free)-1]} {
		if _, ok := j.enter(); ok {
			t.Error("a worker entered a job whose loop has returned")
		}
	}
}

// TestPoolWaitsForHelpers checks that Do returns only after every chunk
// has finished, where the caller's own chunks end first: a helper's chunk
// shorter than the caller's spin (it waits spinning) and longer (it
// parks, and the helper's leaving wakes it).
func TestPoolWaitsForHelpers(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	for _, d := range []time.Duration{20 * time.Microsecond, 3 * spinFor} {
		for i := range 20 {
			var done [8]atomic.Bool
			p.Do(len(done), ops.RangeFunc(func(lo, hi int) {
				for c := lo; c < hi; c++ {
					if c >= len(done)/2 {
						time.Sleep(d) // the helper's slot, or chunks the caller took from it
					}
					done[c].Store(true)
				}
			}))
			for c := range done {
				if !done[c].Load() {
					t.Fatalf("chunk %d of %v, loop %d: not finished when Do returned", c, d, i)
				}
			}
		}
	}
}

// poolChunks returns the chunks Do cuts [0, n) into for workers: a run of
// units per worker, [w·n/W, (w+1)·n/W) with W = min(n, workers), each cut
// front to back into pieces of half its units left, rounded up.
func poolChunks(n, workers int) map[[2]int]bool {
	out := map[[2]int]bool{}
	w := min(n, workers)
	for s := range w {
		lo, hi := s*n/w, (s+1)*n/w
		for lo < hi {
			size := (hi - lo + 1) / 2
			out[[2]int{lo, lo + size}] = true
			lo += size
		}
	}
	return out
}

// TestPoolChunks checks, for several worker counts, that Do covers [0, n)
// once with the fixed chunk boundaries of poolChunks (whichever goroutine
// claims them), from concurrent callers, and that the workers share a
// loop's chunks: chunks that sleep overlap in time.
func TestPoolChunks(t *testing.T) {
	// A run of 8 units: 4, 2, 1, 1; of 7: 4, 2, 1.
	if got, want := poolChunks(16, 2), map[[2]int]bool{{0, 4}: true, {4, 6}: true, {6, 7}: true, {7, 8}: true,
		{8, 12}: true, {12, 14}: true, {14, 15}: true, {15, 16}: true}; !maps.Equal(got, want) {
		t.Fatalf("poolChunks(16, 2) = %v, want %v", got, want)
	}
	for workers := 2; workers <= 5; workers++ {
		p := NewPool(workers)
		var wg sync.WaitGroup
		for caller := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, n := range []int{2, 3, 7, 19, 100, 1001} {
					chunks := poolChunks(n, workers)
					seen := make([]int32, n)
					var bad atomic.Int32
					p.Do(n, ops.RangeFunc(func(lo, hi int) {
						// [lo, hi) must be one of the chunks
						if !chunks[[2]int{lo, hi}] {
							bad.Add(1)
						}
						for i := lo; i < hi; i++ {
							atomic.AddInt32(&seen[i], 1)
						}
					}))
					if bad.Load() != 0 {
						t.Errorf("workers %d, caller %d, n=%d: %d ranges off the chunk boundaries", workers, caller, n, bad.Load())
					}
					for i, s := range seen {
						if s != 1 {
							t.Errorf("workers %d, caller %d, n=%d: index %d visited %d times", workers, caller, n, i, s)
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		// 4·workers units of 5 ms each: the pool's workers run some of
		// them at the same time (counted, not timed: on a loaded machine
		// a sleep's wake-up is late by more than its length).
		var running, most atomic.Int32
		p.Do(4*workers, ops.RangeFunc(func(lo, hi int) {
			r := running.Add(1)
			for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
		}))
		if want := int32(min(workers, 2)); most.Load() < want {
			t.Errorf("workers %d: at most %d chunks of a loop of sleeping chunks ran at once, want %d or more", workers, most.Load(), want)
		}
		p.Close()
	}
}

// BenchmarkPoolDo times loops of 8 chunks of about 2 µs each, with 50
// µs of the caller's own work between two loops, as a Run's ops come (a
// step's serial part, a small op that does not split): what a loop costs
// beyond its work is how soon the helpers start on it.
func BenchmarkPoolDo(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			p := NewPool(workers)
			defer p.Close()
			var sink [8]float64
			work := func(d time.Duration) float64 {
				x := 1.0
				for end := time.Now().Add(d); time.Now().Before(end); {
					for range 100 {
						x = x*1.0000001 + 1e-9
					}
				}
				return x
			}
			task := ops.RangeFunc(func(lo, hi int) {
				for i := lo; i < hi; i++ {
					sink[i] += work(2 * time.Microsecond)
				}
			})
			for b.Loop() {
				p.Do(8, task)
				sink[0] += work(50 * time.Microsecond)
			}
		})
	}
}

// TestPlansShareSlabs checks that Runs at several shapes one after another
// keep one slab, as long as the largest plan needs, and still compute
// right on memory another plan left behind.
func TestPlansShareSlabs(t *testing.T) {
	p := mustCompile(t, chainGraph(6), Options{Threads: 2})
	longest := 0
	for _, n := range []int{1, 4, 16, 2, 16, 1} {
		x := ir.NewF32([]int{n, 3}, nil)
		for i := range x.F32 {
			x.F32[i] = float32(i)
		}
		out, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out[0].F32 {
			w := float32(i)
			for range 6 {
				w = 2*w + 1
			}
			if v != w {
				t.Fatalf("batch %d: element %d = %v, want %v", n, i, v, w)
			}
		}
		pl, err := p.planFor(context.Background(), []*ir.Tensor{x}, true)
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, pl.slabLen(p))
	}
	if len(p.slabs.free) != 1 || len(p.slabs.free[0]) != longest {
		t.Errorf("after serial Runs the pool holds %d slabs, want one of %d elements", len(p.slabs.free), longest)
	}
}

func TestPoisonedSlabs(t *testing.T) {
	t.Setenv("BNRUN_POISON", "1")
	var sp slabPool
	for _, v := range sp.get(100) {
		if v == v {
			t.Fatalf("a new slab holds %v, want NaN under BNRUN_POISON=1", v)
		}
	}
}

// TestPlanCacheLRU checks that a full plan cache drops its least recently
// used plan, not all of them: with room for two, shapes 1, 2, 1, 3 keep
// the plans for 1 and 3, and a Run at 1 then reuses its plan.
func TestPlanCacheLRU(t *testing.T) {
	p := mustCompile(t, chainGraph(3), Options{Threads: 1, MaxPlans: 2})
	plans := map[int]*Plan{}
	run := func(n int) {
		t.Helper()
		x := ir.NewF32([]int{n, 3}, nil)
		if _, err := p.Run(context.Background(), []*ir.Tensor{x}); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.plans {
			if pl.inShapes[0][0] == n {
				plans[n] = pl
			}
		}
	}
	for _, n := range []int{1, 2, 1, 3} {
		run(n)
	}
	var cached []int
	for _, pl := range p.plans {
		cached = append(cached, pl.inShapes[0][0])
	}
	if !slices.Equal(cached, []int{1, 3}) {
		t.Fatalf("cached plans for batch %v, want [1 3] (least recently used first)", cached)
	}
	one := plans[1]
	run(1)
	if plans[1] != one {
		t.Errorf("batch 1 was planned again")
	}
}

// TestPoolSharedCache checks the pool's reading of its helpers' start
// times: a new pool, or one of one worker, does not claim a shared cache;
// a hundred starts of 100 ns make it claim one, a late helper (a start
// of 1 ms, clamped) does not undo that, and a few dozen starts of 1 µs do.
func TestPoolSharedCache(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	if p.SharedCache() {
		t.Fatal("a new pool claims a shared cache")
	}
	for range 128 {
		p.noteStart(100)
	}
	if !p.SharedCache() {
		t.Fatalf("starts of 100 ns: average %d ns, no shared cache", p.startNs.Load())
	}
	p.noteStart(1_000_000)
	if !p.SharedCache() {
		t.Fatalf("one late start: average %d ns, no shared cache", p.startNs.Load())
	}
	for range 64 {
		p.noteStart(1000)
	}
	if p.SharedCache() {
		t.Fatalf("starts of 1 µs: average %d ns, a shared cache", p.startNs.Load())
	}
	one := NewPool(1)
	for range 64 {
		one.noteStart(100)
	}
	if one.SharedCache() {
		t.Fatal("a pool of one worker claims a shared cache")
	}
}
