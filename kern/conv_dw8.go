package kern

import "unsafe"

// Depthwise convolutions, eight channels at a time. A channel's window
// sums on its own plane (convDirect) are a few vectors of work behind a
// phase copy and a compaction made row by row, so on small planes the
// rows' bookkeeping costs more than the arithmetic, and a stride makes
// every load a gather. Here a block of 8 channels is transposed into
// pixels of 8 channels, with the padding,
//
//	xb[(ih·Wp + iw)·8 + c] = x'[c][ih - PadT][iw - PadL]   (0 in the padding)
//
// so that every tap is one vector FMA with the 8 channels' weights:
//
//	ob[(oh·OW + ow)·8 + c] = b[c] + Σ_t w[c][t]·xb[(oh·SH·Wp + ow·SW)·8 + off[t] + c]
//
// off[t] = (kh·DH·Wp + kw·DW)·8 for tap t = kh·KW + kw, one DwRow8 call per
// output row, and transposed back: y[c][oh][ow] = act(ob[...] + Z). The
// block goes through in bands of output rows whose input rows fit in the
// first cache levels (dw8BandRows), so a large plane is read once and
// its transposed copy never leaves the cache. ONNX Runtime's NCHWc
// depthwise kernels work on the same layout, kept between layers; here it
// lives for one band of one block of one layer.

// Dw8Kernel computes rows rows of n output pixels of 8 channels of a
// depthwise convolution in the channel-blocked layout (see conv_dw8.go):
//
//	s = bias[c] + Σ_{t<taps} w[t·8+c]·x[r·ldx+j·step+off[t]+c]
//	out[r·ldo+j·8+c] = min(max(s, clip[0]), clip[1])   (s when clip is nil or s is NaN)
//
// the taps in order, each product fused with the sum; clip's bounds are
// numbers, the lower not -0 and the upper not ±0 (see clipBounds). One
// call runs a band's rows: a call from Go costs as much as a 7×7 row.
type Dw8Kernel func(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int)

// Dw16Kernel is Dw8Kernel for pixels of 16 channels:
//
//	s = bias[c] + Σ_{t<taps} w[t·16+c]·x[r·ldx+j·step+off[t]+c]
//	out[r·ldo+j·16+c] = min(max(s, clip[0]), clip[1])   (s when clip is nil or s is NaN)
//
// for c < 16: the one-pass depthwise blocks' kernel on tiers whose
// vectors hold 16 lanes (conv_dwblock.go).
type Dw16Kernel func(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int)

// Dw8Go is the portable twin of the Dw8Kernel vector kernels.
func Dw8Go(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int) {
	dwRowGo(8, out, x, off, w, taps, n, step, bias, clip, rows, ldo, ldx)
}

// Dw16Go is the portable twin of the Dw16Kernel vector kernels.
func Dw16Go(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int) {
	dwRowGo(16, out, x, off, w, taps, n, step, bias, clip, rows, ldo, ldx)
}

// dwRowGo is Dw8Go and Dw16Go for pixels of cw channels.
func dwRowGo(cw int, out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int) {
	if n <= 0 || rows <= 0 {
		return
	}
	offs := unsafe.Slice(off, max(taps, 1))[:taps]
	xs := unsafe.Slice(x, (rows-1)*ldx+(n-1)*step+maxOffset(offs)+cw)
	ws := unsafe.Slice(w, max(taps, 1)*cw)
	bs := unsafe.Slice(bias, cw)
	os := unsafe.Slice(out, (rows-1)*ldo+n*cw)
	// os[r·ldo + j·cw + c] = clip(bs[c] + Σ_t ws[t·cw + c]·xs[r·ldx + j·step + offs[t] + c])
	for r := range rows {
		for j := range n {
			for c := range cw {
				s := bs[c]
				for t, o := range offs {
					s = fma32(ws[t*cw+c], xs[r*ldx+j*step+int(o)+c], s)
				}
				if clip != nil && s == s {
					cl := unsafe.Slice(clip, 2)
					s = min(max(s, cl[0]), cl[1])
				}
				os[r*ldo+j*cw+c] = s
			}
		}
	}
}

// dw8OK reports whether conv runs g eight channels at a time: a tier with
// a Dw8 kernel, a depthwise convolution with one output channel per input
// channel, an output plane of at most Dw8MaxPixels pixels (when set), and a padded
// input not much larger than the planes (a hostile model's huge pads go
// to convDirect's row-by-row loops).
func (bl *blocked) dw8OK(g *ConvGeom) bool {
	return bl.dw8Geom(g) && (bl.Dw8MaxPixels <= 0 || g.OH*g.OW <= bl.Dw8MaxPixels)
}

// dw8Geom reports whether the tier's Dw8 kernel can run g: a depthwise
// convolution whose padded input is not much larger than its planes.
func (bl *blocked) dw8Geom(g *ConvGeom) bool {
	if bl.Dw8 == nil || g.Group != g.C || g.M != g.C {
		return false
	}
	hp, wp := int64(g.H+g.PadT+g.PadB), int64(g.W+g.PadL+g.PadR)
	return hp*wp <= 4*(int64(g.H)*int64(g.W)+int64(g.OH)*int64(g.OW))+4096
}

// packDw8 arranges depthwise weights as convDw8's blocks of 8 channels:
//
//	out[(blk·taps + t)·8 + c] = w[(8·blk + c)·taps + t]   (0 past C)
//
// so that a block's weights are one vector per tap, made once per model
// instead of once per block and Run.
func packDw8(g *ConvGeom, w []float32) []float32 { return packDwBlocks(g, w, 8) }

// packDwBlocks is packDw8 for blocks of cw channels:
//
//	out[(blk·taps + t)·cw + c] = w[(cw·blk + c)·taps + t]   (0 past C)
func packDwBlocks(g *ConvGeom, w []float32, cw int) []float32 {
	return packDwBlocksInto(keptFloats(dwBlocksLen(g, cw)), g, w, cw)
}

// dwBlocksLen is the length of packDwBlocks's result.
func dwBlocksLen(g *ConvGeom, cw int) int { return CeilDiv(g.C, cw) * g.KH * g.KW * cw }

// packDwBlocksInto is packDwBlocks into out (of dwBlocksLen values, zero),
// which it returns.
func packDwBlocksInto(out []float32, g *ConvGeom, w []float32, cw int) []float32 {
	taps := g.KH * g.KW
	for c := range g.C {
		for t := range taps {
			out[(c/cw*taps+t)*cw+c%cw] = w[c*taps+t]
		}
	}
	return out
}

// convDw8 is blocked.conv for geometries dw8OK accepts.
func (bl *blocked) convDw8(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	dt := TaskOf[dw8Task](env)
	*dt = dw8Task{bl: bl, k: TierOf(env), g: g, x: x, w: w, b: b, y: y, f: f, hint: hintOf(env)}
	if env != nil {
		dt.wp = env.PackedW
	}
	runTask(env, g.N*CeilDiv(g.C, 8), dt)
}

// dw8Task computes blocks [lo, hi) of convDw8: block u is image u / nb,
// channels [8·(u mod nb), +8) with nb = ceil(C/8).
type dw8Task struct {
	bl         *blocked
	k          *Tier
	g          *ConvGeom
	x, w, b, y []float32
	wp         []float32 // w as packDw8 packs it, or nil
	f          *ConvFusion
	hint       int // the scratch lists' (Env.Hint)
}

// dw8Bufs is one worker's scratch for convDw8.
type dw8Bufs struct {
	xb, ob, wb GrowBuf
	bias       [8]float32
	clip       [2]float32 // the kernel's clip bounds (kernelClip)
	off        []int32
}

// dw8Scratch keeps dw8Bufs for reuse.
var dw8Scratch = FreeList[dw8Bufs]{New: func() *dw8Bufs { return new(dw8Bufs) }}

// dw8BandRows returns how many output rows of g one band of convDw8
// computes: as many as keep the band's padded input rows, (rows-1)·SH +
// (KH-1)·DH + 1 of them at Wp pixels of 8 channels, within bytes, at
// least one and at most OH. The band's input, its transposed copy and
// its output then stay in the first cache levels instead of making
// three passes over a plane of 8 channels.
func dw8BandRows(g *ConvGeom, bytes int) int {
	if bytes <= 0 {
		bytes = 32 << 10
	}
	wp := g.W + g.PadL + g.PadR
	in := bytes / (wp * 8 * 4)
	rows := (in-(g.KH-1)*g.DH-1)/g.SH + 1
	return max(1, min(rows, g.OH))
}

// Range computes blocks [lo, hi), each in bands of output rows.
func (t *dw8Task) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker computes units [lo, hi) in taker's buffers (takerHint).
func (t *dw8Task) RangeTaker(lo, hi, taker int) {
	g, f := t.g, t.f
	nb := CeilDiv(g.C, 8)
	wp := g.W + g.PadL + g.PadR
	taps := g.KH * g.KW
	hw, ohw := g.H*g.W, g.OH*g.OW
	rb := dw8BandRows(g, t.bl.Dw8Band)
	maxIn := (rb-1)*g.SH + (g.KH-1)*g.DH + 1
	// At strides 1 and 2 a row whose width would end in one-pixel steps
	// (OW mod 4 > 0) runs in whole steps of 8 pixels, the kernels' widest:
	// its nc - OW pixels past the row read the next rows or the slack
	// after xb and write the next row's place, which that row's call then
	// overwrites, or the slack after ob. MobileNetV2's 7×7 layers 74 → 60
	// µs, 14×14 69 → 64; a row ending in a four-pixel step (28) lost 5 %.
	nc := g.OW
	if g.SW <= 2 && g.OW%4 != 0 {
		nc = CeilDiv(g.OW, 8) * 8
	}
	hint := takerHint(t.hint, taker)
	buf := dw8Scratch.Get(hint)
	defer dw8Scratch.Put(hint, buf)
	// The last row's extra windows end (nc-OW)·SW pixels past the band.
	xb := buf.xb.Grow((maxIn*wp + (nc-g.OW)*g.SW) * 8)
	ob := buf.ob.Grow((rb*g.OW + nc - g.OW) * 8)
	wb := buf.wb.Grow(taps * 8)
	off := int32s(&buf.off, taps)
	// off[kh·KW + kw] = (kh·DH·Wp + kw·DW)·8
	for kh := range g.KH {
		for kw := range g.KW {
			off[kh*g.KW+kw] = int32((kh*g.DH*wp + kw*g.DW) * 8)
		}
	}
	fast := !f.hasPre()
	// An activation the kernel applies (a Relu or Clip without residual)
	// costs no pass over the band's output.
	var clip *float32
	if f != nil && f.Residual == nil {
		var ok bool
		if buf.clip, ok = kernelClip(f.Act); ok {
			clip = &buf.clip[0]
		}
	}
	for u := lo; u < hi; u++ {
		n, c0 := u/nb, u%nb*8
		cnt := min(8, g.C-c0)
		xs := t.x[(n*g.C+c0)*hw:]
		// wb[t·8 + c] = w[c0+c][t], bias[c] = b[c0+c]; 0 past C
		wb := wb
		if t.wp != nil {
			wb = t.wp[u%nb*taps*8 : (u%nb+1)*taps*8]
		} else {
			clear(wb)
			for c := range cnt {
				for tp := range taps {
					wb[tp*8+c] = t.w[(c0+c)*taps+tp]
				}
			}
		}
		buf.bias = [8]float32{}
		if t.b != nil {
			copy(buf.bias[:cnt], t.b[c0:c0+cnt])
		}
		ys := t.y[(n*g.C+c0)*ohw : (n*g.C+c0+cnt)*ohw]
		for oh0 := 0; oh0 < g.OH; oh0 += rb {
			nr := min(rb, g.OH-oh0)
			// the band reads padded rows [r0, r0+nin)
			r0, nin := oh0*g.SH, (nr-1)*g.SH+(g.KH-1)*g.DH+1
			xband := xb[:nin*wp*8]
			if fast && cnt == 8 {
				// the band's image rows with their padding columns in
				// one call, the rows outside the image cleared
				blockRows(t.bl, xband, t.x, g, n, c0, r0, r0+nin, wp)
			} else {
				t.fillBand(xband, xs, r0, nin, c0, cnt)
			}
			// row r's pixel ow reads its window from xb[(r·SH·Wp + ow·SW)·8:]
			_, _ = ob[(nr-1)*g.OW*8+nc*8-1], xb[(nr-1)*g.SH*wp*8]
			t.bl.Dw8(&ob[0], &xb[0], &off[0], &wb[0], taps, nc, g.SW*8, &buf.bias[0], clip, nr, g.OW*8, g.SH*wp*8)
			// y[n][c0+c][q] = act(ob[(q-oh0·OW)·8 + c] + Z) for the band's pixels q
			q0, nq := oh0*g.OW, nr*g.OW
			obb := ob[:nq*8]
			if f.hasPost() && f.Residual == nil && clip == nil {
				residualAct(t.k, obb, nil, f.Act)
			}
			t.bl.unpack(ys[q0:], ohw, obb, 8, cnt, nq)
			if f != nil && f.Residual != nil {
				for c := range cnt {
					at := (n*g.C+c0+c)*ohw + q0
					residualAct(t.k, t.y[at:at+nq], f.Residual[at:at+nq], f.Act)
				}
			}
		}
	}
}

// fillBand sets the band of xb that starts at padded row r0, nin rows of
// Wp pixels of cnt ≤ 8 channels from channel c0, from the planes at xs
// with the conv's prologue applied (0 in the padding and past cnt), as
// blockRows does without a prologue.
func (t *dw8Task) fillBand(xb, xs []float32, r0, nin, c0, cnt int) {
	g, f := t.g, t.f
	wp, hw := g.W+g.PadL+g.PadR, g.H*g.W
	clear(xb)
	for r := range nin {
		ih := r0 + r - g.PadT
		if ih < 0 || ih >= g.H {
			continue
		}
		row := xb[(r*wp+g.PadL)*8:]
		for c := range cnt {
			for iw, v := range xs[c*hw+ih*g.W : c*hw+(ih+1)*g.W] {
				if f.hasPre() {
					v = f.pre(c0+c, v)
				}
				row[iw*8+c] = v
			}
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

// gather8Rows computes dst[(j/w)·ldd + (j%w)·8 + i] = src[i·lds + j] for
// i < 8, j < n: gather8 into rows of w pixels ldd values apart, on the
// tier's Gather8Rows for whole vectors of j.
func (bl *blocked) gather8Rows(dst []float32, ldd int, src []float32, lds, n, w int) {
	if n <= 0 {
		return
	}
	_ = dst[(n-1)/w*ldd+(n-1)%w*8+7]
	_ = src[7*lds+n-1]
	nv := 0
	if bl.Gather8Rows != nil {
		nv = n &^ 7
		if nv > 0 {
			bl.Gather8Rows(&dst[0], &src[0], lds, nv, w, ldd)
		}
	}
	for j := nv; j < n; j++ {
		for i := range 8 {
			dst[j/w*ldd+j%w*8+i] = src[i*lds+j]
		}
	}
}

// block8Rows writes rows image rows of 8 planes lds values apart, w
// pixels a row from src on, into rows of dst with padl and padr zero
// pixels either side (ld = (padl + w + padr)·8 values a row):
//
//	dst[r·ld + (padl + j)·8 + i] = src[i·lds + r·w + j]   for r < rows, j < w, i < 8
//
// and 0 in the padding columns, on the tier's Block8Rows (one call for
// every row), else block8RowsGo.
func (bl *blocked) block8Rows(dst, src []float32, lds, rows, w, padl, padr int) {
	if rows <= 0 || w <= 0 {
		return
	}
	_ = dst[rows*(padl+w+padr)*8-1]
	_ = src[7*lds+rows*w-1]
	if bl.Block8Rows != nil {
		bl.Block8Rows(&dst[0], &src[0], lds, rows, w, padl, padr)
		return
	}
	block8RowsGo(dst, src, lds, rows, w, padl, padr)
}

// block8RowsGo is block8Rows's portable loop (the twin of the tiers'
// Block8Rows): the padding a pixel (8 values) a store, the pixels a value
// at a time.
func block8RowsGo(dst, src []float32, lds, rows, w, padl, padr int) {
	ld := (padl + w + padr) * 8
	for r := range rows {
		row := dst[r*ld : (r+1)*ld]
		zeroPixels(row[:padl*8])
		zeroPixels(row[(padl+w)*8:])
	}
	for r := range rows {
		for j := range w {
			for i := range 8 {
				dst[r*ld+(padl+j)*8+i] = src[i*lds+r*w+j]
			}
		}
	}
}

// gather8RowsAffine computes, for j < n and i < 8,
//
//	dst[j·ldd + i] = [max(0,] src[i·lds + j]·scale[i] + bias[i][)]
//
// rounded after the product and after the sum (as AffineRow), NaN and -0
// kept by the max: 8 rows of a pixel-major copy with a prologue, on the
// tier's Gather8RowsAffine for whole vectors of j.
func (bl *blocked) gather8RowsAffine(dst []float32, ldd int, src []float32, lds, n int, scale, bias []float32, relu bool) {
	if n <= 0 {
		return
	}
	_ = dst[(n-1)*ldd+7]
	_ = src[7*lds+n-1]
	_, _ = scale[7], bias[7]
	nv := 0
	if bl.Gather8RowsAffine != nil {
		nv = n &^ 7
		if nv > 0 {
			bl.Gather8RowsAffine(&dst[0], &src[0], lds, nv, ldd, &scale[0], &bias[0], flag(relu))
		}
	}
	gather8RowsAffineGo(dst, ldd, src, lds, nv, n, scale, bias, relu)
}

// gather8RowsAffineGo is gather8RowsAffine's portable loop for j in
// [j0, n).
func gather8RowsAffineGo(dst []float32, ldd int, src []float32, lds, j0, n int, scale, bias []float32, relu bool) {
	for j := j0; j < n; j++ {
		for i := range 8 {
			// the conversion rounds the product before the sum (no FMA)
			v := float32(src[i*lds+j]*scale[i]) + bias[i]
			if relu && v < 0 {
				v = 0 // NaN and -0 are kept
			}
			dst[j*ldd+i] = v
		}
	}
}

// unpack computes dst[c·ldd + q] = src[q·lds + c] for c < cnt, q < n: the
// first cnt channels of n pixels lds values apart back into planes, 8
// channels at a time on scatter8, the rest one by one.
func (bl *blocked) unpack(dst []float32, ldd int, src []float32, lds, cnt, n int) {
	c := 0
	for ; c+8 <= cnt; c += 8 {
		bl.scatter8(dst[c*ldd:], ldd, src[c:], lds, n)
	}
	for ; c < cnt; c++ {
		row := dst[c*ldd : c*ldd+n]
		for q := range row {
			row[q] = src[q*lds+c]
		}
	}
}

// gather16Rows computes dst[j·ldd + i] = src[i·lds + j] for i < 16, j < n
// (the pixel-major copy of 16 planes, a pixel's 16 values one line), on
// the tier's Gather16Rows for whole vectors of j; with scale (and bias),
// the prologue as gather8RowsAffine applies it. It reports false, doing
// nothing, on a tier without those kernels. Zen 5, one thread, hot
// (BenchmarkPixelMajorMoves, 1024 planes of 14×14): 0.63-0.76 of the
// time of blocks of 8 (gather8Rows).
func (bl *blocked) gather16Rows(dst []float32, ldd int, src []float32, lds, n int, scale, bias []float32, relu bool) bool {
	if bl.Gather16Rows == nil || scale != nil && bl.Gather16RowsAffine == nil {
		return false
	}
	if n <= 0 {
		return true
	}
	_ = dst[(n-1)*ldd+15]
	_ = src[15*lds+n-1]
	if scale != nil {
		_, _ = scale[15], bias[15]
	}
	nv := n &^ 15
	if nv > 0 {
		if scale != nil {
			bl.Gather16RowsAffine(&dst[0], &src[0], lds, nv, ldd, &scale[0], &bias[0], flag(relu))
		} else {
			bl.Gather16Rows(&dst[0], &src[0], lds, nv, ldd)
		}
	}
	if nv < n {
		gather16RowsGo(dst[nv*ldd:], ldd, src[nv:], lds, n-nv, scale, bias, relu)
	}
	return true
}

// gather16RowsGo is the portable twin of the tiers' Gather16Rows
// (scale nil) and Gather16RowsAffine:
//
//	dst[j·ldd + i] = [max(0,] src[i·lds + j][·scale[i] + bias[i]][)]
//
// for i < 16, j < n, the affine step rounded after the product and after
// the sum, NaN and -0 kept by the max.
func gather16RowsGo(dst []float32, ldd int, src []float32, lds, n int, scale, bias []float32, relu bool) {
	for j := range n {
		for i := range 16 {
			v := src[i*lds+j]
			if scale != nil {
				v = float32(v*scale[i]) + bias[i]
				if relu && v < 0 {
					v = 0
				}
			}
			dst[j*ldd+i] = v
		}
	}
}

// scatter16Epi computes, for i < 16 and j < n,
//
//	dst[i·ldd + j] = [max(0,] src[j·lds + i] [+ bias[i]] [+ resid[i·ldd + j]][)]
//
// each sum rounded (the max keeps NaN and -0): 16 channels of a
// pixel-major tile back into their planes with the epilogue that would
// otherwise take passes of its own over them (the bias where the kernels
// left it out, the residual and Relu), on the tier's Scatter16Epi for
// whole vectors of j. bias and resid may be nil. It reports false, doing
// nothing, on a tier without the kernel. Zen 5, one thread, hot
// (BenchmarkPixelMajorMoves, 1024 channels of 14×14 with bias, residual
// and Relu): 0.62-0.72 of the time of unpack, AffineRow and residualAct.
// In the networks, alternating runs
// (with gather16Rows), one thread / two: ResNeXt-50 0.99 / 0.99 of their
// time, ResNet-50 1.00 / 0.99, DenseNet-121 0.99 / 1.00.
func (bl *blocked) scatter16Epi(dst []float32, ldd int, src []float32, lds, n int, bias, resid []float32, relu bool) bool {
	if bl.Scatter16Epi == nil {
		return false
	}
	if n <= 0 {
		return true
	}
	_ = dst[15*ldd+n-1]
	_ = src[(n-1)*lds+15]
	var bp, rp *float32
	if bias != nil {
		_ = bias[15]
		bp = &bias[0]
	}
	if resid != nil {
		_ = resid[15*ldd+n-1]
		rp = &resid[0]
	}
	nv := n &^ 15
	if nv > 0 {
		bl.Scatter16Epi(&dst[0], ldd, &src[0], lds, nv, bp, rp, flag(relu))
	}
	if nv < n {
		if resid != nil {
			resid = resid[nv:]
		}
		scatter16EpiGo(dst[nv:], ldd, src[nv*lds:], lds, n-nv, bias, resid, relu)
	}
	return true
}

// scatter16EpiGo is the portable twin of the tiers' Scatter16Epi, the
// loop scatter16Epi's comment shows.
func scatter16EpiGo(dst []float32, ldd int, src []float32, lds, n int, bias, resid []float32, relu bool) {
	for i := range 16 {
		for j := range n {
			v := src[j*lds+i]
			if bias != nil {
				v += bias[i]
			}
			if resid != nil {
				v += resid[i*ldd+j]
			}
			if relu && v < 0 {
				v = 0
			}
			dst[i*ldd+j] = v
		}
	}
}

// scatter8 computes dst[i·ldd + j] = src[j·lds + i] for i < 8, j < n, on
// the tier's Scatter8 for whole vectors of j.
func (bl *blocked) scatter8(dst []float32, ldd int, src []float32, lds, n int) {
	if n <= 0 {
		return
	}
	src = src[:(n-1)*lds+8]
	_ = dst[7*ldd+n-1]
	nv := 0
	if bl.Scatter8 != nil {
		nv = n &^ 7
		if nv > 0 {
			bl.Scatter8(&dst[0], ldd, &src[0], lds, nv)
		}
	}
	for j := nv; j < n; j++ {
		for i := range 8 {
			dst[i*ldd+j] = src[j*lds+i]
		}
	}
}
