package kern

// WindowOut returns the output length along one axis of a convolution or
// pool: the number of windows of k taps dil apart, stride apart, over in
// values padded by pad0 before and pad1 after. With dk = (k-1)·dil + 1,
//
//	out = floor((in + pad0 + pad1 - dk) / stride) + 1
//
// or with ceil (a pool's ceil_mode) the quotient rounded up, less a last
// window that would start in the end padding (ONNX's rule). It is 0 when
// the window is larger than the padded input; stride and dil count as 1
// when below it.
func WindowOut(in, k, pad0, pad1, stride, dil int, ceil bool) int {
	stride, dil = max(stride, 1), max(dil, 1)
	ext := in + pad0 + pad1 - ((k-1)*dil + 1)
	if ext < 0 {
		return 0
	}
	if !ceil {
		return ext/stride + 1
	}
	out := CeilDiv(ext, stride) + 1
	if (out-1)*stride >= in+pad0 {
		out--
	}
	return out
}
