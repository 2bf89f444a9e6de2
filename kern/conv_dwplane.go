package kern

import "unsafe"

// Depthwise convolutions on channel planes as they lie. The 8-channel
// path (conv_dw8.go) transposes a block of channels into pixels and its
// output back, and on AVX-512 its vectors hold 8 channels, half a
// register: MobileNetV2's 32-channel 3×3 layer at 112×112 ran at 37
// GFLOP/s, half ONNX Runtime's rate on its channel-blocked tensors. Here
// a vector is 16 outputs of one row of one channel,
//
//	y[c][oh][ow] = act(b[c] + Σ_{a,b} w[c][a][b]·x[c][oh·S + a - PadT][ow·S + b - PadL])
//
// the taps in order, those that fall in the padding skipped. A plane's
// weights stay in registers for all its rows, each input row of a step
// of a few output rows is loaded once per tap column and feeds all of
// them, and masks (one table for every plane, dwPlaneMasks) drop the taps
// outside a row and the outputs past its end. Nothing is copied: the
// kernel reads x and writes y. The layout takes stride 2 too (the even
// columns of 32 loaded ones picked by a permutation: the twin tier runs
// it), but on AVX-512 only stride 1 has kernels: at stride 2 they
// measured no faster than the 8-channel path (see _gen's main).

// DwPlaneKernel computes planes channel planes of a depthwise convolution
// with a fixed window and stride, as the Go twin DwPlaneGo of the same
// window and stride does; masks is dwPlaneMasks's table for the
// geometry. bias points to planes values; clip, when not nil, to the
// bounds of a Relu or Clip (see clipBounds).
type DwPlaneKernel func(y, x, w, bias, clip *float32, masks *uint16, planes, h, wd, oh, ow, padT, padL, chunks int)

// dwPlaneLanes is how many outputs of a row a DwPlaneKernel computes at
// once (a chunk): a 16-lane vector.
const dwPlaneLanes = 16

// dwPlaneMaskCount returns how many masks a chunk of a kw-wide window at
// stride s has: one per tap column (which outputs read it), at stride 2
// two more per tap column (which of the 32 input columns the kernel
// loads), and the store mask.
func dwPlaneMaskCount(kw, s int) int { return (2*s-1)*kw + 1 }

// dwPlaneMasks fills m, chunk j's masks at m[j·n:] (n =
// dwPlaneMaskCount(KW, SW)): bit l of entry b says whether output ow =
// 16j + l exists and its tap column b reads inside the row,
//
//	0 ≤ ow·SW + b - PadL < W,
//
// at stride 2 bit e of entries KW + b and 2·KW + b whether input column
// e (and 16 + e) of the 32 loaded from ow = 16j on is read (e even,
// output e/2 or 8 + e/2 reading it), and bit l of the last entry whether
// ow exists.
func dwPlaneMasks(g *ConvGeom, m []uint16) {
	n := dwPlaneMaskCount(g.KW, g.SW)
	for j := range CeilDiv(g.OW, dwPlaneLanes) {
		e := m[j*n : (j+1)*n]
		clear(e)
		for l := range dwPlaneLanes {
			ow := j*dwPlaneLanes + l
			if ow >= g.OW {
				break
			}
			e[n-1] |= 1 << l
			for b := range g.KW {
				if iw := ow*g.SW + b - g.PadL; iw < 0 || iw >= g.W {
					continue
				}
				e[b] |= 1 << l
				if g.SW == 2 {
					// output l reads loaded column 2l: of the first 16, or the second
					e[g.KW+b+(l/8)*g.KW] |= 1 << (2 * l % 16)
				}
			}
		}
	}
}

// DwPlaneGo returns the portable twin of the DwPlaneKernel for a kh×kw
// window at stride s (dilation 1), which the vector kernels compute bit
// for bit.
func DwPlaneGo(kh, kw, s int) DwPlaneKernel {
	return func(y, x, w, bias, clip *float32, masks *uint16, planes, h, wd, oh, ow, padT, padL, chunks int) {
		n := dwPlaneMaskCount(kw, s)
		ms := unsafe.Slice(masks, chunks*n)
		xs := unsafe.Slice(x, planes*h*wd)
		ys := unsafe.Slice(y, planes*oh*ow)
		ws := unsafe.Slice(w, planes*kh*kw)
		bs := unsafe.Slice(bias, planes)
		for c := range planes {
			for j := range chunks {
				m := ms[j*n : (j+1)*n]
				for r := range oh {
					for l := range dwPlaneLanes {
						if m[n-1]>>l&1 == 0 {
							continue
						}
						o := dwPlaneLanes*j + l
						v := bs[c]
						for a := range kh {
							ih := r*s + a - padT
							if ih < 0 || ih >= h {
								continue
							}
							for b := range kw {
								if m[b]>>l&1 != 0 {
									v = fma32(ws[(c*kh+a)*kw+b], xs[(c*h+ih)*wd+o*s+b-padL], v)
								}
							}
						}
						if clip != nil && v == v {
							cl := unsafe.Slice(clip, 2)
							v = min(max(v, cl[0]), cl[1])
						}
						ys[(c*oh+r)*ow+o] = v
					}
				}
			}
		}
	}
}

// dwPlaneMaskTable sets *m to dwPlaneMasks's table for g, reallocating
// it when it is shorter, and returns the chunks of an output row.
func dwPlaneMaskTable(g *ConvGeom, m *[]uint16) (chunks int) {
	chunks = CeilDiv(g.OW, dwPlaneLanes)
	n := chunks * dwPlaneMaskCount(g.KW, g.SW)
	if cap(*m) < n {
		*m = make([]uint16, n)
	}
	*m = (*m)[:n]
	dwPlaneMasks(g, *m)
	return chunks
}

// dwPlaneOK reports whether conv runs g on the tier's DwPlane kernels: a
// depthwise convolution (one input and one output channel a group) with
// a kernel for its window and stride, dilation 1, no prologue, an input
// plane that is not empty, pads narrower than the window (a hostile model's huge pads go to the window
// loops) and an output plane of more than DwPlaneMinPixels pixels.
func (bl *blocked) dwPlaneOK(g *ConvGeom, pre bool) bool {
	return !pre && bl.dwPlaneKernel(g) != nil && g.OH*g.OW > bl.DwPlaneMinPixels
}

// dwPlaneKernel returns the tier's DwPlane kernel for g's window and
// stride, or nil when it has none or g is not a depthwise convolution it
// can run.
func (bl *blocked) dwPlaneKernel(g *ConvGeom) DwPlaneKernel {
	if bl.DwPlane == nil || g.Group != g.C || g.M != g.C || g.DH != 1 || g.DW != 1 || g.SH != g.SW || g.H <= 0 || g.W <= 0 ||
		g.PadL >= g.KW || g.PadR >= g.KW || g.PadT >= g.KH || g.PadB >= g.KH {
		return nil
	}
	return bl.DwPlane(g.KH, g.KW, g.SH)
}

// dwPlaneBufs is convDwPlane's scratch: the mask table, and zeros for a
// convolution without bias.
type dwPlaneBufs struct {
	masks []uint16
	zeros GrowBuf
	clip  [2]float32
}

// dwPlaneScratch keeps dwPlaneBufs for reuse.
var dwPlaneScratch = FreeList[dwPlaneBufs]{New: func() *dwPlaneBufs { return new(dwPlaneBufs) }}

// convDwPlane is blocked.conv for geometries dwPlaneOK accepts: the
// planes of all images cut among the workers, a worker's run of planes
// of one image one kernel call, then the residual and an activation the
// kernel does not apply.
func (bl *blocked) convDwPlane(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	buf := dwPlaneScratch.Get(hintOf(env))
	defer dwPlaneScratch.Put(hintOf(env), buf)
	chunks := dwPlaneMaskTable(g, &buf.masks)
	if b == nil {
		b = buf.zeros.Grow(g.C)
		clear(b)
	}
	var clip *float32
	if f != nil && f.Residual == nil {
		var ok bool
		if buf.clip, ok = kernelClip(f.Act); ok {
			clip = &buf.clip[0]
		}
	}
	dt := TaskOf[dwPlaneTask](env)
	*dt = dwPlaneTask{k: TierOf(env), kern: bl.dwPlaneKernel(g), g: g, x: x, w: w, b: b, y: y, f: f,
		masks: buf.masks, clip: clip, chunks: chunks}
	runTask(env, g.N*g.C, dt)
}

// dwPlaneTask computes planes [lo, hi) (u = n·C + c) of convDwPlane.
type dwPlaneTask struct {
	k          *Tier
	kern       DwPlaneKernel
	g          *ConvGeom
	x, w, b, y []float32
	f          *ConvFusion
	masks      []uint16
	clip       *float32
	chunks     int
}

// Range computes planes [lo, hi), a call per image's run of them.
func (t *dwPlaneTask) Range(lo, hi int) {
	g, f := t.g, t.f
	hw, ohw, taps := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	for u := lo; u < hi; {
		c0 := u % g.C
		cnt := min(hi-u, g.C-c0)
		_, _ = t.x[(u+cnt)*hw-1], t.y[(u+cnt)*ohw-1]
		_, _ = t.w[(c0+cnt)*taps-1], t.b[c0+cnt-1]
		t.kern(&t.y[u*ohw], &t.x[u*hw], &t.w[c0*taps], &t.b[c0], t.clip, &t.masks[0],
			cnt, g.H, g.W, g.OH, g.OW, g.PadT, g.PadL, t.chunks)
		if f.hasPost() && t.clip == nil {
			ys := t.y[u*ohw : (u+cnt)*ohw]
			var z []float32
			if f.Residual != nil {
				z = f.Residual[u*ohw : (u+cnt)*ohw]
			}
			residualAct(t.k, ys, z, f.Act)
		}
		u += cnt
	}
}
