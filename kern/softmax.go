package kern

import "math"

// SoftmaxLane normalises the dim values x_j = src[base + j·step] (j < dim)
// into dst at the same places:
//
//	y_j = exp(x_j - m) / Σ_k exp(x_k - m),  m = max_k x_k
//
// or, with log (LogSoftmax),
//
//	y_j = (x_j - m) - log Σ_k exp(x_k - m)
//
// the exponentials in float64 and summed in float64: Softmax's each
// rounded to float32 before the division (by a multiplication with the
// sum's inverse), LogSoftmax's result rounded once. dst may be src. It is
// the plain definition, the oracle of the CUDA kernel: keep it plain.
func SoftmaxLane(dst, src []float32, base, dim, step int, log bool) {
	m := float32(math.Inf(-1))
	// m = max_j x_j
	for j := 0; j < dim; j++ {
		if v := src[base+j*step]; v > m {
			m = v
		}
	}
	if log {
		// s = Σ_j exp(x_j - m); y_j = (x_j - m) - log s
		var sum float64
		for j := 0; j < dim; j++ {
			sum += math.Exp(float64(src[base+j*step]) - float64(m))
		}
		ls := math.Log(sum)
		for j := 0; j < dim; j++ {
			p := base + j*step
			dst[p] = float32(float64(src[p]) - float64(m) - ls)
		}
		return
	}
	// e_j = exp(x_j - m); sum = Σ_j e_j
	var sum float64
	for j := 0; j < dim; j++ {
		p := base + j*step
		e := math.Exp(float64(src[p] - m))
		dst[p] = float32(e)
		sum += e
	}
	inv := 1 / sum
	// y_j = e_j / sum
	for j := 0; j < dim; j++ {
		p := base + j*step
		dst[p] = float32(float64(dst[p]) * inv)
	}
}
