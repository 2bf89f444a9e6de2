package ops

import (
	"math"
	"testing"
)

func TestPowFloat(t *testing.T) {
	x := elF32([]int{2, 3}, 2, -2, 4, 0, -8, 9)
	checkElem(t, elF32([]int{2, 3}, 8, -8, 64, 0, -512, 729), 0, elemNode("Pow", 15), x, elF32([]int{}, 3))
	checkElem(t, elF32([]int{2, 3}, 1, 4, 2, 0, 1, float32(1.0/3)), 1e-7, elemNode("Pow", 13), x, elF32([]int{2, 3}, 0, 2, 0.5, 5, 0, -0.5))
	// IEEE pow's special values.
	got := mustElem(t, elemNode("Pow", 7),
		elF32([]int{8}, 0, nan32, 1, -8, 0, negZ32, -inf32, 2),
		elF32([]int{8}, 0, 0, nan32, float32(1.0/3), -1, -1, 3, inf32))
	elBits(t, "Pow specials", []float32{1, 1, 1, nan32, inf32, -inf32, -inf32, inf32}, got.F32)
	// Rounded once from float64: exactly what float32(math.Pow) gives.
	xs := elVals(1, 3, 7)
	for i := range xs.F32 {
		xs.F32[i] = xs.F32[i]*0.37 + 3
	}
	ys := elF32([]int{7}, -2.5, -1, 0.3, 1.7, 2, 3.3, 10)
	want := NewF32([]int{3, 7}, nil)
	bcastEach([][]int{{3, 7}, {7}}, func(i int, idx []int) {
		want.F32[i] = float32(math.Pow(float64(xs.F32[idx[0]]), float64(ys.F32[idx[1]])))
	})
	checkElem(t, want, 0, elemNode("Pow", 15), xs, ys)
	// Broadcasting both ways: [3,1] ^ [1,4].
	col, row := elF32([]int{3, 1}, 1, 2, 3), elF32([]int{1, 4}, 0, 1, 2, 3)
	checkElem(t, elF32([]int{3, 4}, 1, 1, 1, 1, 1, 2, 4, 8, 1, 3, 9, 27), 0, elemNode("Pow", 15), col, row)
}

func TestPowMixedTypes(t *testing.T) {
	// float32 base, int64 exponent.
	checkElem(t, elF32([]int{4}, 1, 32, 0.25, -27), 0, elemNode("Pow", 12),
		elF32([]int{4}, 1, 2, 2, -3), elI64([]int{4}, 4, 5, -2, 3))
	// int64 base to int64 powers: exact, wrapping on overflow.
	wrap := int64(1)
	for range 41 {
		wrap *= 3
	}
	checkElem(t, elI64([]int{6}, 1, 32, 729, -8, 1, wrap), 0, elemNode("Pow", 15),
		elI64([]int{6}, 1, 2, 3, -2, 7, 3), elI64([]int{6}, 4, 5, 6, 3, 0, 41))
	// Negative integer powers truncate toward zero; 0 to one saturates.
	checkElem(t, elI64([]int{6}, 0, 1, -1, 1, 0, math.MaxInt64), 0, elemNode("Pow", 15),
		elI64([]int{6}, 2, 1, -1, -1, -3, 0), elI64([]int{6}, -1, -5, -3, -2, -2, -1))
	// int64 base, float32 exponent: the float64 power truncated, NaN to 0,
	// huge values clamped.
	checkElem(t, elI64([]int{6}, 1, 32, 729, 1, 0, math.MaxInt64), 0, elemNode("Pow", 15),
		elI64([]int{6}, 1, 2, 3, 2, -8, 10), elF32([]int{6}, 4, 5, 6, 0.5, float32(1.0/3), 30))
	// Before opset 12 both are floats.
	wantElemErr(t, "want float32", elemNode("Pow", 11), elF32([]int{1}, 2), elI64([]int{1}, 2))
	wantElemErr(t, "want float32", elemNode("Pow", 7), elI64([]int{1}, 2), elF32([]int{1}, 2))
}

func TestPowErrors(t *testing.T) {
	wantElemErr(t, "do not broadcast", elemNode("Pow", 15), elSeq(2, 3), elSeq(2))
	wantElemErr(t, "at least 2 inputs", elemNode("Pow", 15), elSeq(2))
	wantElemErr(t, "want 2", elemNode("Pow", 15), elSeq(2), elSeq(2), elSeq(2))
	wantElemErr(t, "legacy broadcast", elemNode("Pow", 1, elInt("broadcast", 1)), elSeq(2, 3), elSeq(3))
	wantElemErr(t, "no implicit broadcasting", elemNode("Pow", 6), elSeq(2, 3), elSeq(3))
	checkElem(t, elF32([]int{2}, 1, 1), 0, elemNode("Pow", 6), elSeq(2), elF32([]int{2}, 0, 1))
}
