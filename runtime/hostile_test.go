package runtime

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bnrun/bnrun/ir"
)

// Hostile graphs built from the real operators of package ops: every one
// must fail with an error naming the node, op or tensor at fault, at
// Compile or at the first Run, never panic, hang or allocate what a shape
// claims before checking it. docs/robustness.md lists the messages.

// hNode returns a default-domain node at opset 13 with the given
// attributes.
func hNode(name, op string, ins, outs []string, attrs ...*ir.Attr) *ir.Node {
	n := &ir.Node{Name: name, OpType: op, Opset: 13, Inputs: ins, Outputs: outs, Attrs: map[string]*ir.Attr{}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

// hOpset returns n read at another opset version.
func hOpset(n *ir.Node, v int) *ir.Node { n.Opset = v; return n }

// hInts is an INTS attribute.
func hInts(name string, vs ...int64) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrInts, Ints: vs}
}

// hInt is an INT attribute.
func hInt(name string, v int64) *ir.Attr { return &ir.Attr{Name: name, Type: ir.AttrInt, I: v} }

// hFloats is a FLOATS attribute.
func hFloats(name string, vs ...float32) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrFloats, Floats: vs}
}

// hStr is a STRING attribute.
func hStr(name, s string) *ir.Attr { return &ir.Attr{Name: name, Type: ir.AttrString, S: s} }

// hIn declares a float32 graph input with fixed dims.
func hIn(name string, dims ...int) ir.ValueInfo {
	vi := ir.ValueInfo{Name: name, DType: ir.Float32, Dims: []ir.Dim{}}
	for _, d := range dims {
		vi.Dims = append(vi.Dims, ir.Dim{Value: d})
	}
	return vi
}

// hGraph is a graph with one float32 input x of the given dims, the named
// outputs, the nodes and the initializers (name, tensor, name, tensor...).
func hGraph(xDims []int, outs []string, nodes []*ir.Node, inits ...any) *ir.Graph {
	g := &ir.Graph{Inputs: []ir.ValueInfo{hIn("x", xDims...)}, Nodes: nodes, Initializers: map[string]*ir.Tensor{}}
	for _, o := range outs {
		g.Outputs = append(g.Outputs, ir.ValueInfo{Name: o})
	}
	for i := 0; i+1 < len(inits); i += 2 {
		g.Initializers[inits[i].(string)] = inits[i+1].(*ir.Tensor)
	}
	return g
}

// f32 is a zeroed float32 tensor.
func f32(shape ...int) *ir.Tensor { return ir.NewF32(shape, nil) }

// i64 is an int64 tensor with the given values and shape [len(vs)].
func i64(vs ...int64) *ir.Tensor { return ir.NewI64([]int{len(vs)}, vs) }

// hostileCase is one hostile graph. With no inputs the error is expected
// from Compile; otherwise Compile must succeed and Run on inputs must fail.
type hostileCase struct {
	name   string
	g      *ir.Graph
	inputs []*ir.Tensor
	opts   Options
	want   []string // substrings of the error, the node or tensor name first
}

// hostileError compiles c.g and, when c has inputs, runs it, and returns
// the error it expects; it fails the test when there is none.
func hostileError(t *testing.T, c hostileCase) error {
	t.Helper()
	if c.opts.Threads == 0 {
		c.opts.Threads = 1
	}
	p, err := Compile(c.g, c.opts)
	if c.inputs == nil {
		if err == nil {
			p.Close()
			t.Fatal("Compile: no error")
		}
		return err
	}
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer p.Close()
	_, err = p.Run(context.Background(), c.inputs)
	if err == nil {
		t.Fatal("Run: no error")
	}
	return err
}

// runHostile runs the cases, checking and logging each error (go test -v
// prints them, for docs/robustness.md).
func runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := hostileError(t, c)
			t.Logf("error: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHostileGraphStructure(t *testing.T) {
	x := []int{1, 4}
	relu := func(name, in, out string) *ir.Node { return hNode(name, "Relu", []string{in}, []string{out}) }
	runHostile(t, []hostileCase{
		{name: "cycle", g: hGraph(x, []string{"b"}, []*ir.Node{
			hNode("add", "Add", []string{"x", "b"}, []string{"a"}),
			relu("relu", "a", "b"),
		}), want: []string{`node "add" (Add)`, "graph has a cycle through this node"}},
		{name: "self loop", g: hGraph(x, []string{"y"}, []*ir.Node{
			hNode("loop", "Add", []string{"x", "y"}, []string{"y"}),
		}), want: []string{`node "loop" (Add)`, "cycle"}},
		{name: "input nobody produces", g: hGraph(x, []string{"y"}, []*ir.Node{
			hNode("add", "Add", []string{"x", "ghost"}, []string{"y"}),
		}), want: []string{`node "add" (Add)`, `input "ghost" is not produced by any node, initializer or graph input`}},
		{name: "duplicate output", g: hGraph(x, []string{"y"}, []*ir.Node{
			relu("r1", "x", "y"), relu("r2", "x", "y"),
		}), want: []string{`node "r2" (Relu)`, `output "y" is already defined as output of node "r1" (Relu)`}},
		{name: "output shadows graph input", g: hGraph(x, []string{"x"}, []*ir.Node{
			relu("r", "x", "x"),
		}), want: []string{`node "r" (Relu)`, `output "x" is already defined as graph input`}},
		{name: "output shadows initializer", g: hGraph(x, []string{"w"}, []*ir.Node{
			relu("r", "x", "w"),
		}, "w", f32(1, 4)), want: []string{`node "r" (Relu)`, `output "w" is already defined as initializer`}},
		{name: "graph input is an initializer", g: hGraph(x, []string{"y"}, []*ir.Node{
			relu("r", "x", "y"),
		}, "x", f32(1, 4)), want: []string{`graph input "x" is also defined as initializer`}},
		{name: "graph output nobody produces", g: hGraph(x, []string{"nothing"}, []*ir.Node{
			relu("r", "x", "y"),
		}), want: []string{`graph output "nothing" is not produced`}},
		{name: "unknown domain", g: hGraph(x, []string{"y"}, []*ir.Node{
			{Name: "evil", OpType: "Relu", Domain: "com.evil", Opset: 1, Inputs: []string{"x"}, Outputs: []string{"y"}},
		}), want: []string{"evil", "unsupported operators (1):\n  com.evil.Relu used by 1 node(s): evil"}},
		{name: "unknown op", g: hGraph(x, []string{"y"}, []*ir.Node{
			hNode("f1", "Frobnicate", []string{"x"}, []string{"a"}),
			hNode("", "Frobnicate", []string{"a"}, []string{"y"}),
		}), want: []string{"f1", "unsupported operators (1):\n  Frobnicate used by 2 node(s): f1, #1"}},
		{name: "opset too new", g: hGraph(x, []string{"y"}, []*ir.Node{
			hOpset(relu("r", "x", "y"), 22),
		}), want: []string{`node "r" (Relu)`, "opset 22 of the default domain is outside the supported range 7 to 21"}},
		{name: "opset too old", g: hGraph([]int{1, 1, 4, 4}, []string{"y"}, []*ir.Node{
			hOpset(hNode("c", "Conv", []string{"x", "w"}, []string{"y"}), 6),
		}, "w", f32(1, 1, 1, 1)), want: []string{`node "c" (Conv)`, "opset 6 of the default domain is outside the supported range 7 to 21"}},
		{name: "opset zero", g: hGraph(x, []string{"y"}, []*ir.Node{
			hOpset(hNode("id", "Identity", []string{"x"}, []string{"y"}), 0),
		}), want: []string{`node "id" (Identity)`, "opset 0 of the default domain is outside"}},
		{name: "graph input without a name", g: &ir.Graph{
			Inputs: []ir.ValueInfo{{DType: ir.Float32}}, Outputs: []ir.ValueInfo{{Name: "y"}},
		}, want: []string{"graph input with an empty name"}},
	})
}

// conv is a Conv node c: y = Conv(x, w) with the given attributes.
func conv(attrs ...*ir.Attr) *ir.Node {
	return hNode("c", "Conv", []string{"x", "w"}, []string{"y"}, attrs...)
}

func TestHostileAttributes(t *testing.T) {
	x := []int{1, 3, 8, 8}
	w := f32(4, 3, 3, 3)
	in := []*ir.Tensor{f32(x...)}
	convGraph := func(attrs ...*ir.Attr) *ir.Graph {
		return hGraph(x, []string{"y"}, []*ir.Node{conv(attrs...)}, "w", w)
	}
	gemm := func(attrs ...*ir.Attr) *ir.Graph {
		return hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("g", "Gemm", []string{"x", "b"}, []string{"y"}, attrs...),
		}, "b", f32(3, 5))
	}
	runHostile(t, []hostileCase{
		// Found when the node is bound, at Compile.
		{name: "Conv strides 0", g: convGraph(hInts("strides", 0, 1)),
			want: []string{`node "c" (Conv)`, "strides [0 1]: each value must be in [1, 2^30]"}},
		{name: "Conv negative pads", g: convGraph(hInts("pads", -1, 0, 0, 0)),
			want: []string{`node "c" (Conv)`, "pads [-1 0 0 0]: each value must be in [0, 2^30]"}},
		{name: "Conv huge dilation", g: convGraph(hInts("dilations", 1<<40, 1)),
			want: []string{`node "c" (Conv)`, "dilations [1099511627776 1]: each value must be in [1, 2^30]"}},
		{name: "Conv pads of type FLOATS", g: convGraph(hFloats("pads", 1, 1, 1, 1)),
			want: []string{`node "c" (Conv)`, `attribute "pads" has type FLOATS, want INTS`}},
		{name: "Conv group 0", g: convGraph(hInt("group", 0)),
			want: []string{`node "c" (Conv)`, "group 0 must be at least 1"}},
		{name: "Conv auto_pad unknown", g: convGraph(hStr("auto_pad", "WHATEVER")),
			want: []string{`node "c" (Conv)`, `auto_pad "WHATEVER" is not one of`}},
		{name: "Gemm transA 2", g: gemm(hInt("transA", 2)),
			want: []string{`node "g" (Gemm)`, "transA 2 and transB 0 must be 0 or 1"}},
		{name: "Gemm alpha of type STRING", g: gemm(hStr("alpha", "1")),
			want: []string{`node "g" (Gemm)`, `attribute "alpha" has type STRING, want FLOAT`}},
		{name: "Softmax axis of type INTS", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("sm", "Softmax", []string{"x"}, []string{"y"}, hInts("axis", 1)),
		}), want: []string{`node "sm" (Softmax)`, `attribute "axis" has type INTS, want INT`}},
		{name: "MaxPool without kernel_shape", g: hGraph(x, []string{"y"}, []*ir.Node{
			hNode("mp", "MaxPool", []string{"x"}, []string{"y"}),
		}), want: []string{`node "mp" (MaxPool)`, "kernel_shape is required"}},
		{name: "Concat without axis", g: hGraph(x, []string{"y"}, []*ir.Node{
			hNode("cat", "Concat", []string{"x", "x"}, []string{"y"}),
		}), want: []string{`node "cat" (Concat)`, "axis attribute is required"}},

		// Found when the first Run plans the shapes.
		{name: "Conv pads of wrong length", g: convGraph(hInts("pads", 1, 1)), inputs: in,
			want: []string{`node "c" (Conv)`, "pads has 2 values, want 4 for 2 spatial axes"}},
		{name: "Conv strides of wrong length", g: convGraph(hInts("strides", 1, 1, 1)), inputs: in,
			want: []string{`node "c" (Conv)`, "strides has 3 values, want 2 for 2 spatial axes"}},
		{name: "Conv kernel_shape mismatching W", g: convGraph(hInts("kernel_shape", 5, 5)), inputs: in,
			want: []string{`node "c" (Conv)`, "kernel_shape [5 5] does not match W's shape [4,3,3,3]"}},
		{name: "Conv kernel_shape of wrong length", g: convGraph(hInts("kernel_shape", 3)), inputs: in,
			want: []string{`node "c" (Conv)`, "kernel_shape [3] has 1 values, want 2"}},
		{name: "Conv window larger than input", g: hGraph([]int{1, 3, 2, 2}, []string{"y"}, []*ir.Node{conv()}, "w", w),
			inputs: []*ir.Tensor{f32(1, 3, 2, 2)},
			want:   []string{`node "c" (Conv)`, "window of extent 3 is larger than the padded input 2 on spatial axis 0"}},
		{name: "Softmax axis out of range", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("sm", "Softmax", []string{"x"}, []string{"y"}, hInt("axis", 5)),
		}), inputs: []*ir.Tensor{f32(2, 3)}, want: []string{`node "sm" (Softmax)`, "axis 5 out of range for rank 2"}},
		{name: "Softmax legacy axis out of range", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hOpset(hNode("sm", "Softmax", []string{"x"}, []string{"y"}, hInt("axis", -4)), 11),
		}), inputs: []*ir.Tensor{f32(2, 3)}, want: []string{`node "sm" (Softmax)`, "axis -4 out of range for rank 2"}},
		{name: "Transpose perm not a permutation", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("tr", "Transpose", []string{"x"}, []string{"y"}, hInts("perm", 0, 0)),
		}), inputs: []*ir.Tensor{f32(2, 3)}, want: []string{`node "tr" (Transpose)`, "perm [0 0] is not a permutation of [0, 2)"}},
		{name: "Gather index out of range", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("ga", "Gather", []string{"x", "idx"}, []string{"y"}),
		}, "idx", i64(7)), inputs: []*ir.Tensor{f32(2, 3)}, want: []string{`node "ga" (Gather)`, "index 7 out of range for axis of size 2"}},
	})
}

func TestHostileShapes(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "Conv weights against input channels", g: hGraph([]int{1, 3, 8, 8}, []string{"y"},
			[]*ir.Node{conv()}, "w", f32(4, 2, 3, 3)), inputs: []*ir.Tensor{f32(1, 3, 8, 8)},
			want: []string{`node "c" (Conv)`, "W has shape [4,2,3,3]: 2 channels per group, but X has 3 channels in 1 groups"}},
		{name: "Conv weights of wrong rank", g: hGraph([]int{1, 3, 8, 8}, []string{"y"},
			[]*ir.Node{conv()}, "w", f32(4, 3, 3)), inputs: []*ir.Tensor{f32(1, 3, 8, 8)},
			want: []string{`node "c" (Conv)`, "W has shape [4,3,3], want rank 4 like X [1,3,8,8]"}},
		{name: "Conv bias of wrong length", g: hGraph([]int{1, 3, 8, 8}, []string{"y"}, []*ir.Node{
			hNode("c", "Conv", []string{"x", "w", "b"}, []string{"y"}),
		}, "w", f32(4, 3, 3, 3), "b", f32(5)), inputs: []*ir.Tensor{f32(1, 3, 8, 8)},
			want: []string{`node "c" (Conv)`, "B has type float32 shape [5], want float32 [4]"}},
		{name: "Gemm inner dims", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("g", "Gemm", []string{"x", "b"}, []string{"y"}),
		}, "b", f32(4, 5)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "g" (Gemm)`, "A' is 2×3 but B' is 4×5"}},
		{name: "Gemm C not broadcastable", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("g", "Gemm", []string{"x", "b", "c"}, []string{"y"}),
		}, "b", f32(3, 5), "c", f32(3)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "g" (Gemm)`, "C of shape [3] does not broadcast to [2,5]"}},
		{name: "MatMul inner dims", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("mm", "MatMul", []string{"x", "b"}, []string{"y"}),
		}, "b", f32(4, 5)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "mm" (MatMul)`}},
		{name: "Add not broadcastable", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("add", "Add", []string{"x", "b"}, []string{"y"}),
		}, "b", f32(4)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "add" (Add)`, "shapes [2,3] and [4] do not broadcast"}},
		{name: "Add of float32 and int64", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("add", "Add", []string{"x", "b"}, []string{"y"}),
		}, "b", i64(1)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "add" (Add)`, "A has type float32 but B has int64"}},
		{name: "Reshape to the wrong element count", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("rs", "Reshape", []string{"x", "s"}, []string{"y"}),
		}, "s", i64(4, 2)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "rs" (Reshape)`, "cannot reshape [2,3] (6 elements) to [4 2] ([4,2], 8 elements)"}},
		{name: "Reshape to overflowing dims", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("rs", "Reshape", []string{"x", "s"}, []string{"y"}),
		}, "s", i64(1<<62, 4)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "rs" (Reshape)`, "cannot reshape [2,3] (6 elements) to [4611686018427387904 4]"}},
		{name: "Reshape shape not constant", g: &ir.Graph{
			Inputs:  []ir.ValueInfo{hIn("x", 2, 3), {Name: "s", DType: ir.Int64, Dims: []ir.Dim{{Value: 100}}}},
			Outputs: []ir.ValueInfo{{Name: "y"}},
			Nodes:   []*ir.Node{hNode("rs", "Reshape", []string{"x", "s"}, []string{"y"})},
		}, inputs: []*ir.Tensor{f32(2, 3), ir.NewI64([]int{100}, nil)},
			want: []string{`node "rs" (Reshape)`, "shape must be a constant known at plan time"}},
		{name: "Concat rank mismatch", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("cat", "Concat", []string{"x", "b"}, []string{"y"}, hInt("axis", 0)),
		}, "b", f32(2, 3, 1)), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "cat" (Concat)`, "input 1 has rank 3, input 0 has 2"}},
		{name: "Concat axis out of range", g: hGraph([]int{2, 3}, []string{"y"}, []*ir.Node{
			hNode("cat", "Concat", []string{"x", "x"}, []string{"y"}, hInt("axis", 2)),
		}), inputs: []*ir.Tensor{f32(2, 3)},
			want: []string{`node "cat" (Concat)`, "axis 2 out of range for rank 2"}},
		{name: "BatchNormalization scale of wrong length", g: hGraph([]int{1, 3, 2, 2}, []string{"y"}, []*ir.Node{
			hNode("bn", "BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"}),
		}, "s", f32(2), "b", f32(3), "m", f32(3), "v", f32(3)), inputs: []*ir.Tensor{f32(1, 3, 2, 2)},
			want: []string{`node "bn" (BatchNormalization)`}},
	})
}

func TestHostileMemory(t *testing.T) {
	cos := func(shape *ir.Tensor) *ir.Graph {
		return hGraph([]int{1}, []string{"y"}, []*ir.Node{
			hNode("cos", "ConstantOfShape", []string{"s"}, []string{"y"}),
		}, "s", shape)
	}
	one := []*ir.Tensor{f32(1)}
	runHostile(t, []hostileCase{
		{name: "ConstantOfShape beyond the default per-tensor limit", g: cos(i64(1<<20, 1<<20)), inputs: one,
			want: []string{`node "cos" (ConstantOfShape)`, `output "y" of shape [1048576,1048576] exceeds the limit of 2147483648 bytes per tensor`}},
		{name: "ConstantOfShape overflowing dims", g: cos(i64(1<<40, 1<<40, 1<<40)), inputs: one,
			want: []string{`node "cos" (ConstantOfShape)`, `output "y" of shape [1099511627776,1099511627776,1099511627776] exceeds the limit`}},
		{name: "ConstantOfShape negative dim", g: cos(i64(2, -3)), inputs: one,
			want: []string{`node "cos" (ConstantOfShape)`, "shape [2 -3] has a negative dimension"}},
		{name: "ConstantOfShape under a small per-tensor limit", g: cos(i64(100, 100)), inputs: one,
			opts: Options{MaxTensorBytes: 1 << 10},
			want: []string{`node "cos" (ConstantOfShape)`, `output "y" of shape [100,100] exceeds the limit of 1024 bytes per tensor`}},
		{name: "Pad to a huge output", g: hGraph([]int{1, 1}, []string{"y"}, []*ir.Node{
			hNode("pad", "Pad", []string{"x", "p"}, []string{"y"}),
		}, "p", i64(0, 0, 1<<30, 1<<30)), inputs: []*ir.Tensor{f32(1, 1)},
			want: []string{`node "pad" (Pad)`, `output "y" of shape [1073741825,1073741825] exceeds the limit`}},
		{name: "Conv output beyond the per-tensor limit", g: hGraph([]int{1, 3, 8, 8}, []string{"y"}, []*ir.Node{
			conv(hInts("pads", 1<<20, 1<<20, 1<<20, 1<<20)),
		}, "w", f32(4, 3, 3, 3)), inputs: []*ir.Tensor{f32(1, 3, 8, 8)},
			want: []string{`node "c" (Conv)`, `output "y" of shape [1,4,2097158,2097158] exceeds the limit`}},
		{name: "total memory limit", g: hGraph([]int{64, 64}, []string{"y"}, []*ir.Node{
			hNode("r1", "Relu", []string{"x"}, []string{"a"}),
			hNode("r2", "Sigmoid", []string{"a"}, []string{"y"}),
		}), opts: Options{MaxTotalBytes: 1 << 12}, inputs: []*ir.Tensor{f32(64, 64)},
			want: []string{`inputs "x" [64,64] need 32768 bytes of intermediate memory, over the limit of 4096 (largest tensor: "a" [64,64], 16384 bytes)`}},
	})
}

func TestHostileRunInputs(t *testing.T) {
	g := &ir.Graph{
		Inputs: []ir.ValueInfo{
			hIn("x", 1, 4),
			{Name: "n", DType: ir.Float32, Dims: []ir.Dim{{Value: -1, Param: "N"}, {Value: 4}}},
			{Name: "u", DType: ir.Float32}, // no shape declared
		},
		Outputs: []ir.ValueInfo{{Name: "y"}, {Name: "z"}},
		Nodes: []*ir.Node{
			hNode("add", "Add", []string{"x", "n"}, []string{"y"}),
			hNode("mean", "ReduceMean", []string{"u"}, []string{"z"}, hInt("keepdims", 0)),
		},
	}
	p, err := Compile(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ok := f32(2, 4)
	huge := 1 << 32
	cases := []struct {
		name string
		in   []*ir.Tensor
		want []string
	}{
		{"wrong dtype", []*ir.Tensor{ir.NewI64([]int{1, 4}, nil), ok, ok}, []string{`input "x"`, "got int64, the model wants float32"}},
		{"wrong shape", []*ir.Tensor{f32(1, 5), ok, ok}, []string{`input "x"`, "got shape [1,5], the model wants [1,4]"}},
		{"wrong rank", []*ir.Tensor{f32(4), ok, ok}, []string{`input "x"`, "got shape [4], the model wants rank 2 ([1,4])"}},
		{"wrong symbolic-dim shape", []*ir.Tensor{f32(1, 4), f32(2, 5), ok}, []string{`input "n"`, "got shape [2,5], the model wants [N,4]"}},
		{"data shorter than shape", []*ir.Tensor{{DType: ir.Float32, Shape: []int{1, 4}, F32: make([]float32, 3)}, ok, ok},
			[]string{`input "x"`, "shape [1,4] needs 4 elements, data has 3"}},
		{"negative dim", []*ir.Tensor{f32(1, 4), {DType: ir.Float32, Shape: []int{-2, 4}}, ok},
			[]string{`input "n"`, "negative dimension in shape [-2,4]"}},
		// 2^32 * 2^32 * 16 * 4 wraps to 0, which the empty data would match.
		{"overflowing shape", []*ir.Tensor{f32(1, 4), ok, {DType: ir.Float32, Shape: []int{huge, huge, 16, 4}}},
			[]string{`input "u"`, "shape [4294967296,4294967296,16,4] has more elements than an int can count"}},
		{"overflowing shape with a zero dim", []*ir.Tensor{f32(1, 4), ok, {DType: ir.Float32, Shape: []int{huge, huge, 0}}},
			[]string{`input "u"`, "shape [4294967296,4294967296,0] has more elements than an int can count"}},
		{"nil input", []*ir.Tensor{nil, ok, ok}, []string{`input "x": given as nil`}},
		{"missing input", []*ir.Tensor{ok, ok}, []string{"got 2 inputs, the model has 3"}},
		{"extra input", []*ir.Tensor{ok, ok, ok, ok}, []string{"got 4 inputs, the model has 3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Run(context.Background(), c.in)
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestHostileInitializers: a Graph built by hand (not by the loader, which
// checks tensors as it decodes them) may hold initializers whose data does
// not match their shape; Compile rejects them by name.
func TestHostileInitializers(t *testing.T) {
	add := []*ir.Node{hNode("add", "Add", []string{"x", "w"}, []string{"y"})}
	bad := []struct {
		name string
		w    *ir.Tensor
		want string
	}{
		{"data shorter than shape", &ir.Tensor{DType: ir.Float32, Shape: []int{2, 3}, F32: make([]float32, 5)},
			"shape [2,3] needs 6 elements, data has 5"},
		{"negative dim", &ir.Tensor{DType: ir.Float32, Shape: []int{-1}, F32: nil}, "negative dimension in shape [-1]"},
		{"overflowing dims", &ir.Tensor{DType: ir.Float32, Shape: []int{math.MaxInt / 2, 4}},
			"shape [4611686018427387903,4] has more elements than an int can count"},
		{"nil", nil, "is nil"},
		{"unsupported dtype", &ir.Tensor{DType: ir.DType(8), Shape: []int{1}}, "has type string, want float32 or int64"},
	}
	var cases []hostileCase
	for _, b := range bad {
		cases = append(cases, hostileCase{name: b.name, g: hGraph([]int{2, 3}, []string{"y"}, add, "w", b.w),
			want: []string{`initializer "w"`, b.want}})
	}
	// An explicit per-tensor limit applies to initializers too (folded
	// constants are made after the loader checked the file's).
	cases = append(cases, hostileCase{name: "over the per-tensor limit", opts: Options{MaxTensorBytes: 16},
		g:    hGraph([]int{2, 3}, []string{"y"}, add, "w", f32(2, 3)),
		want: []string{`initializer "w" of shape [2,3] exceeds the limit of 16 bytes per tensor`}})
	runHostile(t, cases)
}

func TestHostileFoldedConstants(t *testing.T) {
	// Three 16 KiB constants folded while planning, under 32 KiB per run.
	var nodes []*ir.Node
	var outs []string
	for _, o := range []string{"c1", "c2", "c3"} {
		nodes = append(nodes, hNode("cos_"+o, "ConstantOfShape", []string{"s"}, []string{o}))
		outs = append(outs, o)
	}
	g := hGraph([]int{1}, outs, nodes, "s", i64(64, 64))
	runHostile(t, []hostileCase{
		{name: "folded constants over the total limit", g: g, inputs: []*ir.Tensor{f32(1)},
			opts: Options{MaxTotalBytes: 32 << 10},
			want: []string{`node "cos_c3" (ConstantOfShape)`, "folding constants: its outputs would bring the plan's constants past the limit of 32768 bytes"}},
		{name: "folded constants over the constant limit", g: g, inputs: []*ir.Tensor{f32(1)},
			opts: Options{MaxConstBytes: 20 << 10},
			want: []string{`node "cos_c2" (ConstantOfShape)`, "past the limit of 20480 bytes"}},
	})
}

// TestHostileGraphScale: a graph of many nodes all ready at once, whose
// outputs all stay live until one Concat reads them, compiles and plans
// in about linear time (sorting the ready list or the live blocks at every
// step made both quadratic: minutes for a file of a few MB).
func TestHostileGraphScale(t *testing.T) {
	const n = 100000
	g := &ir.Graph{Inputs: []ir.ValueInfo{hIn("x", 1, 1)}, Outputs: []ir.ValueInfo{{Name: "y"}}}
	ins := make([]string, n)
	for i := range ins {
		ins[i] = "r" + strconv.Itoa(i)
		g.Nodes = append(g.Nodes, hNode("n"+ins[i], "Relu", []string{"x"}, []string{ins[i]}))
	}
	g.Nodes = append(g.Nodes, hNode("cat", "Concat", ins, []string{"y"}, hInt("axis", 0)))
	start := time.Now()
	p, err := Compile(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pl, err := p.PlanFor([][]int{{1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	// Every Relu output is written in place in y (see placeParts).
	if pl.ArenaBytes() != 4*((n+15)/16*16) {
		t.Errorf("arena of %d bytes", pl.ArenaBytes())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("%d nodes took %v to compile and plan", n, d)
	} else {
		t.Logf("%d nodes: %v", n, d)
	}
	// Planning stops when the Run's context does (the plan for [1,1] is
	// cached; [1,1] is the only shape the model takes, so a fresh program).
	p2, err := Compile(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	p = p2
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Run(ctx, []*ir.Tensor{f32(1, 1)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("planning under a cancelled context: %v", err)
	}
}
