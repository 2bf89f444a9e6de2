package ops

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"testing"
)

// Tests of the forms opsets 18 to 21 define: Split's num_outputs, Pad's
// axes input and wrap mode, the reductions over no axis, AveragePool's
// dilations, Gelu, Cast's saturate and new types, and Resize's antialias,
// axes, keep_aspect_ratio_policy and half_pixel_symmetric.

// TestSplitNumOutputs checks opset 18's num_outputs: equal parts, a
// smaller last part (0 included), the errors.
func TestSplitNumOutputs(t *testing.T) {
	abc := []string{"a", "b", "c"}
	x7 := elSeq(7, 2) // rows 0..6 of 2
	rows := func(lo, hi int) *Tensor {
		t := elSeq(hi-lo, 2)
		for i := range t.F32 {
			t.F32[i] += float32(2 * lo)
		}
		return t
	}
	// 7 into 3: ceil(7/3) = 3, the last 7 - 6 = 1
	checkSplit(t, []*Tensor{rows(0, 3), rows(3, 6), rows(6, 7)}, splitNode(18, abc, elInt("num_outputs", 3)), nil, x7)
	// 6 into 3: equal
	checkSplit(t, []*Tensor{rows(0, 2), rows(2, 4), rows(4, 6)}, splitNode(18, abc, elInt("num_outputs", 3)), nil, elSeq(6, 2))
	// 4 into 3: 2, 2 and an empty last part
	checkSplit(t, []*Tensor{rows(0, 2), rows(2, 4), rows(4, 4)}, splitNode(18, abc, elInt("num_outputs", 3)), nil, elSeq(4, 2))
	// negative axis, int64 data, batch of 2: [2, 5] into 2 along -1 is 3 and 2
	xi := elI64([]int{2, 5}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	checkSplit(t, []*Tensor{elI64([]int{2, 3}, 0, 1, 2, 5, 6, 7), elI64([]int{2, 2}, 3, 4, 8, 9)},
		splitNode(21, []string{"a", "b"}, elInt("num_outputs", 2), elInt("axis", -1)), nil, xi)
	// opset 18 without either cuts equally by the outputs, as opset 13
	checkSplit(t, []*Tensor{rows(0, 2), rows(2, 4), rows(4, 6)}, splitNode(18, abc), nil, elSeq(6, 2))
	// the split input at 18
	checkSplit(t, []*Tensor{rows(0, 1), rows(1, 1), rows(1, 7)}, splitNode(18, abc), nil, x7, elI64([]int{3}, 1, 0, 6))

	wantErr := func(sub string, n *Node, ins ...*Tensor) {
		t.Helper()
		wantElemErr(t, sub, n, ins...)
	}
	// 5 into 4: parts of 2 leave -1 for the last
	wantErr("does not split into 4 parts", splitNode(18, []string{"a", "b", "c", "d"}, elInt("num_outputs", 4)), elSeq(5))
	wantErr("num_outputs needs opset 18", splitNode(13, abc, elInt("num_outputs", 3)), elSeq(6))
	wantErr("differs from the node's 3 outputs", splitNode(18, abc, elInt("num_outputs", 2)), elSeq(6))
	wantErr("must be at least 1", splitNode(18, abc, elInt("num_outputs", 0)), elSeq(6))
	wantErr("both given", splitNode(18, abc, elInt("num_outputs", 3)), elSeq(6), elI64([]int{3}, 2, 2, 2))
}

// padWrapRef pads x (non-negative pads) in numpy's wrap mode: output
// index j of an axis reads input (j - b) mod d.
func padWrapRef(x *Tensor, pads []int) *Tensor {
	r := len(x.Shape)
	shape := make([]int, r)
	for i, d := range x.Shape {
		shape[i] = d + pads[i] + pads[i+r]
	}
	out := NewF32(shape, nil)
	st := stridesOf(x.Shape)
	c := make([]int, r)
	for k := range out.F32 {
		unravel(k, shape, c)
		off := 0
		for a := range c {
			d := x.Shape[a]
			off += ((c[a]-pads[a])%d + d) % d * st[a]
		}
		out.F32[k] = x.F32[off]
	}
	return out
}

// TestPadOpset18And19 checks the axes input (18) and the wrap mode (19):
// the spec's example, pads longer than the axis, cropping first, int64
// data, a random comparison with numpy's rule, and the errors.
func TestPadOpset18And19(t *testing.T) {
	wrap := func(opset int) *Node { return elemNode("Pad", opset, elStr("mode", "wrap")) }
	// the spec's Example 4
	data := elF32([]int{3, 2}, 1.0, 1.2, 2.3, 3.4, 4.5, 5.7)
	checkElem(t, elF32([]int{6, 4},
		3.4, 2.3, 3.4, 2.3,
		5.7, 4.5, 5.7, 4.5,
		1.2, 1.0, 1.2, 1.0,
		3.4, 2.3, 3.4, 2.3,
		5.7, 4.5, 5.7, 4.5,
		1.2, 1.0, 1.2, 1.0), 0, wrap(19), data, elI64([]int{4}, 2, 1, 1, 1))
	// pads longer than the axis wrap round again, as numpy.pad's wrap
	checkElem(t, elF32([]int{12}, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2), 0, wrap(19), elF32([]int{3}, 1, 2, 3), elI64([]int{2}, 4, 5))
	// negative pads crop first: [2 3 4 5] then 2 wrapped at the end
	checkElem(t, elF32([]int{6}, 2, 3, 4, 5, 2, 3), 0, wrap(21), elF32([]int{5}, 1, 2, 3, 4, 5), elI64([]int{2}, -1, 2))
	checkElem(t, elF32([]int{5}, 4, 1, 2, 3, 4), 0, wrap(21), elF32([]int{5}, 1, 2, 3, 4, 5), elI64([]int{2}, 1, -1))
	// int64, with the axes input: only axis -1 of [2, 3]
	checkElem(t, elI64([]int{2, 5}, 2, 0, 1, 2, 0, 5, 3, 4, 5, 3), 0, wrap(19),
		elI64([]int{2, 3}, 0, 1, 2, 3, 4, 5), elI64([]int{2}, 1, 1), nil, elI64([]int{1}, -1))
	// axes in another order than the axes: pads follow axes
	x := elSeq(2, 3, 4)
	full := padRef(x, []int64{0, 1, 2, 0, 0, 3}, "constant", 7)
	checkElem(t, full, 0, elemNode("Pad", 18), x, elI64([]int{4}, 2, 1, 3, 0), elF32([]int{}, 7), elI64([]int{2}, 2, -2))
	// random shapes and pads against numpy's rule, batch and odd sizes
	for i, c := range []struct {
		shape []int
		pads  []int
	}{
		{[]int{2, 3, 5}, []int{0, 1, 7, 1, 4, 2}},
		{[]int{1, 1, 4, 3}, []int{0, 0, 3, 5, 0, 0, 9, 1}},
		{[]int{4}, []int{0, 0}},
		{[]int{3, 1}, []int{2, 3, 4, 5}},
	} {
		x := nnRand(uint64(i), c.shape...)
		p := make([]int64, len(c.pads))
		for j, v := range c.pads {
			p[j] = int64(v)
		}
		checkElem(t, padWrapRef(x, c.pads), 0, wrap(19), x, elI64([]int{len(p)}, p...))
	}

	wantElemErr(t, "mode wrap needs opset 19", wrap(18), data, elI64([]int{4}, 1, 1, 1, 1))
	wantElemErr(t, "empty after cropping", wrap(19), elF32([]int{2}, 1, 2), elI64([]int{2}, -2, 1))
	wantElemErr(t, "empty after cropping", wrap(19), elF32([]int{0}), elI64([]int{2}, 1, 0))
	wantElemErr(t, "axes) needs opset 18", elemNode("Pad", 13), data, elI64([]int{2}, 1, 1), nil, elI64([]int{1}, 0))
	wantElemErr(t, "repeated", elemNode("Pad", 18), data, elI64([]int{4}, 1, 1, 1, 1), nil, elI64([]int{2}, 0, -2))
	wantElemErr(t, "entries for 1 axes", elemNode("Pad", 18), data, elI64([]int{4}, 1, 1, 1, 1), nil, elI64([]int{1}, 0))
	wantElemErr(t, "out of range", elemNode("Pad", 18), data, elI64([]int{2}, 1, 1), nil, elI64([]int{1}, 2))
}

// TestReduceOverNoAxis checks noop_with_empty_axes=1 with no axes at
// opset 18: the composite reductions keep their other steps (the spec's
// note), the others are the identity; and ReduceMax, ReduceMin over
// Bool values (0 and 1) at opset 20.
func TestReduceOverNoAxis(t *testing.T) {
	x := elF32([]int{2, 3}, 1, -2, 3, 0.5, 5, -6)
	pos := elF32([]int{2, 3}, 1, 2, 3, 0.5, 5, 6)
	noop := elInt("noop_with_empty_axes", 1)
	m := func(x *Tensor, f func(float64) float64) *Tensor {
		y := NewF32(x.Shape, nil)
		for i, v := range x.F32 {
			y.F32[i] = float32(f(float64(v)))
		}
		return y
	}
	for _, opset := range []int{18, 20, 21} {
		for _, c := range []struct {
			op   string
			x    *Tensor
			want *Tensor
		}{
			{"ReduceL1", x, m(x, math.Abs)},
			{"ReduceL2", x, m(x, math.Abs)},
			{"ReduceSumSquare", x, m(x, func(v float64) float64 { return v * v })},
			{"ReduceLogSum", pos, m(pos, math.Log)},
			{"ReduceLogSumExp", x, x},
			{"ReduceMax", x, x},
			{"ReduceMin", x, x},
			{"ReduceMean", x, x},
			{"ReduceProd", x, x},
			{"ReduceSum", x, x},
		} {
			for _, keep := range []int64{0, 1} {
				n := elemNode(c.op, opset, noop, elInt("keepdims", keep))
				checkElem(t, c.want, 1e-7, n, c.x)
				checkElem(t, c.want, 1e-7, elemNode(c.op, opset, noop, elInt("keepdims", keep)), c.x, elI64([]int{0}))
			}
		}
	}
	// int64: ReduceL1 |x|, ReduceSumSquare x²
	xi := elI64([]int{3}, -3, 0, 4)
	checkElem(t, elI64([]int{3}, 3, 0, 4), 0, elemNode("ReduceL1", 18, noop), xi)
	checkElem(t, elI64([]int{3}, 9, 0, 16), 0, elemNode("ReduceSumSquare", 18, noop), xi)
	// Bool (stored as int64 0/1) at opset 20: max is any, min is all
	b := elI64([]int{2, 3}, 0, 1, 0, 1, 1, 1)
	checkElem(t, elI64([]int{2}, 1, 1), 0, elemNode("ReduceMax", 20, elInt("keepdims", 0)), b, elI64([]int{1}, 1))
	checkElem(t, elI64([]int{2}, 0, 1), 0, elemNode("ReduceMin", 20, elInt("keepdims", 0)), b, elI64([]int{1}, -1))
	// axes as input at 18: ReduceMax and ReduceMean over axis 0
	checkElem(t, elF32([]int{1, 3}, 1, 5, 3), 0, elemNode("ReduceMax", 18), x, elI64([]int{1}, 0))
	checkElem(t, elF32([]int{3}, 0.75, 1.5, -1.5), 0, elemNode("ReduceMean", 18, elInt("keepdims", 0)), x, elI64([]int{1}, -2))
	wantElemErr(t, "not an attribute", elemNode("ReduceMean", 18, elInts("axes", 0)), x)
}

// TestAveragePoolDilationsByOpset checks that AveragePool takes dilations
// from opset 19 only (ones are accepted before), with a 1-D known answer
// with padding, with and without count_include_pad.
func TestAveragePoolDilationsByOpset(t *testing.T) {
	x := elF32([]int{1, 1, 5}, 1, 2, 3, 4, 5)
	base := []*Attr{nnInts("kernel_shape", 2), nnInts("dilations", 2), nnInts("pads", 1, 1)}
	// windows at -1+o: taps o-1 and o+1; padding not counted, or counted
	out := mustRun(t, nnNode("AveragePool", 19, 1, base...), x)
	checkTensorF32(t, "exclude pad", out[0], []int{1, 1, 5}, []float32{2, 2, 3, 4, 4})
	out = mustRun(t, nnNode("AveragePool", 21, 1, append(base, nnInt("count_include_pad", 1))...), x)
	checkTensorF32(t, "include pad", out[0], []int{1, 1, 5}, []float32{1, 2, 3, 4, 2})
	// dilations of ones before 19
	out = mustRun(t, nnNode("AveragePool", 11, 1, nnInts("kernel_shape", 2), nnInts("dilations", 1)), x)
	checkTensorF32(t, "ones at 11", out[0], []int{1, 1, 4}, []float32{1.5, 2.5, 3.5, 4.5})
	wantErr(t, "takes dilations from opset 19", nnNode("AveragePool", 18, 1, base...), x)
	// MaxPool has had them since opset 10
	out = mustRun(t, nnNode("MaxPool", 12, 1, base...), x)
	checkTensorF32(t, "max", out[0], []int{1, 1, 5}, []float32{2, 3, 4, 5, 4})
}

// checkTensorF32 compares a float32 result with its shape and values
// exactly.
func checkTensorF32(t *testing.T, what string, got *Tensor, shape []int, want []float32) {
	t.Helper()
	elemCheckTensor(t, what, elF32(shape, want...), got, 0)
}

// TestGelu checks Gelu (opset 20) in both forms against the spec's
// formulas in float64, the special values, and the errors.
func TestGelu(t *testing.T) {
	vals := []float32{0, 1, -1, 2, -2, 0.5, -0.25, 3.75, -5, 8, -12, 1e-3, 100, -100}
	x := elF32([]int{2, 7}, vals...)
	exact, approx := NewF32(x.Shape, nil), NewF32(x.Shape, nil)
	for i, v := range vals {
		f := float64(v)
		// the spec: 0.5·x·(1 + erf(x/√2)); erfc keeps the small negative tails
		exact.F32[i] = float32(0.5 * f * math.Erfc(-f/math.Sqrt2))
		approx.F32[i] = float32(0.5 * f * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(f+0.044715*f*f*f))))
	}
	checkElem(t, exact, 1e-6, elemNode("Gelu", 20), x)
	checkElem(t, exact, 1e-6, elemNode("Gelu", 21, elStr("approximate", "none")), x)
	// the tanh form's tails: 1 + tanh loses them in float64, x/(1 + e^(-2u)) does not
	r, err := runElemOp(t, elemNode("Gelu", 20, elStr("approximate", "tanh")), x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		got, want := float64(r.out[0].F32[i]), float64(approx.F32[i])
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("Gelu tanh(%v) = %v, want %v", v, got, want)
		}
	}
	// worked values: Φ(1) = 0.841344746..., the tanh form 0.841191990...
	k := mustElem(t, elemNode("Gelu", 20), elF32([]int{1}, 1))
	if math.Abs(float64(k.F32[0])-0.8413447460685429) > 1e-7 {
		t.Errorf("Gelu(1) = %v", k.F32[0])
	}
	k = mustElem(t, elemNode("Gelu", 20, elStr("approximate", "tanh")), elF32([]int{1}, 1))
	if math.Abs(float64(k.F32[0])-0.8411919906082768) > 1e-7 {
		t.Errorf("Gelu tanh(1) = %v", k.F32[0])
	}
	// -Inf gives NaN (as -Inf·0 in the formula), +Inf itself, NaN NaN, -0 -0
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, form := range []string{"none", "tanh"} {
		s := mustElem(t, elemNode("Gelu", 20, elStr("approximate", form)), elF32([]int{4}, -inf, inf, nan, float32(math.Copysign(0, -1))))
		if !math.IsNaN(float64(s.F32[0])) || s.F32[1] != inf || !math.IsNaN(float64(s.F32[2])) || !math.Signbit(float64(s.F32[3])) {
			t.Errorf("Gelu %s of -Inf, Inf, NaN, -0 = %v", form, s.F32)
		}
	}
	wantElemErr(t, "opset 20 and later", elemNode("Gelu", 19), x)
	wantElemErr(t, "not none or tanh", elemNode("Gelu", 20, elStr("approximate", "erf")), x)
	wantElemErr(t, "want float32", elemNode("Gelu", 20), elI64([]int{1}, 1))
}

// TestCastOpset19And21 checks Cast's saturate (19) and that the types of
// opsets 19 and 21 are refused by name.
func TestCastOpset19And21(t *testing.T) {
	x := elF32([]int{3}, 1.5, -2.5, 300)
	to := func(opset int, dt int64, attrs ...*Attr) *Node {
		return elemNode("Cast", opset, append(attrs, elInt("to", dt))...)
	}
	checkElem(t, elI64([]int{3}, 1, -2, 127), 0, to(19, 3, elInt("saturate", 0)), x) // INT8 as before, saturate or not
	checkElem(t, elI64([]int{3}, 1, -2, 300), 0, to(21, 7), x)
	for dt, name := range map[int64]string{17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4"} {
		wantElemErr(t, "Cast to "+name+" ("+fmt.Sprint(dt)+") is not supported", to(21, dt), x)
	}
	wantElemErr(t, "saturate 2 is not 0 or 1", to(19, 1, elInt("saturate", 2)), x)
	// a graph's declared types of those opsets are named in messages
	for dt, name := range map[DType]string{17: "float8e4m3fn", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 8: "string", 99: "dtype(99)"} {
		if got := dt.String(); got != name {
			t.Errorf("DType(%d) = %q, want %q", dt, got, name)
		}
	}
	wantElemErr(t, "has type int4", elemNode("Identity", 21), &Tensor{DType: 22, Shape: []int{1}})
}

// resizeRefAxis resizes along axis d the way ONNX's reference
// implementation defines it, one output at a time, written apart from
// the operator's code: x_ori by the coordinate mode, ratio = x_ori -
// floor(x_ori) (1 when whole), the coefficients of the mode (stretched
// by antialias), the len(coeffs) indexes nearest to x_ori (ties to the
// smaller) on the axis padded by repeating its edges, exclude_outside
// zeroing and renormalising, extrapolation for tf_crop_and_resize.
func resizeRefAxis(x []float64, shape []int, d int, scale float64, out int, mode, coord string,
	antialias, exclude bool, A float64, roi [2]float64, extrap float64) ([]float64, []int) {
	n := shape[d]
	oshape := append([]int(nil), shape...)
	oshape[d] = out
	outer, inner := NumElems(shape[:d]), NumElems(shape[d+1:])
	y := make([]float64, outer*out*inner)
	L := scale * float64(n)
	for i := range out {
		xi := float64(i)
		var xo float64
		switch coord {
		case "half_pixel":
			xo = (xi+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			adj := float64(out) / L
			xo = float64(n)/2*(1-adj) + (xi+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			xo = -0.5
			if L != 1 {
				xo = (xi+0.5)/scale - 0.5
			}
		case "align_corners":
			if L != 1 {
				xo = xi * float64(n-1) / (L - 1)
			}
		case "asymmetric":
			xo = xi / scale
		case "tf_crop_and_resize":
			if L == 1 {
				xo = (roi[1] - roi[0]) * float64(n-1) / 2
			} else {
				xo = xi * (roi[1] - roi[0]) * float64(n-1) / (L - 1)
			}
			xo += roi[0] * float64(n-1)
		}
		var coeffs []float64
		ratio := xo - math.Floor(xo)
		if ratio == 0 {
			ratio = 1
		}
		sp := math.Min(scale, 1)
		switch {
		case mode == "linear" && !antialias:
			coeffs = []float64{1 - ratio, ratio}
		case mode == "linear":
			start := int(math.Floor(-1/sp) + 1)
			for p := start; p < 2-start; p++ {
				coeffs = append(coeffs, math.Min(math.Max(1-math.Abs((float64(p)-ratio)*sp), 0), 1))
			}
		case mode == "cubic" && !antialias:
			for _, u := range []float64{1 + ratio, ratio, 1 - ratio, 2 - ratio} {
				coeffs = append(coeffs, keysRef(u, A))
			}
		default:
			start := int(math.Floor(-2/sp) + 1)
			for p := start; p < 2-start; p++ {
				coeffs = append(coeffs, keysRef(math.Abs(sp*(float64(p)-ratio)), A))
			}
		}
		if antialias {
			s := 0.0
			for _, c := range coeffs {
				s += c
			}
			for j := range coeffs {
				coeffs[j] /= s
			}
		}
		// the k nearest indexes to xo, ties to the smaller, by exact
		// distances (float64 ones round near whole coordinates, where
		// ONNX's Python reference then shifts its window by one tap)
		k := len(coeffs)
		var cand []int
		for j := -2 * k; j < n+2*k; j++ {
			cand = append(cand, j)
		}
		exact := new(big.Rat).SetFloat64(xo)
		dist := func(j int) *big.Rat {
			d := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(int64(j)))
			return d.Abs(d)
		}
		sort.SliceStable(cand, func(a, b int) bool {
			if c := dist(cand[a]).Cmp(dist(cand[b])); c != 0 {
				return c < 0
			}
			return cand[a] < cand[b]
		})
		idx := append([]int(nil), cand[:k]...)
		sort.Ints(idx)
		if exclude {
			s := 0.0
			for j, p := range idx {
				if p < 0 || p >= n {
					coeffs[j] = 0
				}
				s += coeffs[j]
			}
			if s != 0 {
				for j := range coeffs {
					coeffs[j] /= s
				}
			}
		}
		ext := coord == "tf_crop_and_resize" && (xo < 0 || xo > float64(n-1))
		for o := range outer {
			for q := range inner {
				v := 0.0
				for j, p := range idx {
					p = min(max(p, 0), n-1)
					v += coeffs[j] * x[(o*n+p)*inner+q]
				}
				if ext {
					v = extrap
				}
				y[(o*out+i)*inner+q] = v
			}
		}
	}
	return y, oshape
}

// keysRef is Keys' kernel at distance u, as the reference writes it.
func keysRef(u, A float64) float64 {
	u = math.Abs(u)
	switch {
	case u <= 1:
		return (A+2)*u*u*u - (A+3)*u*u + 1
	case u < 2:
		return A*u*u*u - 5*A*u*u + 8*A*u - 4*A
	}
	return 0
}

// TestResizeOpset18Reference compares Resize at opsets 18 and 19 with
// resizeRefAxis applied axis by axis: linear and cubic, antialias on and
// off, exclude_outside, every coordinate mode, shrinking and enlarging
// scales, sizes, a subset of axes given by the axes attribute (negative
// included), and keep_aspect_ratio_policy.
func TestResizeOpset18Reference(t *testing.T) {
	x := nnRand(7, 2, 3, 7, 9)
	xs := make([]float64, len(x.F32))
	for i, v := range x.F32 {
		xs[i] = float64(v)
	}
	type cfg struct {
		mode, coord string
		aa, excl    bool
	}
	var cfgs []cfg
	for _, mode := range []string{"linear", "cubic"} {
		for _, coord := range []string{"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"} {
			for _, aa := range []bool{false, true} {
				cfgs = append(cfgs, cfg{mode, coord, aa, false})
			}
			cfgs = append(cfgs, cfg{mode, coord, true, true})
		}
	}
	type shapeCase struct {
		axes   []int64 // nil: every axis
		scales []float32
		sizes  []int64
		keep   string
	}
	cases := []shapeCase{
		{nil, []float32{1, 1, 0.5, 0.34}, nil, ""},
		{nil, []float32{1, 1, 0.6, 1.7}, nil, ""},
		{[]int64{2, 3}, []float32{0.25, 0.8}, nil, ""},
		{[]int64{-1}, []float32{0.45}, nil, ""},
		{[]int64{3, 2}, nil, []int64{2, 3}, ""},
		{nil, nil, []int64{2, 3, 3, 20}, ""},
		{[]int64{2, 3}, nil, []int64{3, 3}, "not_larger"},
		{[]int64{2, 3}, nil, []int64{3, 3}, "not_smaller"},
		{[]int64{-2, -1}, nil, []int64{5, 4}, "not_larger"},
	}
	for ci, c := range cases {
		for _, g := range cfgs {
			attrs := []*Attr{elStr("mode", g.mode), elStr("coordinate_transformation_mode", g.coord)}
			if g.aa {
				attrs = append(attrs, elInt("antialias", 1))
			}
			if g.excl {
				attrs = append(attrs, elInt("exclude_outside", 1))
			}
			if c.axes != nil {
				attrs = append(attrs, elInts("axes", c.axes...))
			}
			if c.keep != "" {
				attrs = append(attrs, elStr("keep_aspect_ratio_policy", c.keep))
			}
			// the reference's per-axis scale and length
			r := len(x.Shape)
			sel := make([]bool, r)
			axes := c.axes
			if axes == nil {
				axes = []int64{0, 1, 2, 3}
			}
			scale, out := make([]float64, r), append([]int(nil), x.Shape...)
			for d := range scale {
				scale[d] = 1
			}
			for i, a := range axes {
				d := int((a + int64(r)) % int64(r))
				sel[d] = true
				if c.scales != nil {
					scale[d] = float64(c.scales[i])
					out[d] = int(math.Floor(float64(x.Shape[d]) * scale[d]))
				} else {
					scale[d] = float64(c.sizes[i]) / float64(x.Shape[d])
					out[d] = int(c.sizes[i])
				}
			}
			if c.keep != "" {
				s := math.Inf(1)
				if c.keep == "not_smaller" {
					s = 0
				}
				for d := range r {
					if sel[d] && ((c.keep == "not_larger" && scale[d] < s) || (c.keep == "not_smaller" && scale[d] > s)) {
						s = scale[d]
					}
				}
				for d := range r {
					if sel[d] {
						scale[d], out[d] = s, int(s*float64(x.Shape[d])+0.5)
					}
				}
			}
			ref, shape := xs, x.Shape
			for d := range r {
				if scale[d] == 1 && out[d] == shape[d] {
					continue
				}
				ref, shape = resizeRefAxis(ref, shape, d, scale[d], out[d], g.mode, g.coord, g.aa, g.excl, -0.75, [2]float64{0, 1}, 0)
			}
			want := NewF32(shape, nil)
			for i, v := range ref {
				want.F32[i] = float32(v)
			}
			ins := []*Tensor{x, nil, nil}
			if c.scales != nil {
				ins[2] = elF32([]int{len(c.scales)}, c.scales...)
			} else {
				ins = append(ins, elI64([]int{len(c.sizes)}, c.sizes...))
			}
			name := fmt.Sprintf("case %d %+v", ci, g)
			r2, err := runElemOp(t, elemNode("Resize", 19, attrs...), ins...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			elemCheckTensor(t, name, want, r2.out[0], 2e-5)
		}
	}
}

// TestResizeOpset18Known checks the opset 18 and 19 forms on worked
// answers: antialiased linear halving (the filter [1 3 3 1]/8, with and
// without exclude_outside), half_pixel_symmetric against half_pixel,
// axes with a roi, nearest ignoring antialias, and the errors.
func TestResizeOpset18Known(t *testing.T) {
	x := elF32([]int{1, 1, 1, 8}, 0, 1, 2, 3, 4, 5, 6, 7)
	half := elF32([]int{4}, 1, 1, 1, 0.5)
	lin := []*Attr{elStr("mode", "linear"), elInt("antialias", 1)}
	// c = 2i + 1/2, taps 2i-1..2i+2 with weights 1/8, 3/8, 3/8, 1/8 (edge clamped)
	checkElem(t, elF32([]int{1, 1, 1, 4}, 0.625, 2.5, 4.5, 6.375), 1e-6, elemNode("Resize", 18, lin...), x, nil, half)
	// exclude_outside drops the taps at -1 and 8: 5/7 and 44/7
	checkElem(t, elF32([]int{1, 1, 1, 4}, 5.0/7, 2.5, 4.5, 44.0/7), 1e-6,
		elemNode("Resize", 18, append(lin, elInt("exclude_outside", 1))...), x, nil, half)
	// without antialias, plain linear between 2i and 2i+1
	checkElem(t, elF32([]int{1, 1, 1, 4}, 0.5, 2.5, 4.5, 6.5), 1e-6, elemNode("Resize", 18, elStr("mode", "linear")), x, nil, half)
	// the same through axes: only the last axis named
	checkElem(t, elF32([]int{1, 1, 1, 4}, 0.625, 2.5, 4.5, 6.375), 1e-6,
		elemNode("Resize", 18, append(lin, elInts("axes", 3))...), x, nil, elF32([]int{1}, 0.5))

	// 5 values at scale 1/2: L = 2.5, 2 outputs. half_pixel_symmetric
	// shifts by 5/2·(1 - 2/2.5) = 1/2: c = 2i + 1, half_pixel c = 2i + 1/2.
	x5 := elF32([]int{5}, 0, 10, 20, 30, 40)
	sym := elemNode("Resize", 19, elStr("mode", "linear"), elStr("coordinate_transformation_mode", "half_pixel_symmetric"))
	checkElem(t, elF32([]int{2}, 10, 30), 1e-6, sym, x5, nil, elF32([]int{1}, 0.5))
	checkElem(t, elF32([]int{2}, 5, 25), 1e-6, elemNode("Resize", 19, elStr("mode", "linear")), x5, nil, elF32([]int{1}, 0.5))
	// with sizes, L is the size: the same as half_pixel (s = 2/5, c = 0.75, 3.25)
	checkElem(t, elF32([]int{2}, 7.5, 32.5), 1e-6, sym, x5, nil, nil, elI64([]int{1}, 2))
	checkElem(t, elF32([]int{2}, 7.5, 32.5), 1e-6, elemNode("Resize", 19, elStr("mode", "linear")), x5, nil, nil, elI64([]int{1}, 2))

	// tf_crop_and_resize with axes: roi for axis 3 only, [0.25, 0.75] of 8 values to 3
	crop := elemNode("Resize", 18, elStr("mode", "linear"), elStr("coordinate_transformation_mode", "tf_crop_and_resize"), elInts("axes", -1))
	checkElem(t, elF32([]int{1, 1, 1, 3}, 1.75, 3.5, 5.25), 1e-6, crop, x, elF32([]int{2}, 0.25, 0.75), nil, elI64([]int{1}, 3))

	// nearest has no filter to stretch: antialias changes nothing
	near := elF32([]int{1, 1, 1, 4}, 0, 2, 4, 6)
	checkElem(t, near, 0, elemNode("Resize", 18, elInt("antialias", 1)), x, nil, half)
	checkElem(t, near, 0, elemNode("Resize", 18), x, nil, half)

	// keep_aspect_ratio_policy: 4×6 to fit 3×3 keeps the ratio: 2×3
	x46 := elSeq(1, 1, 4, 6)
	k := mustElem(t, elemNode("Resize", 18, elStr("keep_aspect_ratio_policy", "not_larger"), elInts("axes", 2, 3)), x46, nil, nil, elI64([]int{2}, 3, 3))
	if !SameShape(k.Shape, []int{1, 1, 2, 3}) {
		t.Errorf("not_larger shape %v, want [1 1 2 3]", k.Shape)
	}
	k = mustElem(t, elemNode("Resize", 18, elStr("keep_aspect_ratio_policy", "not_smaller"), elInts("axes", 2, 3)), x46, nil, nil, elI64([]int{2}, 3, 3))
	if !SameShape(k.Shape, []int{1, 1, 3, 5}) { // 0.75·6 = 4.5 rounds half up
		t.Errorf("not_smaller shape %v, want [1 1 3 5]", k.Shape)
	}
	// stretch (default), and the policy does not apply to scales
	k = mustElem(t, elemNode("Resize", 18, elStr("keep_aspect_ratio_policy", "not_larger")), x46, nil, elF32([]int{4}, 1, 1, 0.5, 1))
	if !SameShape(k.Shape, []int{1, 1, 2, 6}) {
		t.Errorf("policy with scales: shape %v, want [1 1 2 6]", k.Shape)
	}

	for _, c := range []struct {
		sub   string
		n     *Node
		extra []*Tensor
	}{
		{"antialias needs opset 18", elemNode("Resize", 13, elInt("antialias", 1)), []*Tensor{nil, half}},
		{"axes needs opset 18", elemNode("Resize", 17, elInts("axes", 3)), []*Tensor{nil, elF32([]int{1}, 0.5)}},
		{"keep_aspect_ratio_policy needs opset 18", elemNode("Resize", 13, elStr("keep_aspect_ratio_policy", "stretch")), []*Tensor{nil, half}},
		{"half_pixel_symmetric needs opset 19", elemNode("Resize", 18, elStr("coordinate_transformation_mode", "half_pixel_symmetric")), []*Tensor{nil, half}},
		{"antialias 2 is not 0 or 1", elemNode("Resize", 18, elInt("antialias", 2)), []*Tensor{nil, half}},
		{"unknown keep_aspect_ratio_policy", elemNode("Resize", 18, elStr("keep_aspect_ratio_policy", "fit")), []*Tensor{nil, nil, elI64([]int{4}, 1, 1, 1, 4)}},
		{"scales has 4 values for 2 axes", elemNode("Resize", 18, elInts("axes", 2, 3)), []*Tensor{nil, half}},
		{"sizes has 1 values for 2 axes", elemNode("Resize", 18, elInts("axes", 2, 3)), []*Tensor{nil, nil, elI64([]int{1}, 4)}},
		{"axes -1 repeated", elemNode("Resize", 18, elInts("axes", 3, -1)), []*Tensor{nil, elF32([]int{2}, 1, 1)}},
		{"axes 4 out of range", elemNode("Resize", 18, elInts("axes", 4)), []*Tensor{nil, elF32([]int{1}, 1)}},
		{"axes is empty", elemNode("Resize", 18, elInts("axes")), []*Tensor{nil, elF32([]int{0})}},
		{"roi has 8 values, want 2 for 1 axes", elemNode("Resize", 18, elStr("coordinate_transformation_mode", "tf_crop_and_resize"), elInts("axes", 3)),
			[]*Tensor{elF32([]int{8}, 0, 0, 0, 0, 1, 1, 1, 1), elF32([]int{1}, 0.5)}},
	} {
		wantElemErr(t, c.sub, c.n, append([]*Tensor{x}, c.extra...)...)
	}
}
