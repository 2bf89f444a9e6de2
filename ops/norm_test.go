package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// normRef normalizes each of the rows of x (rows·inner values) by its own
// mean and variance, computed in float64 the textbook way (the mean, then
// the squared deviations), and returns y = (x - μ)/sqrt(σ² + eps)·s(r, e) +
// b(r, e) with the row means and inverse deviations.
func normRef(x []float32, rows, inner int, eps float64, s, b func(r, e int) float64) (y, mean, inv []float64) {
	y = make([]float64, len(x))
	for r := range rows {
		var sum float64
		for e := range inner {
			sum += float64(x[r*inner+e])
		}
		mu := sum / float64(inner)
		var sq float64
		for e := range inner {
			d := float64(x[r*inner+e]) - mu
			sq += d * d
		}
		is := 1 / math.Sqrt(sq/float64(inner)+eps)
		for e := range inner {
			y[r*inner+e] = (float64(x[r*inner+e])-mu)*is*s(r, e) + b(r, e)
		}
		mean, inv = append(mean, mu), append(inv, is)
	}
	return y, mean, inv
}

// f32s rounds v to float32.
func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestInstanceNormMatchesReference(t *testing.T) {
	for i, shape := range [][]int{{2, 3, 4, 5}, {1, 2, 1, 3}, {3, 5, 7}, {2, 3}, {1, 4, 2, 3, 2}, {2, 1, 17, 1}} {
		for _, opset := range []int{1, 6} {
			x := nnRand(uint64(i), shape...)
			// An offset large against the spread: the variance must not
			// cancel away.
			for j := range x.F32 {
				x.F32[j] = 1000 + x.F32[j]
			}
			c := shape[1]
			scale, bias := nnRand(uint64(i+10), c), nnRand(uint64(i+20), c)
			eps := float32(1e-5)
			n := nnNode("InstanceNormalization", opset, 1)
			if i%2 == 1 {
				eps = 0.01
				n.Attrs["epsilon"] = nnFloat("epsilon", eps)
			}
			if opset == 1 {
				n.Attrs["consumed_inputs"] = nnInts("consumed_inputs", 0, 0, 0)
			}
			inner := NumElems(shape[2:])
			want, _, _ := normRef(x.F32, shape[0]*c, inner, float64(eps),
				func(r, _ int) float64 { return float64(scale.F32[r%c]) },
				func(r, _ int) float64 { return float64(bias.F32[r%c]) })
			for _, workers := range []int{1, 3} {
				out, err := runOpEnv(nnEnv(kern.Generic, workers), n, x, scale, bias)
				if err != nil {
					t.Fatalf("%v: %v", shape, err)
				}
				if !SameShape(out[0].Shape, shape) {
					t.Fatalf("%v: shape %v", shape, out[0].Shape)
				}
				// Rounded once from the float64 result.
				kerntest.Check(t, fmt.Sprintf("%v opset %d workers %d", shape, opset, workers), out[0].F32, f32s(want), 1e-6)
			}
		}
	}
}

func TestInstanceNormKnownAnswer(t *testing.T) {
	// ONNX's example: planes [-1, 0, 1] and [2, 3, 4], variance 2/3.
	x := NewF32([]int{1, 2, 1, 3}, []float32{-1, 0, 1, 2, 3, 4})
	s := NewF32([]int{2}, []float32{1, 1.5})
	b := NewF32([]int{2}, []float32{0, 1})
	out := mustRun(t, nnNode("InstanceNormalization", 6, 1), x, s, b)
	k := 1 / math.Sqrt(2.0/3+1e-5)
	want := []float32{float32(-k), 0, float32(k), float32(1 - 1.5*k), 1, float32(1 + 1.5*k)}
	kerntest.Check(t, "example", out[0].F32, want, 1e-7)
}

func TestInstanceNormErrors(t *testing.T) {
	x := nnRand(1, 2, 3, 4)
	s, b := nnRand(2, 3), nnRand(3, 3)
	node := func() *Node { return nnNode("InstanceNormalization", 6, 1) }
	tests := []struct {
		sub string
		n   *Node
		ins []*Tensor
	}{
		{"scale has type float32 shape [2]", node(), []*Tensor{x, nnRand(2, 2), b}},
		{"B has type float32 shape [3,1]", node(), []*Tensor{x, s, nnRand(3, 3, 1)}},
		{"B has type int64", node(), []*Tensor{x, s, NewI64([]int{3}, nil)}},
		{"want float32 of rank at least 2", node(), []*Tensor{nnRand(1, 5), s, b}},
		{"input has type int64", node(), []*Tensor{NewI64([]int{2, 3, 4}, nil), s, b}},
		{"got 2 inputs", node(), []*Tensor{x, s}},
		{"input 2 is required", node(), []*Tensor{x, s, nil}},
		{"has one output", nnNode("InstanceNormalization", 6, 2), []*Tensor{x, s, b}},
	}
	for _, tt := range tests {
		wantErr(t, tt.sub, tt.n, tt.ins...)
	}
	if _, err := runOp(nnNode("InstanceNormalization", 6, 1, nnInt("epsilon", 1)), x, s, b); err == nil ||
		!strings.Contains(err.Error(), `attribute "epsilon" has type INT`) {
		t.Errorf("epsilon of the wrong type: %v", err)
	}
}

// lnCase is a LayerNormalization: X's shape, axis, and the shapes of
// Scale and B (B nil: absent).
type lnCase struct {
	x      []int
	axis   int64
	s, b   []int
	outs   []string // the node's outputs; "" absent
	hasEps bool
}

func TestLayerNormMatchesReference(t *testing.T) {
	cases := []lnCase{
		{x: []int{2, 3, 4, 5}, axis: -1, s: []int{5}, b: []int{5}, outs: []string{"y", "m", "i"}},
		{x: []int{2, 3, 4, 5}, axis: 1, s: []int{3, 4, 5}, b: []int{3, 4, 5}, outs: []string{"y", "m", "i"}, hasEps: true},
		{x: []int{2, 3, 4, 5}, axis: -4, s: []int{2, 3, 4, 5}, outs: []string{"y", "m", "i"}},
		{x: []int{2, 3, 4, 5}, axis: 2, s: []int{4, 5}, b: []int{4, 5}, outs: []string{"y"}},
		{x: []int{3, 17}, axis: 0, s: []int{3, 17}, b: []int{3, 17}, outs: []string{"y", "", "i"}, hasEps: true},
		{x: []int{7}, axis: 0, s: []int{7}, outs: []string{"y", "m"}},
		{x: []int{5, 1, 9}, axis: -2, s: []int{1, 9}, b: []int{9}, outs: []string{"y", "m", "i"}},
		// Broadcast parameters: over one normalized axis, a scalar, leading 1s.
		{x: []int{2, 3, 4, 5}, axis: 2, s: []int{4, 1}, b: []int{1, 5}, outs: []string{"y", "m", "i"}},
		{x: []int{2, 3, 4, 5}, axis: 1, s: []int{1}, b: []int{3, 1, 5}, outs: []string{"y"}},
		{x: []int{2, 3, 4, 5}, axis: 3, s: []int{1, 1, 1, 5}, b: []int{1, 1, 5}, outs: []string{"y", "m"}},
		// Many rows, split across workers.
		{x: []int{64, 300}, axis: -1, s: []int{300}, b: []int{300}, outs: []string{"y", "m", "i"}},
	}
	for i, lc := range cases {
		x := nnRand(uint64(i), lc.x...)
		for j := range x.F32 {
			x.F32[j] = 300 + 2*x.F32[j]
		}
		ax := int(lc.axis)
		if ax < 0 {
			ax += len(lc.x)
		}
		rows, inner := NumElems(lc.x[:ax]), NumElems(lc.x[ax:])
		scale := nnRand(uint64(i+30), lc.s...)
		ins := []*Tensor{x, scale}
		var bias *Tensor
		if lc.b != nil {
			bias = nnRand(uint64(i+40), lc.b...)
			ins = append(ins, bias)
		}
		eps := 1e-5
		n := nnNode("LayerNormalization", 17, 0, nnInt("axis", lc.axis))
		if lc.hasEps {
			eps = float64(float32(0.125))
			n.Attrs["epsilon"] = nnFloat("epsilon", 0.125)
		}
		n.Outputs = lc.outs
		// param reads a broadcast parameter of shape ps at element e of
		// the normalized shape.
		norm := lc.x[ax:]
		param := func(p *Tensor) func(r, e int) float64 {
			if p == nil {
				return func(int, int) float64 { return 0 }
			}
			ps := p.Shape
			return func(_, e int) float64 {
				coord := make([]int, len(norm))
				unravel(e, norm, coord)
				idx, stride := 0, 1
				for j := len(ps) - 1; j >= 0; j-- {
					k := j - len(ps) + len(norm) // the normalized axis it is on
					if k >= 0 && ps[j] != 1 {
						idx += coord[k] * stride
					}
					stride *= ps[j]
				}
				return float64(p.F32[idx])
			}
		}
		want, mean, inv := normRef(x.F32, rows, inner, eps, param(scale), param(bias))
		statShape := append([]int(nil), lc.x...)
		for j := ax; j < len(statShape); j++ {
			statShape[j] = 1
		}
		var first []*Tensor
		for _, workers := range []int{1, 3} {
			out, err := runOpEnv(nnEnv(kern.Generic, workers), n, ins...)
			what := fmt.Sprintf("%+v workers %d", lc, workers)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !SameShape(out[0].Shape, lc.x) {
				t.Fatalf("%s: Y shape %v", what, out[0].Shape)
			}
			kerntest.Check(t, what+" Y", out[0].F32, f32s(want), 1e-6)
			for o, stat := range [][]float64{nil, mean, inv} {
				if o == 0 || o >= len(lc.outs) || lc.outs[o] == "" {
					continue
				}
				if !SameShape(out[o].Shape, statShape) {
					t.Fatalf("%s: output %d shape %v, want %v", what, o, out[o].Shape, statShape)
				}
				kerntest.Check(t, fmt.Sprintf("%s output %d", what, o), out[o].F32, f32s(stat), 1e-6)
			}
			if first == nil {
				first = out
				continue
			}
			kerntest.SameBits(t, what+" against 1 worker", out[0].F32, first[0].F32)
		}
	}
}

func TestLayerNormErrors(t *testing.T) {
	x := nnRand(1, 2, 3, 4)
	s := nnRand(2, 4)
	node := func(attrs ...*Attr) *Node { return nnNode("LayerNormalization", 17, 1, attrs...) }
	tests := []struct {
		sub string
		n   *Node
		ins []*Tensor
	}{
		{"axis 3 out of range for rank 3", node(nnInt("axis", 3)), []*Tensor{x, s}},
		{"axis -4 out of range", node(nnInt("axis", -4)), []*Tensor{x, s}},
		{"stash_type 11 is not supported", node(nnInt("stash_type", 11)), []*Tensor{x, s}},
		{"Scale has shape [3], which does not broadcast", node(), []*Tensor{x, nnRand(2, 3)}},
		{"Scale has shape [2,1,4], which does not broadcast", node(nnInt("axis", 1)), []*Tensor{x, nnRand(2, 2, 1, 4)}},
		{"Scale has shape [1,1,1,4], which does not broadcast", node(), []*Tensor{x, nnRand(2, 1, 1, 1, 4)}},
		{"B has shape [5]", node(), []*Tensor{x, s, nnRand(3, 5)}},
		{"B has type int64", node(), []*Tensor{x, s, NewI64([]int{4}, nil)}},
		{"Scale has type int64", node(), []*Tensor{x, NewI64([]int{4}, nil)}},
		{"want float32 of rank at least 1", node(), []*Tensor{NewF32(nil, []float32{1}), s}},
		{"X has type int64", node(), []*Tensor{NewI64([]int{2, 4}, nil), s}},
		{"input 1 is required", node(), []*Tensor{x, nil}},
		{"got 1 inputs", node(), []*Tensor{x}},
		{"at most 3", nnNode("LayerNormalization", 17, 4), []*Tensor{x, s}},
	}
	for _, tt := range tests {
		wantErr(t, tt.sub, tt.n, tt.ins...)
	}
}

// TestNormRunAllocatesNothing counts the allocations of the normalization
// steps after their first run, serially.
func TestNormRunAllocatesNothing(t *testing.T) {
	x := nnRand(1, 2, 3, 4, 5)
	ln := nnNode("LayerNormalization", 17, 3, nnInt("axis", 2))
	lnb := nnNode("LayerNormalization", 17, 1, nnInt("axis", 1))
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{nnNode("InstanceNormalization", 6, 1), []*Tensor{x, nnRand(2, 3), nnRand(3, 3)}},
		{ln, []*Tensor{x, nnRand(2, 4, 5), nnRand(3, 4, 5)}},
		{lnb, []*Tensor{x, nnRand(2, 3, 1, 5), nnRand(3, 4, 1)}},
	}
	for _, c := range cases {
		vals, step, err := prepareOp(c.n, c.ins...)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]*Tensor, len(vals))
		for i, v := range vals {
			out[i] = NewF32(v.Shape, nil)
		}
		env := &kern.Env{K: kern.Generic, Par: kern.Serial{}}
		run := func() {
			if err := step.Run(env, c.ins, out); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if got := testing.AllocsPerRun(5, run); got != 0 {
			t.Errorf("%s: %v allocations per Run, want 0", c.n.OpType, got)
		}
	}
}
