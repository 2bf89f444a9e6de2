package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// reduceRef reduces x over axes (normalised, none: all) by the reduction
// op, naively in float64: every input element is sent to its output
// element, whose values are then combined by the formula. keep keeps the
// reduced axes as 1.
func reduceRef(op string, x *Tensor, axes []int, keep bool) *Tensor {
	r := len(x.Shape)
	red := make([]bool, r)
	for _, a := range axes {
		red[a] = true
	}
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	var shape, full []int
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			shape, full = append(shape, d), append(full, d)
		case keep:
			shape, full = append(shape, 1), append(full, 1)
		default:
			full = append(full, 1)
		}
	}
	if shape == nil {
		shape = []int{}
	}
	vals := make([][]float64, NumElems(full))
	c := make([]int, r)
	fst := stridesOf(full)
	for i := 0; i < NumElems(x.Shape); i++ {
		unravel(i, x.Shape, c)
		o := 0
		for a := range c {
			if !red[a] {
				o += c[a] * fst[a]
			}
		}
		v := 0.0
		if x.DType == Int64 {
			v = float64(x.I64[i])
		} else {
			v = float64(x.F32[i])
		}
		vals[o] = append(vals[o], v)
	}
	out := make([]float64, len(vals))
	for o, vs := range vals {
		var acc float64
		switch op {
		case "ReduceSum", "ReduceMean", "ReduceLogSum":
			for _, v := range vs {
				acc += v
			}
			if op == "ReduceMean" {
				acc /= float64(len(vs))
			}
			if op == "ReduceLogSum" {
				acc = math.Log(acc)
			}
		case "ReduceProd":
			acc = 1
			for _, v := range vs {
				acc *= v
			}
		case "ReduceMax", "ReduceMin":
			acc = math.Inf(1)
			if op == "ReduceMax" {
				acc = math.Inf(-1)
			}
			for _, v := range vs {
				if op == "ReduceMax" && v > acc || op == "ReduceMin" && v < acc || v != v {
					acc = v
				}
			}
		case "ReduceL1":
			for _, v := range vs {
				acc += math.Abs(v)
			}
		case "ReduceL2", "ReduceSumSquare":
			for _, v := range vs {
				acc += v * v
			}
			if op == "ReduceL2" {
				acc = math.Sqrt(acc)
			}
		case "ReduceLogSumExp":
			for _, v := range vs {
				acc += math.Exp(v)
			}
			acc = math.Log(acc)
		}
		out[o] = acc
	}
	if x.DType == Int64 {
		t := NewI64(shape, nil)
		for i, v := range out {
			t.I64[i] = int64(v)
		}
		return t
	}
	t := NewF32(shape, nil)
	for i, v := range out {
		t.F32[i] = float32(v)
	}
	return t
}

var reduceNames = []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
	"ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}

// reduceNode is a reduction over axes at opset, the axes an attribute or
// (returned as the extra input) input 1 as that opset wants; axes nil is
// no axes given.
func reduceNode(op string, opset int, axes []int64, attrs ...*Attr) (*Node, []*Tensor) {
	from := 18
	if op == "ReduceSum" {
		from = 13
	}
	if opset >= from {
		if axes == nil {
			return elemNode(op, opset, attrs...), nil
		}
		return elemNode(op, opset, attrs...), []*Tensor{elI64([]int{len(axes)}, axes...)}
	}
	if axes != nil {
		attrs = append(attrs, elInts("axes", axes...))
	}
	return elemNode(op, opset, attrs...), nil
}

// TestReduceKnown checks each reduction against worked answers on a 2×3
// matrix, with keepdims 0 and 1 and negative axes.
func TestReduceKnown(t *testing.T) {
	x := elF32([]int{2, 3}, 1, -2, 3, 4, 5, -6)
	cases := []struct {
		op       string
		rows     []float32 // over axis 1
		cols     []float32 // over axis 0
		all, tol float32
	}{
		{"ReduceSum", []float32{2, 3}, []float32{5, 3, -3}, 5, 0},
		{"ReduceMean", []float32{2. / 3, 1}, []float32{2.5, 1.5, -1.5}, 5. / 6, 1e-6},
		{"ReduceMax", []float32{3, 5}, []float32{4, 5, 3}, 5, 0},
		{"ReduceMin", []float32{-2, -6}, []float32{1, -2, -6}, -6, 0},
		{"ReduceProd", []float32{-6, -120}, []float32{4, -10, -18}, 720, 0},
		{"ReduceL1", []float32{6, 15}, []float32{5, 7, 9}, 21, 0},
		{"ReduceL2", []float32{float32(math.Sqrt(14)), float32(math.Sqrt(77))}, []float32{float32(math.Sqrt(17)), float32(math.Sqrt(29)), float32(math.Sqrt(45))}, float32(math.Sqrt(91)), 1e-6},
		{"ReduceSumSquare", []float32{14, 77}, []float32{17, 29, 45}, 91, 0},
		{"ReduceLogSumExp", []float32{3.1328, 5.3133}, []float32{4.0486, 5.0009, 3.0001}, 5.4203, 1e-4},
	}
	for _, c := range cases {
		n, ax := reduceNode(c.op, 13, []int64{1}, elInt("keepdims", 0))
		checkElem(t, elF32([]int{2}, c.rows...), float64(c.tol), n, append([]*Tensor{x}, ax...)...)
		n, ax = reduceNode(c.op, 11, []int64{-1})
		checkElem(t, elF32([]int{2, 1}, c.rows...), float64(c.tol), n, append([]*Tensor{x}, ax...)...)
		n, ax = reduceNode(c.op, 13, []int64{-2})
		checkElem(t, elF32([]int{1, 3}, c.cols...), float64(c.tol), n, append([]*Tensor{x}, ax...)...)
		n, _ = reduceNode(c.op, 13, nil, elInt("keepdims", 0))
		checkElem(t, elF32([]int{}, c.all), float64(c.tol)*10, n, x)
		n, _ = reduceNode(c.op, 1, nil)
		checkElem(t, elF32([]int{1, 1}, c.all), float64(c.tol)*10, n, x)
	}
	// ReduceLogSum of positive values
	checkElem(t, elF32([]int{2}, float32(math.Log(6)), float32(math.Log(15))), 1e-6,
		elemNode("ReduceLogSum", 13, elInts("axes", 1), elInt("keepdims", 0)), elF32([]int{2, 3}, 1, 2, 3, 4, 5, 6))
	// int64 data: exact sums and products, truncated roots and logarithms
	xi := elI64([]int{2, 3}, 1, -2, 3, 4, 5, -6)
	i64 := func(op string, want ...int64) {
		t.Helper()
		checkElem(t, elI64([]int{2}, want...), 0, elemNode(op, 11, elInts("axes", 1), elInt("keepdims", 0)), xi)
	}
	i64("ReduceSum", 2, 3)
	i64("ReduceMax", 3, 5)
	i64("ReduceMin", -2, -6)
	i64("ReduceProd", -6, -120)
	i64("ReduceL1", 6, 15)
	i64("ReduceSumSquare", 14, 77)
	i64("ReduceL2", 3, 8)        // √14, √77
	i64("ReduceLogSum", 0, 1)    // log 2, log 3
	i64("ReduceLogSumExp", 3, 5) // 3.05, 5.31
	big := elI64([]int{3}, math.MaxInt64, 1, 1)
	checkElem(t, elI64([]int{}, math.MinInt64+1), 0, elemNode("ReduceSum", 11, elInt("keepdims", 0)), big) // wraps
	// a size-1 axis: each value alone
	checkElem(t, elF32([]int{3}, 2, 3, 4), 1e-6, elemNode("ReduceL2", 11, elInts("axes", 0), elInt("keepdims", 0)), elF32([]int{1, 3}, -2, 3, -4))
	checkElem(t, elF32([]int{1}, -2), 0, elemNode("ReduceMax", 11), elF32([]int{1}, -2))
	checkElem(t, elF32([]int{}, 7), 0, elemNode("ReduceSum", 11), elF32([]int{}, 7))
}

// TestReduceSpecialValues checks NaN, infinities and large values, and
// reductions over no values (an axis of size 0).
func TestReduceSpecialValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	x := elF32([]int{3, 2}, 1, nan, 2, 5, 3, -1)
	col := func(op string, want ...float32) {
		t.Helper()
		checkElem(t, elF32([]int{2}, want...), 1e-6, elemNode(op, 11, elInts("axes", 0), elInt("keepdims", 0)), x)
	}
	col("ReduceMax", 3, nan)
	col("ReduceMin", 1, nan)
	col("ReduceSum", 6, nan)
	// ReduceLogSumExp shifts by the maximum: no overflow at 1000, and
	// infinities come out as they are
	checkElem(t, elF32([]int{4}, 1000+float32(math.Log(2)), inf, float32(math.Inf(-1)), nan), 1e-3,
		elemNode("ReduceLogSumExp", 13, elInts("axes", 1), elInt("keepdims", 0)),
		elF32([]int{4, 2}, 1000, 1000, 1, inf, float32(math.Inf(-1)), float32(math.Inf(-1)), nan, 1))
	// the same with the axis kept last (whole rows)
	checkElem(t, elF32([]int{4}, 1000+float32(math.Log(2)), inf, float32(math.Inf(-1)), nan), 1e-3,
		elemNode("ReduceLogSumExp", 13, elInts("axes", 0), elInt("keepdims", 0)),
		elF32([]int{2, 4}, 1000, 1, float32(math.Inf(-1)), nan, 1000, inf, float32(math.Inf(-1)), 1))
	// over no values: the identities
	empty := elF32([]int{2, 0, 3})
	for _, c := range []struct {
		op   string
		want float32
	}{
		{"ReduceSum", 0}, {"ReduceProd", 1}, {"ReduceMax", float32(math.Inf(-1))}, {"ReduceMin", inf},
		{"ReduceL1", 0}, {"ReduceL2", 0}, {"ReduceSumSquare", 0}, {"ReduceLogSum", float32(math.Inf(-1))},
		{"ReduceLogSumExp", float32(math.Inf(-1))}, {"ReduceMean", nan},
	} {
		for _, axes := range [][]int64{{1}, {0, 1}} {
			n := elemNode(c.op, 11, elInts("axes", axes...))
			got := mustElem(t, n, empty)
			if NumElems(got.Shape) == 0 {
				t.Fatalf("%s: empty output %v", c.op, got.Shape)
			}
			for _, v := range got.F32 {
				if !(v == c.want || v != v && c.want != c.want) {
					t.Fatalf("%s over axes %v of %v: %v, want %v", c.op, axes, empty.Shape, got.F32, c.want)
				}
			}
		}
		// an empty output
		checkElem(t, elF32([]int{2, 0, 1}), 0, elemNode(c.op, 11, elInts("axes", 2)), empty)
	}
	checkElem(t, elI64([]int{2}, math.MinInt64, math.MinInt64), 0, elemNode("ReduceMax", 11, elInts("axes", 1), elInt("keepdims", 0)), elI64([]int{2, 0}))
	checkElem(t, elI64([]int{2}, math.MaxInt64, math.MaxInt64), 0, elemNode("ReduceMin", 11, elInts("axes", 1), elInt("keepdims", 0)), elI64([]int{2, 0}))
}

// TestReduceMatchesReference runs every reduction, on float32 and int64
// data, against reduceRef over awkward shapes (batch > 1, odd sizes,
// size-1 axes, rows longer than a block) and axes: leading, middle,
// trailing, several, negative, all, with keepdims 0 and 1, at the opsets
// of the attribute and of the input.
func TestReduceMatchesReference(t *testing.T) {
	shapes := [][]int{{2, 3, 4, 5}, {3, 1, 7}, {1, 5, 1, 3}, {2, 300}, {2, 3, 260}, {5}}
	axesSets := [][]int64{nil, {0}, {1}, {-1}, {0, 2}, {-3, -1}, {1, 2}, {0, 1, 2, 3}, {2, 0}}
	for si, shape := range shapes {
		xf := nnRand(uint64(si+1), shape...)
		xi := NewI64(shape, nil)
		for i := range xi.I64 {
			xi.I64[i] = int64(i*7%11) - 5
		}
		for _, axes := range axesSets {
			norm := make([]int, len(axes))
			ok := true
			for i, a := range axes {
				if a < -int64(len(shape)) || a >= int64(len(shape)) {
					ok = false
					break
				}
				norm[i] = int((a + int64(len(shape))) % int64(len(shape)))
			}
			if !ok {
				continue
			}
			for _, op := range reduceNames {
				for _, keep := range []int64{0, 1} {
					for _, opset := range []int{11, 18} {
						for _, x := range []*Tensor{xf, xi} {
							if x.DType == Int64 && (op == "ReduceMean" || op == "ReduceLogSum") {
								continue // float only; log of negative sums
							}
							xx := x
							if op == "ReduceProd" && x.DType == Float32 {
								xx = x.Clone()
								for i := range xx.F32 {
									xx.F32[i] = 1 + xx.F32[i]/8 // products of a few hundred values stay finite
								}
							}
							if op == "ReduceLogSum" {
								xx = x.Clone()
								for i := range xx.F32 {
									xx.F32[i] = 1.5 + xx.F32[i]
								}
							}
							n, ax := reduceNode(op, opset, axes, elInt("keepdims", keep))
							want := reduceRef(op, xx, norm, keep == 1)
							got := mustElem(t, n, append([]*Tensor{xx}, ax...)...)
							what := fmt.Sprintf("%s opset %d %s %v axes %v keepdims %d", op, opset, xx.DType, shape, axes, keep)
							if x.DType == Int64 && (op == "ReduceL2" || op == "ReduceLogSumExp") {
								// truncation of float64 results: compare within one
								for i := range want.I64 {
									if d := got.I64[i] - want.I64[i]; d < -1 || d > 1 {
										t.Fatalf("%s: [%d] = %d, want %d", what, i, got.I64[i], want.I64[i])
									}
								}
								continue
							}
							if x.DType == Int64 && op == "ReduceProd" {
								continue // wraps; the float64 reference does not
							}
							tol := 1e-5
							if x.DType == Float32 {
								for _, v := range want.F32 {
									tol = max(tol, 1e-5*math.Abs(float64(v)))
								}
							}
							elemCheckTensor(t, what, want, got, tol)
						}
					}
				}
			}
		}
	}
}

// TestReduceParallelMatchesSerial checks that chunked runs (units of
// output elements and of row blocks) give the serial results bit for
// bit.
func TestReduceParallelMatchesSerial(t *testing.T) {
	x := nnRand(9, 3, 7, 40, 33)
	xi := NewI64([]int{3, 7, 600}, nil)
	for i := range xi.I64 {
		xi.I64[i] = int64(i%97) - 40
	}
	for _, op := range reduceNames {
		for _, axes := range [][]int64{{1}, {3}, {0, 2}, {1, 3}} {
			n := elemNode(op, 13, elInts("axes", axes...))
			if op == "ReduceSum" {
				n = elemNode(op, 11, elInts("axes", axes...))
			}
			want := runElemWith(t, &kern.Env{Par: kern.Serial{}}, n, x)
			for _, parts := range []int{2, 5, 16} {
				got := runElemWith(t, &kern.Env{Par: elemChunkPar{parts}}, n, x)
				elemCheckTensor(t, fmt.Sprintf("%s axes %v parts %d", op, axes, parts), want, got, 0)
			}
		}
		if op == "ReduceMean" {
			continue
		}
		n := elemNode(op, 11, elInts("axes", 1))
		want := runElemWith(t, &kern.Env{Par: kern.Serial{}}, n, xi)
		got := runElemWith(t, &kern.Env{Par: elemChunkPar{7}}, n, xi)
		elemCheckTensor(t, op+" int64", want, got, 0)
	}
}

// TestReduceForms checks the opset-dependent forms: ReduceSum's axes
// input from opset 13 (constant, or known empty by its shape),
// noop_with_empty_axes, and the errors.
func TestReduceForms(t *testing.T) {
	x := elSeq(2, 3, 4)
	sum12 := reduceRef("ReduceSum", x, []int{1, 2}, false)
	all := reduceRef("ReduceSum", x, nil, true)
	checkElem(t, sum12, 0, elemNode("ReduceSum", 13, elInt("keepdims", 0)), x, elI64([]int{2}, -1, 1))
	checkElem(t, sum12, 0, elemNode("ReduceSum", 11, elInts("axes", -1, 1), elInt("keepdims", 0)), x)
	checkElem(t, sum12, 0, elemNode("ReduceSum", 1, elInts("axes", 2, 1), elInt("keepdims", 0)), x)
	// no axes, or empty axes: all of them, unless noop_with_empty_axes
	checkElem(t, all, 0, elemNode("ReduceSum", 13), x)
	checkElem(t, all, 0, elemNode("ReduceSum", 13), x, elI64([]int{0}))
	checkElem(t, x, 0, elemNode("ReduceSum", 13, elInt("noop_with_empty_axes", 1)), x)
	checkElem(t, x, 0, elemNode("ReduceSum", 13, elInt("noop_with_empty_axes", 1)), x, elI64([]int{0}))
	checkElem(t, reduceRef("ReduceSum", x, []int{0}, true), 0, elemNode("ReduceSum", 13, elInt("noop_with_empty_axes", 1)), x, elI64([]int{1}, 0))
	// before the input form, noop_with_empty_axes means nothing
	checkElem(t, reduceRef("ReduceMax", x, nil, true), 0, elemNode("ReduceMax", 13, elInt("noop_with_empty_axes", 1)), x)
	checkElem(t, x, 0, elemNode("ReduceMax", 18, elInt("noop_with_empty_axes", 1)), x)
	// an empty axes input that is not a constant is known by its shape
	r, err := runElemOpMode(t, elemNode("ReduceSum", 13, elInt("keepdims", 1)), []bool{false, true}, x, elI64([]int{0}))
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "ReduceSum varying empty axes", all, r.out[0], 0)

	wantElemErrMode(t, "axes must be a constant known at plan time", elemNode("ReduceSum", 13), []bool{false, true}, x, elI64([]int{1}, 1))
	wantElemErr(t, "axes is an input from opset 13", elemNode("ReduceSum", 13, elInts("axes", 1)), x)
	wantElemErr(t, "axes is an input from opset 18", elemNode("ReduceMax", 18, elInts("axes", 1)), x)
	wantElemErr(t, "want 1 before opset 13", elemNode("ReduceSum", 11), x, elI64([]int{1}, 1))
	wantElemErr(t, "want 1 before opset 18", elemNode("ReduceL2", 17), x, elI64([]int{1}, 1))
	wantElemErr(t, "axis 3 out of range for rank 3", elemNode("ReduceMax", 13, elInts("axes", 3)), x)
	wantElemErr(t, "axis -4 out of range for rank 3", elemNode("ReduceSum", 13), x, elI64([]int{1}, -4))
	wantElemErr(t, "repeated", elemNode("ReduceMin", 11, elInts("axes", 0, -3)), x)
	wantElemErr(t, "axes has type float32", elemNode("ReduceSum", 13), x, elF32([]int{1}, 1))
	wantElemErr(t, "1-D", elemNode("ReduceSum", 13), x, elI64([]int{1, 1}, 1))
	wantElemErr(t, "want float32", elemNode("ReduceMean", 13), elI64([]int{2}, 1, 2))
	wantElemErr(t, "attribute \"keepdims\" has type INTS", elemNode("ReduceProd", 13, elInts("keepdims", 1)), x)
	wantElemErr(t, "input 0 is required", elemNode("ReduceSum", 13), nil, elI64([]int{1}, 1))
}

// TestReduceRunAllocatesNothing checks that a prepared reduction, ArgMax,
// Split, Expand and Tile run without allocating, once warm.
func TestReduceRunAllocatesNothing(t *testing.T) {
	x := nnRand(3, 2, 5, 7, 300)
	xi := NewI64([]int{2, 5, 7}, nil)
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{elemNode("ReduceSum", 11, elInts("axes", 3)), []*Tensor{x}},
		{elemNode("ReduceLogSumExp", 11, elInts("axes", 1)), []*Tensor{x}},
		{elemNode("ReduceMax", 11, elInts("axes", 0, 2)), []*Tensor{x}},
		{elemNode("ReduceMean", 11, elInts("axes", 1)), []*Tensor{x}},
		{elemNode("ReduceMean", 11, elInts("axes", 2, 3)), []*Tensor{x}},
		{elemNode("ReduceProd", 11, elInts("axes", 1)), []*Tensor{xi}},
		{elemNode("ArgMax", 13, elInt("axis", 1)), []*Tensor{x}},
		{elemNode("ArgMin", 13, elInt("axis", -1)), []*Tensor{xi}},
		{elemNode("Expand", 13), []*Tensor{elSeq(5, 1, 3), elI64([]int{4}, 2, 5, 4, 3)}},
		{elemNode("Tile", 13), []*Tensor{x, elI64([]int{4}, 1, 2, 1, 2)}},
	}
	split := elemNode("Split", 13, elInt("axis", 1))
	split.Outputs = []string{"a", "b"}
	cases = append(cases, struct {
		n   *Node
		ins []*Tensor
	}{split, []*Tensor{x, elI64([]int{2}, 2, 3)}})
	for _, c := range cases {
		r, err := runElemOp(t, c.n, c.ins...)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		for _, workers := range []int{1, 3} {
			env := &kern.Env{Par: kern.Serial{}}
			if workers > 1 {
				env.Par = kern.Spawn{Parts: workers}
			}
			run := func() {
				if err := r.step.Run(env, c.ins, r.out); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if workers > 1 {
				continue // goroutines allocate
			}
			if got := testing.AllocsPerRun(5, run); got != 0 {
				t.Errorf("%s: %v allocations per Run, want 0", c.n.OpType, got)
			}
		}
	}
}

// TestReduceFamilyRejectsBadTensors hands the steps of the reductions,
// ArgMax, Split, Expand and Tile tensors that do not match their plans (a
// runtime bug): Run must report an error, not panic.
func TestReduceFamilyRejectsBadTensors(t *testing.T) {
	x := elSeq(2, 3)
	split := elemNode("Split", 13)
	split.Outputs = []string{"a", "b"}
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{elemNode("ReduceSum", 11, elInts("axes", 0)), []*Tensor{x}},
		{elemNode("ReduceMax", 11, elInts("axes", 1)), []*Tensor{x}},
		{elemNode("ReduceLogSumExp", 11), []*Tensor{x}},
		{elemNode("ArgMax", 13), []*Tensor{x}},
		{split, []*Tensor{x}},
		{elemNode("Expand", 13), []*Tensor{x, elI64([]int{3}, 2, 2, 3)}},
		{elemNode("Tile", 13), []*Tensor{x, elI64([]int{2}, 2, 2)}},
	}
	for _, c := range cases {
		r, err := runElemOp(t, c.n, c.ins...)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		env := &kern.Env{Par: kern.Serial{}}
		for _, out := range [][]*Tensor{
			{elF32([]int{5}, 0, 0, 0, 0, 0), elF32([]int{5}, 0, 0, 0, 0, 0)},
			{elI64([]int{5}, 0, 0, 0, 0, 0), elI64([]int{5}, 0, 0, 0, 0, 0)},
			{elF32([]int{5}, 0, 0, 0, 0, 0)},
			{},
		} {
			if err := r.step.Run(env, c.ins, out); err == nil {
				t.Errorf("%s: Run accepted bad outputs %v", c.n.OpType, out)
			}
		}
		if err := r.step.Run(env, []*Tensor{elF32([]int{1}, 0), nil}, r.out); err == nil {
			t.Errorf("%s: Run accepted a bad input", c.n.OpType)
		}
	}
}
