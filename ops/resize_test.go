package ops

import (
	"math"
	"testing"
)

// TestResizeKnown checks Resize and Upsample on worked answers beyond the
// ONNX node tests: PyTorch's bilinear upsampling (pytorch_half_pixel, as
// torch exports F.interpolate(align_corners=False)) against its formula,
// opset 10's nearest rounding (floor enlarging, ceil shrinking), Upsample's
// attribute form, several resized axes through the scratch buffers, and
// the errors.
func TestResizeKnown(t *testing.T) {
	// 1×1×3×4, x[h][w] = 10h + w
	var xs []float32
	for h := range 3 {
		for w := range 4 {
			xs = append(xs, float32(10*h+w))
		}
	}
	x := elF32([]int{1, 1, 3, 4}, xs...)
	f32 := func(v ...float32) *Tensor { return elF32([]int{len(v)}, v...) }
	i64 := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	empty := elF32([]int{0})

	// PyTorch's bilinear, align_corners=False, to 5×7: src = (dst+0.5)·in/out - 0.5,
	// clamped at 0; lo = floor(src), hi = min(lo+1, in-1), linear between.
	bil := func(in, out int) (lo, hi []int, w []float64) {
		for i := range out {
			s := max((float64(i)+0.5)*float64(in)/float64(out)-0.5, 0)
			l := int(math.Floor(s))
			lo, hi, w = append(lo, l), append(hi, min(l+1, in-1)), append(w, s-float64(l))
		}
		return
	}
	hl, hh, hw := bil(3, 5)
	wl, wh, ww := bil(4, 7)
	var want []float32
	for i := range 5 {
		for j := range 7 {
			at := func(h, w int) float64 { return float64(xs[h*4+w]) }
			top := (1-ww[j])*at(hl[i], wl[j]) + ww[j]*at(hl[i], wh[j])
			bot := (1-ww[j])*at(hh[i], wl[j]) + ww[j]*at(hh[i], wh[j])
			want = append(want, float32((1-hw[i])*top+hw[i]*bot))
		}
	}
	lin := elemNode("Resize", 13, elStr("mode", "linear"), elStr("coordinate_transformation_mode", "pytorch_half_pixel"))
	checkElem(t, elF32([]int{1, 1, 5, 7}, want...), 1e-5, lin, x, nil, nil, i64(1, 1, 5, 7))

	// opset 10, nearest, asymmetric: ×2 rows by floor, ×0.5 columns by ceil
	checkElem(t, elF32([]int{1, 1, 6, 2}, 0, 2, 0, 2, 10, 12, 10, 12, 20, 22, 20, 22), 0,
		elemNode("Resize", 10), x, f32(1, 1, 2, 0.5))
	// Upsample-7, scales an attribute; Upsample-9 an input
	up := elF32([]int{1, 1, 3, 8}, 0, 0, 1, 1, 2, 2, 3, 3, 10, 10, 11, 11, 12, 12, 13, 13, 20, 20, 21, 21, 22, 22, 23, 23)
	checkElem(t, up, 0, elemNode("Upsample", 7, elFloats("scales", 1, 1, 1, 2)), x)
	checkElem(t, up, 0, elemNode("Upsample", 9), x, f32(1, 1, 1, 2))
	// opset 11: roi and scales required, empty ones absent
	checkElem(t, up, 0, elemNode("Resize", 11), x, empty, empty, i64(1, 1, 3, 8))

	wantElemErr(t, "exactly one of scales and sizes", elemNode("Resize", 13), x, nil, f32(1, 1, 2, 2), i64(1, 1, 6, 8))
	wantElemErr(t, "exactly one of scales and sizes", elemNode("Resize", 13), x)
	wantElemErr(t, "scales has 2 values", elemNode("Resize", 13), x, nil, f32(2, 2))
	wantElemErr(t, "must be positive", elemNode("Resize", 13), x, nil, f32(1, 1, 0, 2))
	wantElemErr(t, "unknown mode", elemNode("Resize", 13, elStr("mode", "area")), x, nil, f32(1, 1, 2, 2))
	wantElemErr(t, "not an Upsample mode", elemNode("Upsample", 9, elStr("mode", "cubic")), x, f32(1, 1, 2, 2))
	wantElemErr(t, "needs roi", elemNode("Resize", 13, elStr("coordinate_transformation_mode", "tf_crop_and_resize")), x, nil, f32(1, 1, 2, 2))
	wantElemErrMode(t, "constant known at plan time", elemNode("Resize", 13), []bool{false, false, true}, x, nil, f32(1, 1, 2, 2))
}
