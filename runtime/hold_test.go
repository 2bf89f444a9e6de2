package runtime

import (
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"sync/atomic"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// holdGraph is x [1, 4, 5, 5] through 1×1 convolutions: y1 of W1 (read by
// it alone), y2 and y3 both of W2, y4 of W4 (also a graph output), y5 of
// W5 (also read by an rtAdd, z).
func holdGraph() *ir.Graph {
	w := func(seed int) *ir.Tensor {
		t := ir.NewF32([]int{3, 4, 1, 1}, nil)
		for i := range t.F32 {
			t.F32[i] = float32((i*seed)%7) - 3
		}
		return t
	}
	conv := func(name, wt string) *ir.Node {
		return &ir.Node{Name: name, OpType: "Conv", Opset: 17, Inputs: []string{"x", wt}, Outputs: []string{name}}
	}
	g := &ir.Graph{
		Inputs:       []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: []ir.Dim{{Value: 1}, {Value: 4}, {Value: 5}, {Value: 5}}}},
		Initializers: map[string]*ir.Tensor{"W1": w(3), "W2": w(5), "W4": w(9), "W5": w(11), "W5b": w(13)},
		Nodes: []*ir.Node{conv("y1", "W1"), conv("y2", "W2"), conv("y3", "W2"), conv("y4", "W4"), conv("y5", "W5"),
			{Name: "z", OpType: "rtAdd", Opset: 17, Inputs: []string{"W5", "W5b"}, Outputs: []string{"z"}}},
	}
	for _, o := range []string{"y1", "y2", "y3", "y4", "W4", "y5", "z"} {
		g.Outputs = append(g.Outputs, ir.ValueInfo{Name: o})
	}
	return g
}

// TestHoldWeights compiles holdGraph with Options.HoldWeights on every
// tier and checks that only W1 (one node reads it, no output is it) is
// held, its initializer replaced by a tensor of its shape without data,
// that the outputs are those of the program that holds none, bit for bit,
// and that a tier that packs lets W1's plain values go once it Runs.
func TestHoldWeights(t *testing.T) {
	x := ir.NewF32([]int{1, 4, 5, 5}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(i%11) / 11
	}
	for _, k := range append([]*kern.Tier{kern.Reference, kern.Generic}, kern.Best()) {
		want := func() []*ir.Tensor {
			p, err := Compile(holdGraph(), Options{Kernels: k, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if plain, packed := p.HeldWeightBytes(); plain+packed != 0 {
				t.Errorf("%s: without HoldWeights, %d bytes held as they are, %d packed", k.Name, plain, packed)
			}
			out, err := p.Run(context.Background(), []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}()
		g := holdGraph()
		p, err := Compile(g, Options{Kernels: k, Threads: 2, HoldWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range g.Initializers {
			if held := w.F32 == nil; held != (name == "W1") || !ir.SameShape(w.Shape, []int{3, 4, 1, 1}) {
				t.Errorf("%s: initializer %s has shape %v, held %v; want W1 alone held", k.Name, name, w.Shape, held)
			}
		}
		if plain, packed := p.HeldWeightBytes(); plain != 48 || packed != 0 {
			t.Errorf("%s: before a Run, %d bytes held as they are, %d packed; want W1's 48 as they are", k.Name, plain, packed)
		}
		for range 2 {
			got, err := p.Run(context.Background(), []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for j, v := range want[i].F32 {
					if math.Float32bits(got[i].F32[j]) != math.Float32bits(v) {
						t.Fatalf("%s: output %d [%d] = %v, want %v", k.Name, i, j, got[i].F32[j], v)
					}
				}
			}
		}
		plain, packed := p.HeldWeightBytes()
		if k.PackConv != nil && (plain != 0 || packed < 48) {
			t.Errorf("%s: after Runs, %d bytes held as they are, %d packed; want W1 packed alone", k.Name, plain, packed)
		}
		p.Close()
	}
}

// rtTaker is a test kernel that takes any float32 constant at input 1 and
// records the probes it is given; y = x.
type rtTaker struct {
	ops.PrepareFunc
	took   bool
	probed [][][]int
}

func (k *rtTaker) TakeConst(i int, t, stub *ir.Tensor) bool {
	k.took = i == 1
	return k.took
}
func (k *rtTaker) HeldBytes() (plain, packed int64) { return 0, 0 }
func (k *rtTaker) Probed(shapes [][][]int)          { k.probed = shapes }

// rtTakers are the rtTaker kernels made, by node name.
var rtTakers = map[string]*rtTaker{}

func init() {
	ops.Register("rtTake", func(n *ir.Node) (ops.Kernel, error) {
		k := &rtTaker{PrepareFunc: func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				copy(out[0].F32, in[0].F32)
				return nil
			}}, nil
		}}
		rtTakers[n.Name] = k
		return k, nil
	})
}

// TestProbeTakers checks the probes a kernel that took weights is given:
// the declared shapes with each dynamic dim at 1 and 3 (plus 2 for each
// distinct dim before it, one name one size), and none when an input is
// int64, has no declared shape, or the tier packs nothing.
func TestProbeTakers(t *testing.T) {
	dims := []ir.Dim{{Param: "N"}, {Value: 4}, {Value: -1}, {Param: "N"}}
	for _, c := range []struct {
		name   string
		ins    []ir.ValueInfo
		k      *kern.Tier
		probed [][][]int
	}{
		{"dynamic", []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: dims}}, kern.Twin,
			[][][]int{{{1, 4, 3, 1}, {2}}, {{3, 4, 5, 3}, {2}}}},
		{"int64 input", []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: dims}, {Name: "s", DType: ir.Int64, Dims: []ir.Dim{{Value: 2}}}}, kern.Twin, nil},
		{"undeclared", []ir.ValueInfo{{Name: "x", DType: ir.Float32}}, kern.Twin, nil},
		{"generic", []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: dims}}, kern.Generic, nil},
	} {
		g := &ir.Graph{Inputs: c.ins, Outputs: []ir.ValueInfo{{Name: "y"}},
			Initializers: map[string]*ir.Tensor{"w": ir.NewF32([]int{2}, nil)},
			Nodes:        []*ir.Node{{Name: "take_" + c.name, OpType: "rtTake", Opset: 17, Inputs: []string{"x", "w"}, Outputs: []string{"y"}}}}
		p, err := Compile(g, Options{Kernels: c.k, Threads: 1, HoldWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		k := rtTakers["take_"+c.name]
		if !k.took {
			t.Errorf("%s: w not taken", c.name)
		}
		if fmt.Sprint(k.probed) != fmt.Sprint(c.probed) {
			t.Errorf("%s: probed %v, want %v", c.name, k.probed, c.probed)
		}
	}
}

// rtLetGo is a test kernel that takes the constant at input 1 and lets
// 64 MiB of plain weights go at its first Run (as HeldBytes says).
type rtLetGo struct {
	ops.PrepareFunc
	plain atomic.Int64
}

func (k *rtLetGo) TakeConst(i int, t, stub *ir.Tensor) bool { return i == 1 }
func (k *rtLetGo) HeldBytes() (plain, packed int64)         { return k.plain.Load(), 0 }
func (k *rtLetGo) Probed(shapes [][][]int)                  {}

func init() {
	ops.Register("rtLetGo", func(n *ir.Node) (ops.Kernel, error) {
		k := &rtLetGo{}
		k.plain.Store(64 << 20)
		k.PrepareFunc = func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				k.plain.Store(0)
				copy(out[0].F32, in[0].F32)
				return nil
			}}, nil
		}
		return k, nil
	})
}

// TestReclaimLetGo checks that the first Run of a plan after which the
// kernels hold 32 MiB or more fewer plain weights collects garbage.
func TestReclaimLetGo(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: []ir.Dim{{Value: 2}}}}, Outputs: []ir.ValueInfo{{Name: "y"}},
		Initializers: map[string]*ir.Tensor{"w": ir.NewF32([]int{2}, nil)},
		Nodes:        []*ir.Node{{Name: "l", OpType: "rtLetGo", Opset: 17, Inputs: []string{"x", "w"}, Outputs: []string{"y"}}}}
	p, err := Compile(g, Options{Kernels: kern.Generic, Threads: 1, HoldWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	before := ms.NumGC
	if _, err := p.Run(context.Background(), []*ir.Tensor{ir.NewF32([]int{2}, nil)}); err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&ms)
	if ms.NumGC == before {
		t.Error("no collection after a first Run that let 64 MiB of weights go")
	}
}
