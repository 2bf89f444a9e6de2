package ops

import "unsafe"

// Depthwise convolutions on small planes, eight channels at a time. On a
// 7×7 or 14×14 plane a channel's window sums (convDirect) are a few
// vectors of work behind a phase copy and a compaction made row by row, so
// the rows' bookkeeping costs more than the arithmetic. Here a block of 8
// channels is transposed into pixels of 8 channels, with the padding,
//
//	xb[(ih·Wp + iw)·8 + c] = x'[c][ih - PadT][iw - PadL]   (0 in the padding)
//
// so that every tap is one vector FMA with the 8 channels' weights:
//
//	ob[(oh·OW + ow)·8 + c] = b[c] + Σ_t w[c][t]·xb[(oh·SH·Wp + ow·SW)·8 + off[t] + c]
//
// off[t] = (kh·DH·Wp + kw·DW)·8 for tap t = kh·KW + kw, one DwRow8 call per
// output row, and transposed back: y[c][oh][ow] = act(ob[...] + Z). ONNX
// Runtime's NCHWc depthwise kernels work on the same layout, kept between
// layers; here it lives for one block of one layer.

// Dw8Kernel computes n output pixels of 8 channels of a depthwise
// convolution in the channel-blocked layout (see conv_dw8.go):
//
//	out[j·8+c] = bias[c] + Σ_{t<taps} w[t·8+c]·x[j·step+off[t]+c]
//
// the taps in order, each product fused with the sum.
type Dw8Kernel func(out, x *float32, off *int32, w *float32, taps, n, step int, bias *float32)

// Dw8Go is the portable twin of the Dw8Kernel vector kernels.
func Dw8Go(out, x *float32, off *int32, w *float32, taps, n, step int, bias *float32) {
	if n <= 0 {
		return
	}
	offs := unsafe.Slice(off, max(taps, 1))[:taps]
	hi := 0
	for _, o := range offs {
		hi = max(hi, int(o))
	}
	xs := unsafe.Slice(x, (n-1)*step+hi+8)
	ws := unsafe.Slice(w, max(taps, 1)*8)
	bs := unsafe.Slice(bias, 8)
	os := unsafe.Slice(out, n*8)
	for j := range n {
		for c := range 8 {
			s := bs[c]
			for t, o := range offs {
				s = fma32(ws[t*8+c], xs[j*step+int(o)+c], s)
			}
			os[j*8+c] = s
		}
	}
}

// dw8OK reports whether conv runs g eight channels at a time: a tier with
// a Dw8 kernel, a depthwise convolution with one output channel per input
// channel, an output plane of at most Dw8MaxPixels pixels, and a padded
// input not much larger than the planes (a hostile model's huge pads go
// to convDirect's row-by-row loops).
func (bl *blocked) dw8OK(g *ConvGeom) bool {
	if bl.Dw8 == nil || g.Group != g.C || g.M != g.C || g.OH*g.OW > bl.Dw8MaxPixels {
		return false
	}
	hp, wp := int64(g.H+g.PadT+g.PadB), int64(g.W+g.PadL+g.PadR)
	return hp*wp <= 4*(int64(g.H)*int64(g.W)+int64(g.OH)*int64(g.OW))+4096
}

// convDw8 is blocked.conv for geometries dw8OK accepts.
func (bl *blocked) convDw8(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	dt := taskOf[dw8Task](env)
	*dt = dw8Task{bl: bl, k: kernelsOf(env), g: g, x: x, w: w, b: b, y: y, f: f}
	runTask(env, g.N*ceilDiv(g.C, 8), dt)
}

// dw8Task computes blocks [lo, hi) of convDw8: block u is image u / nb,
// channels [8·(u mod nb), +8) with nb = ceil(C/8).
type dw8Task struct {
	bl         *blocked
	k          *Kernels
	g          *ConvGeom
	x, w, b, y []float32
	f          *ConvFusion
}

// dw8Bufs is one worker's scratch for convDw8.
type dw8Bufs struct {
	xb, ob, wb, tb growBuf
	bias           [8]float32
	off            []int32
}

// dw8Scratch keeps dw8Bufs for reuse.
var dw8Scratch = freeList[dw8Bufs]{new: func() *dw8Bufs { return new(dw8Bufs) }}

// Range computes blocks [lo, hi).
func (t *dw8Task) Range(lo, hi int) {
	g, f := t.g, t.f
	nb := ceilDiv(g.C, 8)
	hp, wp := g.H+g.PadT+g.PadB, g.W+g.PadL+g.PadR
	taps := g.KH * g.KW
	hw, ohw := g.H*g.W, g.OH*g.OW
	buf := dw8Scratch.get()
	defer dw8Scratch.put(buf)
	xb := buf.xb.grow(hp * wp * 8)
	ob := buf.ob.grow(ohw * 8)
	wb := buf.wb.grow(taps * 8)
	if cap(buf.off) < taps {
		buf.off = make([]int32, taps)
	}
	off := buf.off[:taps]
	// off[kh·KW + kw] = (kh·DH·Wp + kw·DW)·8
	for kh := range g.KH {
		for kw := range g.KW {
			off[kh*g.KW+kw] = int32((kh*g.DH*wp + kw*g.DW) * 8)
		}
	}
	for u := lo; u < hi; u++ {
		n, c0 := u/nb, u%nb*8
		cnt := min(8, g.C-c0)
		// xb[(ih·Wp + iw)·8 + c] = x'[c0+c][ih-PadT][iw-PadL], 0 in the padding and past C
		clear(xb)
		xs := t.x[(n*g.C+c0)*hw:]
		if cnt == 8 && !f.hasPre() {
			// the 8 planes as pixels of 8, then row by row into the padding
			tmp := buf.tb.grow(hw * 8)
			t.bl.gather8(tmp, xs, hw, hw)
			for ih := range g.H {
				copy(xb[((ih+g.PadT)*wp+g.PadL)*8:], tmp[ih*g.W*8:(ih+1)*g.W*8])
			}
		} else {
			for c := range cnt {
				xp := xs[c*hw : (c+1)*hw]
				for ih := range g.H {
					row := xb[((ih+g.PadT)*wp+g.PadL)*8+c:]
					for iw, v := range xp[ih*g.W : (ih+1)*g.W] {
						if f.hasPre() {
							v = f.pre(c0+c, v)
						}
						row[iw*8] = v
					}
				}
			}
		}
		// wb[t·8 + c] = w[c0+c][t], bias[c] = b[c0+c]; 0 past C
		clear(wb)
		buf.bias = [8]float32{}
		for c := range cnt {
			for tp := range taps {
				wb[tp*8+c] = t.w[(c0+c)*taps+tp]
			}
			if t.b != nil {
				buf.bias[c] = t.b[c0+c]
			}
		}
		for oh := range g.OH {
			// the row's pixel ow reads its window from xb[(oh·SH·Wp + ow·SW)·8:]
			t.bl.Dw8(&ob[oh*g.OW*8], &xb[oh*g.SH*wp*8], &off[0], &wb[0], taps, g.OW, g.SW*8, &buf.bias[0])
		}
		// y[n][c0+c][q] = ob[q·8 + c], then act(y + Z) over the block's planes
		ys := t.y[(n*g.C+c0)*ohw : (n*g.C+c0+cnt)*ohw]
		if cnt == 8 {
			t.bl.scatter8(ys, ohw, ob, ohw)
		} else {
			for c := range cnt {
				yr := ys[c*ohw : (c+1)*ohw]
				for q := range yr {
					yr[q] = ob[q*8+c]
				}
			}
		}
		if f.hasPost() {
			var z []float32
			if f.Residual != nil {
				z = f.Residual[(n*g.C+c0)*ohw : (n*g.C+c0+cnt)*ohw]
			}
			residualAct(t.k, ys, z, f.Act)
		}
	}
}

// gather8 computes dst[j·8 + i] = src[i·lds + j] for i < 8, j < n, on the
// tier's Gather8 for whole vectors of j.
func (bl *blocked) gather8(dst, src []float32, lds, n int) {
	dst = dst[:n*8]
	_ = src[7*lds+n-1]
	nv := 0
	if bl.Gather8 != nil {
		nv = n &^ 7
		if nv > 0 {
			bl.Gather8(&dst[0], &src[0], lds, nv)
		}
	}
	for j := nv; j < n; j++ {
		for i := range 8 {
			dst[j*8+i] = src[i*lds+j]
		}
	}
}

// scatter8 computes dst[i·ldd + j] = src[j·8 + i] for i < 8, j < n, on
// the tier's Scatter8 for whole vectors of j.
func (bl *blocked) scatter8(dst []float32, ldd int, src []float32, n int) {
	src = src[:n*8]
	_ = dst[7*ldd+n-1]
	nv := 0
	if bl.Scatter8 != nil {
		nv = n &^ 7
		if nv > 0 {
			bl.Scatter8(&dst[0], ldd, &src[0], nv)
		}
	}
	for j := nv; j < n; j++ {
		for i := range 8 {
			dst[i*ldd+j] = src[j*8+i]
		}
	}
}
