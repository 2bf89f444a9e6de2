package ops

import (
	"math"
	"testing"
)

// TestSliceKnown checks Slice against worked answers: positive and
// negative steps, negative starts and axes, clamping past both ends, axes
// left whole, an empty result, int64 data, the opset-1 attributes.
func TestSliceKnown(t *testing.T) {
	// x[i][j] = 10·i + j, 3×5
	var xs []float32
	for i := range 3 {
		for j := range 5 {
			xs = append(xs, float32(10*i+j))
		}
	}
	x := elF32([]int{3, 5}, xs...)
	i64 := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	s13 := func() *Node { return elemNode("Slice", 13) }
	// rows 0..1, columns 1..3
	checkElem(t, elF32([]int{2, 3}, 1, 2, 3, 11, 12, 13), 0, s13(), x, i64(0, 1), i64(2, 4), i64(0, 1))
	// default axes and steps; ends past the end clamp
	checkElem(t, elF32([]int{1, 5}, 20, 21, 22, 23, 24), 0, s13(), x, i64(2, 0), i64(100, math.MaxInt64))
	// negative axis and start, step 2
	checkElem(t, elF32([]int{3, 2}, 2, 4, 12, 14, 22, 24), 0, s13(), x, i64(-3), i64(5), i64(-1), i64(2))
	// negative steps: rows reversed, every second column from the end
	checkElem(t, elF32([]int{3, 3}, 24, 22, 20, 14, 12, 10, 4, 2, 0), 0, s13(), x,
		i64(-1, math.MaxInt64), i64(math.MinInt64, -100), i64(0, 1), i64(-1, -2))
	// an empty slice: start past end
	checkElem(t, elF32([]int{3, 0}), 0, s13(), x, i64(4), i64(2), i64(1))
	// int64 data, a huge step taking the first element only
	checkElem(t, elI64([]int{1}, 7), 0, s13(), elI64([]int{4}, 7, 8, 9, 10), i64(0), i64(4), i64(0), i64(math.MaxInt64))
	// opset 1: attributes
	checkElem(t, elF32([]int{1, 2}, 13, 14), 0,
		elemNode("Slice", 1, elInts("starts", 1, 3), elInts("ends", 2, 5)), x)
	// errors
	wantElemErr(t, "steps[0] is 0", s13(), x, i64(0), i64(2), i64(0), i64(0))
	wantElemErr(t, "repeated", s13(), x, i64(0, 0), i64(1, 1), i64(1, 1))
	wantElemErr(t, "starts has 2 values and ends 1", s13(), x, i64(0, 0), i64(1))
	wantElemErrMode(t, "constant known at plan time", s13(), []bool{false, true}, x, i64(0), i64(1))
	wantElemErr(t, "starts and ends are required", elemNode("Slice", 1, elInts("ends", 2)), x)
}

// TestCastKnown checks Cast between float32 and int64 storage: float to
// the integer types (truncation, saturation, NaN to 0), wrapping to a
// narrower integer, BOOL, FLOAT16 and BFLOAT16 rounding (ties to even,
// overflow to infinity, subnormals), and the types it refuses.
func TestCastKnown(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	to := func(ty int64) *Node { return elemNode("Cast", 13, elInt("to", ty)) }
	x := elF32([]int{8}, -2.7, -0.5, 0.5, 2.7, 300, -300, nan, inf)
	checkElem(t, elI64([]int{8}, -2, 0, 0, 2, 300, -300, 0, math.MaxInt64), 0, to(7), x)
	checkElem(t, elI64([]int{8}, -2, 0, 0, 2, 127, -128, 0, 127), 0, to(3), x) // INT8
	checkElem(t, elI64([]int{8}, 0, 0, 0, 2, 255, 0, 0, 255), 0, to(2), x)     // UINT8
	checkElem(t, elI64([]int{8}, 1, 1, 1, 1, 1, 1, 1, 1), 0, to(9), x)         // BOOL: NaN too
	checkElem(t, elI64([]int{3}, 1, 0, 1), 0, to(9), elF32([]int{3}, -1, 0, 5))
	checkElem(t, elI64([]int{4}, -56, 44, -1, -1), 0, to(3), elI64([]int{4}, 200, 300, -1, -257))     // INT8 wraps
	checkElem(t, elI64([]int{3}, 65535, 0, 4294967295), 0, to(12), elI64([]int{3}, 65535, 1<<32, -1)) // UINT32
	checkElem(t, elF32([]int{2}, -3, 1e10), 0, to(1), elI64([]int{2}, -3, 1e10))
	checkElem(t, elF32([]int{1}, 1.5), 0, to(11), elF32([]int{1}, 1.5)) // DOUBLE as float32
	// FLOAT16: 1 + 2^-11 is a tie, to even (1); 1 + 3·2^-11 rounds up to
	// 1 + 2^-9; 65519 is the largest that rounds to 65504, 65520 is Inf;
	// 2^-25 rounds to 0, 3·2^-25 to the subnormal 2^-23... (ties to even)
	h := elF32([]int{7}, 1+1.0/2048, 1+3.0/2048, 65519, 65520, -65520, float32(math.Ldexp(1, -25)), float32(3*math.Ldexp(1, -25)))
	checkElem(t, elF32([]int{7}, 1, 1+1.0/512, 65504, inf, -inf, 0, float32(math.Ldexp(1, -23))), 0, to(10), h)
	// BFLOAT16: 1 + 2^-8 ties to 1, 1 + 3·2^-8 to 1 + 2^-6
	checkElem(t, elF32([]int{3}, 1, 1+1.0/64, -inf), 0, to(16), elF32([]int{3}, 1+1.0/256, 1+3.0/256, -inf))
	out := mustElem(t, to(10), elF32([]int{1}, nan))
	if v := out.F32[0]; v == v {
		t.Errorf("Cast NaN to FLOAT16 = %v, want NaN", v)
	}
	wantElemErr(t, "Cast to STRING (8) is not supported", to(8), x)
	wantElemErr(t, "attribute to is required", elemNode("Cast", 13), x)
}
