package kern

import (
	"math"
	"slices"
	"unsafe"
)

// The blocked tiers' convolution for small output planes, with output
// channels in the vectors. ResNet's 7×7 layers have 49 output pixels per
// channel: as the columns of the usual product (conv_inplace.go) they make
// three full panels and a fourth of one pixel, and padded 3×3 ones 63
// columns of which 14 are garbage, so a third of the work is wasted. Here
// the product is turned round: a tile is R output pixels × PixWidth output
// channels, the weights of PixWidth channels are the vectors (packed once,
// PixWidth channels a panel, see packPix) and each input value of a pixel
// is broadcast:
//
//	ct[q][j] = sum_p w[grp][jb][p][j] · src[boff[p] + pix[q]]
//
// for pixel q = oh·OW + ow, whose input sits at pix[q] = oh·Wq + ow in the
// phase planes that convInPlace reads (boff as there), and output channel
// jb·PixWidth + j of the group. Tiles take R pixels in a row, across output
// rows too, so only the last tile of a plane is short; no column is
// computed in vain. ct is pixel-major, so each unit ends by writing its
// channels' rows of y from it, with the bias, residual and activation.
//
// A unit is one image, group and block of PixWidth channels; it walks the
// depth in blocks of at most PixKC, so that both the block's weights
// (PixKC·PixWidth values) and the input lines its tiles read (about one a
// step, a plane apart) stay in L1 while every tile of pixels passes: on
// AVX2, ResNet-50's 7×7 layers ran at 57-67 GFLOP/s with blocks of 256
// steps, 77-84 with 64.

// PixKernel computes tiles of r output pixels × w output channels of a
// convolution (r and w fixed per kernel), tile t being pixels t·r to
// t·r+r-1, reading pixel i's input at src[boff[p]+pix[i]] and the
// channels' weights from a packed panel of k steps of w values:
//
//	s = sum_p w[p*w+j]·src[boff[p]+pix[i]] [+ c[i*ldc+j] if flags&1] [+ bias[j]]
//	c[i*ldc+j] = min(max(s, clip[0]), clip[1])   (s when clip is nil or s is NaN)
//
// for i < tiles·r, each product fused with its sum, each sum rounded
// once; clip's bounds are numbers, the lower not -0 and the upper not ±0
// (see clipBounds). With flags&pixPrefetch its first tile also fetches the
// k steps of weights after its own; with flags&pixSpread each tile fetches
// the next (flags>>8)&0xfff cache lines of them instead, from line
// flags>>20 on (see pixRun). With flags&pixBlk8, C lies in blocks of 8
// channels ldc values apart: each c[i*ldc+j] above is c[(j/8)*ldc + 8i +
// j%8] instead. One call runs a row of tiles (a call from Go costs about
// as much as 8 of a tile's steps).
type PixKernel func(k int, w, src *float32, pix, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int)

// PixRowKernel computes tiles of r consecutive pixels of one output row of
// a convolution with a 3-wide window at column stride sw (the kernel's)
// and dilation 1, on an input whose columns are 8 values apart (the
// blocked copy, blockedSource), each tile's PixWidth/2 channels (one
// vector) summed over rows window rows q:
//
//	c[i][j] = [c[i][j] +] Σ_{q<rows, x<3} src[boff[3q] + (i·sw + x)·8]·w[3q + x][j] [+ bias[j]]
//
// each product added with one rounding in the order of the steps 3q + x,
// as PixKernel adds them where boff[3q + x] = boff[3q] + 8x and pix[i] =
// i·sw·8 (so the two give the same values bit for bit); c rows are ldc
// apart, w's steps PixWidth, and the clip and flags&1 are PixKernel's
// (the other flags are ignored). Tile t reads its inputs t·r·sw·8 values
// on and writes rows t·r on.
type PixRowKernel func(rows int, w, src *float32, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int)

// PixRowGo returns the portable Go twin of an r-pixel PixRowKernel of w
// channels on panels of wld, at column stride sw.
func PixRowGo(r, sw, w, wld int) PixRowKernel {
	return func(rows int, wp, src *float32, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int) {
		if tiles <= 0 {
			return
		}
		n := tiles * r
		ws := unsafe.Slice(wp, max(1, 3*rows)*wld)
		offs := unsafe.Slice(boff, max(1, 3*rows))
		xs := unsafe.Slice(src, maxOffset(offs)+((n-1)*sw+2)*8+1)
		cs := unsafe.Slice(c, (n-1)*ldc+w)
		for i := range n {
			for j := range w {
				var s float32
				for q := range rows {
					for x := range 3 {
						s = fma32(xs[int(offs[3*q])+(i*sw+x)*8], ws[(3*q+x)*wld+j], s)
					}
				}
				cs[i*ldc+j] = pixEpilogue(s, cs[i*ldc+j], j, flags, bias, clip)
			}
		}
	}
}

// pixEpilogue is the pixel kernels' twins' end of a sum s of output
// channel j over C's old value c: [c +] s [+ bias[j]], clipped to clip's
// bounds unless NaN.
func pixEpilogue(s, c float32, j, flags int, bias, clip *float32) float32 {
	if flags&1 != 0 {
		s += c
	}
	if bias != nil {
		s += unsafe.Slice(bias, j+1)[j]
	}
	if clip != nil && s == s {
		cl := unsafe.Slice(clip, 2)
		s = min(max(s, cl[0]), cl[1])
	}
	return s
}

// pixPrefetch is the PixKernel flag that fetches the next k steps of
// weights into the cache while the kernel runs (no effect on its values).
const pixPrefetch = 2

// pixSpread is the PixKernel flag that spreads pixPrefetch's fetches over
// the call's tiles, flags>>8 & 0xfff lines a tile (a line every two
// steps), the first from line flags>>20 of the next k steps (no effect on
// the values either).
const pixSpread = 4

// pixBlk8 is the PixKernel flag that lays C out in blocks of 8 channels,
// ldc values from one block to the next, a pixel's 8 values of a block
// side by side (the grouped layers' blocked copy, see groupRowsTask):
// channel j of pixel i at c[(j/8)·ldc + 8i + j mod 8].
const pixBlk8 = 8

// pixSpreadFlags returns the flags with which tiles tiles fetch the k
// steps of wld weights after their own panel, from its first line on (a
// second call of pixRun's adds where it starts, flags>>20), or 0 where a
// tile would have more lines to fetch than pairs of steps (a single tile;
// the first tile then fetches all, pixPrefetch).
//
// Fetched all by the first tile, a 32 KB panel is 512 lines asked for in
// the time of one tile's 256 steps, far more than a core has in flight
// from memory, and that tile waits for them; spread over the tiles, none
// waits. The 1×1 layers of ResNet-50 at 14×14 and 7×7 read 1-4 MB of
// weights each from memory every Run: in the network they ran at 1.12-1.28
// times ONNX Runtime's time, alone and hot at about 0.9. Zen 5, alternating
// runs, one / two threads: ResNet-50 0.96 / 0.98 of its time, ResNet-18
// 0.95-0.96, RegNet-Y 800MF 0.93-0.95 / 0.90-0.98, MnasNet 0.95,
// ResNeXt-50 0.98 (two), EfficientNet-B0 0.97-0.98, DenseNet-121 0.99;
// AVX2 0.97-1.00.
func pixSpreadFlags(k, wld, tiles int) int {
	lines := CeilDiv(k*wld, 16) // 16 float32 a line
	q := CeilDiv(lines, max(1, tiles))
	if q > k/2 || q > 0xfff {
		return 0
	}
	return pixSpread | q<<8
}

// PixGo returns the portable Go twin of an r×w PixKernel.
func PixGo(r, w int) PixKernel { return PixGoOf(r, w, w) }

// PixGoOf returns the portable Go twin of an r×w PixKernel whose panel has
// steps of wld ≥ w weights, of which it reads the first w (the kernels of
// a last block of fewer channels, on the panels of the wider ones).
func PixGoOf(r, w, wld int) PixKernel {
	return func(k int, wp, src *float32, pix, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int) {
		if tiles <= 0 {
			return
		}
		n := tiles * r
		ws := unsafe.Slice(wp, k*wld)
		offs := unsafe.Slice(boff, k)
		px := unsafe.Slice(pix, n)
		xs := unsafe.Slice(src, maxOffset(offs)+maxOffset(px)+1)
		at := func(i, j int) int { return i*ldc + j }
		cs := unsafe.Slice(c, (n-1)*ldc+w)
		if flags&pixBlk8 != 0 {
			at = func(i, j int) int { return j/8*ldc + 8*i + j%8 }
			cs = unsafe.Slice(c, (w-1)/8*ldc+8*n)
		}
		for i := range n {
			for j := range w {
				var s float32
				for p := range k {
					s = fma32(xs[int(offs[p])+int(px[i])], ws[p*wld+j], s)
				}
				cs[at(i, j)] = pixEpilogue(s, cs[at(i, j)], j, flags, bias, clip)
			}
		}
	}
}

// pixRun computes n pixels with kerns (Pix or PixHalf, kerns[r-1] for
// tiles of r pixels, on panels of steps wld wide) in ceil(n/len(kerns))
// tiles of nearly equal size (see pixTiles), at most two calls: pixel q's
// offset is pix[q] and its row of C c[q·ldc:] (its values of the first
// block c[8q:] with pixBlk8). With flags&pixPrefetch the next k steps of
// weights are fetched a few lines a tile (pixSpreadFlags) or, where the
// tiles are too few, by the first call's first tile; the fetches a tile
// at a time start flags>>20 lines past the k steps (0: the steps right
// after them).
func pixRun(kerns []PixKernel, k, wld int, w, src *float32, pix []int32, boff *int32, c []float32, ldc, flags int, bias, clip *float32) {
	n := len(pix)
	if n == 0 {
		return
	}
	base, extra := pixTiles(n, len(kerns))
	tiles := CeilDiv(n, len(kerns))
	from := flags >> 20
	flags &= 1<<20 - 1
	spread := 0
	if flags&pixPrefetch != 0 {
		spread = pixSpreadFlags(k, wld, tiles)
	}
	if spread != 0 {
		flags = flags&^pixPrefetch | spread | from<<20
	}
	q := 0
	if extra > 0 {
		kerns[base](k, w, src, &pix[0], boff, &c[0], ldc, flags, bias, clip, extra)
		q = extra * (base + 1)
		flags &^= pixPrefetch
		if spread != 0 {
			// the second call's tiles fetch on from the first's last line
			flags = flags&^(^0<<20) | (from+extra*(spread>>8&0xfff))<<20
		}
	}
	if q < n {
		cq := q * ldc
		if flags&pixBlk8 != 0 {
			cq = 8 * q
		}
		kerns[base-1](k, w, src, &pix[q], boff, &c[cq], ldc, flags, bias, clip, (n-q)/base)
	}
}

// pixKernels returns the pixel-tile kernels for a block of cnt channels
// and how many channels they compute: PixHalf's when the tier has them and
// cnt is at most half PixWidth (ResNeXt's, MobileNet's 24 channels are a
// block and a half), else Pix.
func (bl *blocked) pixKernels(cnt int) ([]PixKernel, int) {
	if len(bl.PixHalf) > 0 && 2*cnt <= bl.PixWidth {
		return bl.PixHalf, bl.PixWidth / 2
	}
	return bl.Pix, bl.PixWidth
}

// pixOK reports whether conv takes the pixel-tile path for g: a tier with
// pixel kernels, a geometry the in-place path takes, and an output plane of
// at most PixMaxPixels pixels, or (PixStrided) a strided window wider than
// 1×1 over at least 8 input channels a group, whose phase planes leave
// the other path garbage columns (not the stem's 3 channels), or
// (PixGrouped) a grouped convolution with at least PixWidth input and
// output channels a group, or with PixMajor whole blocks of 8 input
// channels and at least 8 output channels a group, whose products are too
// short for the other path's row blocks (ResNeXt-50's 8 channels a group,
// 28×28, one thread: 45 → 60 GFLOP/s).
func (bl *blocked) pixOK(g *ConvGeom) bool {
	cg, mg := g.C/g.Group, g.M/g.Group
	small := g.OH*g.OW <= bl.PixMaxPixels || bl.pixNarrow(g) || bl.pixMajorWide(g) ||
		bl.PixStrided && g.KH*g.KW > 1 && g.SH*g.SW > 1 && cg >= 8 ||
		bl.PixGrouped && g.Group > 1 && (cg >= bl.PixWidth && mg >= bl.PixWidth ||
			bl.PixMajor && cg%8 == 0 && mg >= 8)
	return len(bl.Pix) > 0 && small && bl.inPlaceOK(g)
}

// pixNarrow reports whether g is a window wider than 1×1 with at most
// PixWidth output channels a group (one block of the pixel-tile path) on
// a plane of at most PixNarrowMaxPixels outputs: DenseNet's 128 → 32
// channel 3×3 layers at 14×14, whose Winograd products (16 tiles, 32
// rows) are too small to pay for the transforms and whose direct
// product has only 4 row groups (Zen 5, one thread, in the network: 106
// µs with Winograd, 78 as pixel tiles, ONNX Runtime 80).
func (bl *blocked) pixNarrow(g *ConvGeom) bool {
	return g.KH*g.KW > 1 && g.M/g.Group <= bl.PixWidth && g.OH*g.OW <= bl.PixNarrowMaxPixels
}

// packPix is packConv for the pixel-tile path: per group, per block of
// PixWidth output channels jb, the depth-major panel
//
//	out[((grp·nb + jb)·K + p)·PixWidth + j] = w[grp·Mg + jb·PixWidth + j][p]
//
// (0 for channels past Mg), K = Cg·KH·KW, nb = ceil(Mg / PixWidth).
func (bl *blocked) packPix(g *ConvGeom, w []float32) []float32 {
	out := keptFloats(bl.pixPackLen(g))
	bl.packPixInto(out, g, w)
	return out
}

// pixPackLen is the length of packPix's result.
func (bl *blocked) pixPackLen(g *ConvGeom) int {
	mg, k, nr := g.M/g.Group, g.C/g.Group*g.KH*g.KW, bl.PixWidth
	return g.Group * CeilDiv(mg, nr) * k * nr
}

// packPixInto is packPix into out.
func (bl *blocked) packPixInto(out []float32, g *ConvGeom, w []float32) {
	mg, k, nr := g.M/g.Group, g.C/g.Group*g.KH*g.KW, bl.PixWidth
	nb := CeilDiv(mg, nr)
	for grp := range g.Group {
		for jb := range nb {
			pan := out[(grp*nb+jb)*k*nr : (grp*nb+jb+1)*k*nr]
			for j := range nr {
				m := jb*nr + j
				if m >= mg {
					for p := range k {
						pan[p*nr+j] = 0
					}
					continue
				}
				row := w[(grp*mg+m)*k : (grp*mg+m+1)*k]
				for p, v := range row {
					pan[p*nr+j] = v
				}
			}
		}
	}
}

// convPix is blocked.conv for geometries pixOK accepts.
func (bl *blocked) convPix(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	k := g.C / g.Group * g.KH * g.KW
	sc := bl.scratch.Get(hintOf(env))
	defer bl.scratch.Put(hintOf(env), sc)
	pixIn, pixOut := f != nil && f.PixIn, f != nil && f.PixOut
	// Each pixel has its own offset, so a stride is only a step of pix:
	// the source is the padded input (the phase copy of g at stride 1, one
	// phase), or x itself when it needs no padding or prologue. A strided
	// layer then costs one copy of rows, not a pick per phase and row
	// (RegNet's and ResNeXt's grouped 3×3 stride 2: 26 → 48 GFLOP/s).
	// A strided 1×1 window reads one phase: its copy is the input
	// subsampled (see phasesOf), each pixel one step apart.
	g1 := &sc.g1
	*g1 = *g
	sh, sw := g.SH, g.SW
	if g.KH*g.KW > 1 {
		g1.SH, g1.SW = 1, 1
	} else {
		sh, sw = 1, 1
	}
	npix := g.OH * g.OW
	// boff[p]: where row p of B starts in the source, pix[q]: where
	// output pixel q reads it; from bl.tables, made once per layout
	var boff, pix []int32
	tables := func(path offsetPath, a, b int, fill func(boff, pix []int32)) {
		t := bl.tables.get(offsetKey{path: path, g: *g, a: a, b: b}, k+npix, func(t []int32) { fill(t[:k], t[k:]) })
		boff, pix = t[:k], t[k:]
	}
	cg := g.C / g.Group
	var src []float32
	var imgStride, grpStride int
	// depth blocks: of PixKC steps in the planes, longer in the copies
	// laid out for the tiles (pixMajorDepth)
	kc := bl.pixMajorDepth(k)
	workers := ParOf(env).Workers()
	nb := CeilDiv(g.M/g.Group, bl.PixWidth)
	blocks := g.N * g.Group * nb
	parts := pixParts(blocks, npix, workers)
	var priv pixCopy // how each worker makes a copy for itself, if priv.n > 0
	splitK := 1      // runs of input channels (pixSplitK)
	bands := 0       // bands of output rows a group's unit copies for (pixBands)
	bandHr := 0      // the padded rows a band's copy holds, which boff counts on
	var mtK pixMajorTask
	rows := false // the row kernels (pixRows)
	if bl.pixBlocked(g, f.hasPre()) {
		rows = bl.pixRows(g)
		// the input in blocks of 8 channels, padded (see blockedSource):
		// boff[p] = ((c/8)·Hp·Wp + kh·DH·Wp + kw·DW)·8 + c mod 8 for
		// p = (c·KH + kh)·KW + kw, pix[q] = (oh·SH·Wp + ow·SW)·8
		hp, wq := g.H+g.PadT+g.PadB, g.W+g.PadL+g.PadR
		cb := CeilDiv(g.C, 8)
		if b := pixBands(g, workers); b > 0 {
			// each unit copies the rows of its group's blocks that its
			// band of output rows reads (pixBandTask): a plane of hr rows
			bands, parts = b, b
			bandHr = bandRows(g, b)
			hp = bandHr
		} else if pixPrivate(g, g.N*cb*hp*wq*8, workers, blocks*parts) {
			priv = pixCopy{n: g.N * cb * hp * wq * 8, bt: blockedTask{bl: bl, x: x, g: g, hp: hp, wq: wq}}
		} else {
			src, hp, wq = bl.blockedSource(env, g, x, sc)
		}
		boff, pix = bl.pixBlockedTables(g, hp, wq)
		imgStride, grpStride = CeilDiv(g.C, 8)*hp*wq*8, cg/8*hp*wq*8
		if bands > 0 {
			imgStride, grpStride = 0, 0 // a unit's copy holds its group's band alone
		}
	} else if pixIn {
		// a pixel-major input (convPixLayout): x as it lies, a pixel's
		// channels a row; boff[p] = p, pix[q] = (oh·SH·W + ow·SW)·C
		src = x
		if f.hasPre() {
			// (unstrided) with the prologue applied a row at a time
			src = sc.qp.Grow(len(x))
			prologueRows(env, src, x, g.C, f)
		}
		tables(offsPixIn, 0, 0, func(boff, pix []int32) {
			for p := range boff {
				boff[p] = int32(p)
			}
			for oh := range g.OH {
				for ow := range g.OW {
					pix[oh*g.OW+ow] = int32((oh*g.SH*g.W + ow*g.SW) * g.C)
				}
			}
		})
		imgStride, grpStride = g.H*g.W*g.C, cg
	} else if bl.pixStridedPoint(g, f.hasPre()) {
		// x's planes as they lie: boff[c] = c·H·W, pix[q] = oh·SH·W + ow·SW
		src = x
		tables(offsPixStrided, 0, 0, func(boff, pix []int32) {
			for c := range k {
				boff[c] = int32(c * g.H * g.W)
			}
			for oh := range g.OH {
				for ow := range g.OW {
					pix[oh*g.OW+ow] = int32(oh*g.SH*g.W + ow*g.SW)
				}
			}
		})
		imgStride, grpStride = g.C*g.H*g.W, cg*g.H*g.W
		kc = bl.depthBlock(k, bl.PixKC)
	} else {
		ph := phasesOf(g1)
		padded := g.PadT+g.PadB+g.PadL+g.PadR > 0
		// A prologue or a stride without padding is applied by the
		// pixel-major copy itself: a prologue alone as it gathers the
		// planes (gather8RowsAffine; DenseNet-121's BN+Relu before its
		// 1×1 layers at 14×14 and 7×7: the network 0.97 of its time on
		// one thread, 0.90-0.96 on two), a stride with phasePlanes a
		// channel at a time.
		inCopy := (f.hasPre() || g1.SH*g1.SW > 1) && !padded && bl.pixMajor(g)
		copyIn := !inCopy && (f.hasPre() || padded || g1.SH*g1.SW > 1)
		src = bl.inPlaceSource(env, g1, x, f, ph, sc, copyIn)
		if bl.pixMajor(g) {
			// A 1×1 window reads its compact source (x, or the phase copy
			// of a padded input) at one pixel a step;
			// copied pixel-major, a tile's inputs are its pixels' channels
			// in a row each: boff[p] = p, pix[q] = q·C.
			ld := pixMajorLd(g.C)
			mt := pixMajorTask{bl: bl, src: src, c: g.C, ld: ld, npix: npix, hint: hintOf(env)}
			switch {
			case inCopy && g1.SH*g1.SW == 1:
				// the prologue alone: on the gathered rows (pixMajorTask.pre)
				mt.pre, mt.f = true, f
			case inCopy:
				mt.phase, mt.k, mt.g, mt.f, mt.ph = true, TierOf(env), g1, f, ph
			}
			if sk := pixSplitK(g, workers); sk > 1 && !copyIn && !pixOut {
				splitK, mtK = sk, mt
			} else if pixPrivate(g, g.N*npix*ld, workers, blocks*parts) && !copyIn {
				priv = pixCopy{n: g.N * npix * ld, mt: mt}
			} else {
				src = bl.pixMajorSource(env, g, &mt, sc)
			}
			tables(offsPixMajor, 0, 0, func(boff, pix []int32) {
				for p := range boff {
					boff[p] = int32(p)
				}
				for q := range pix {
					pix[q] = int32(q * ld)
				}
			})
			imgStride, grpStride = npix*ld, cg
		} else {
			tables(offsPixPhase, 0, 0, func(boff, pix []int32) {
				inPlaceOffsets(g1, ph, boff)
				// pix[q] = oh·sh·Wq + ow·sw for q = oh·OW + ow
				for oh := range g.OH {
					for ow := range g.OW {
						pix[oh*g.OW+ow] = int32(oh*sh*ph.wq + ow*sw)
					}
				}
			})
			imgStride, grpStride = g.C*ph.plane, cg*ph.plane
			kc = bl.depthBlock(k, bl.PixKC)
		}
	}
	var wp []float32
	if env != nil {
		wp = env.PackedW
	}
	if wp == nil {
		wp = sc.wp.Grow(bl.pixPackLen(g))
		bl.packPixInto(wp, g, w)
	}
	pt := TaskOf[pixTask](env)
	*pt = pixTask{bl: bl, k: TierOf(env), g: g, f: f, wp: wp, b: b, y: y, src: src,
		boff: boff, pix: pix, ct: sc.yp.Grow(blocks * npix * bl.PixWidth), imgStride: imgStride, grpStride: grpStride, kc: kc,
		parts: parts, claim: parts == 1 && !pixOut && claimConv(workers, x, y, f), rows: rows && kc >= k, pixOut: pixOut, hint: hintOf(env)}
	if f.hasPost() && f.Residual == nil {
		// the activation is last: the kernels can apply it (see Range)
		pt.clip, pt.kclip = kernelClip(f.Act)
	}
	if pixOut && f.Residual != nil {
		// the residual and the activation after every unit: a pass over
		// y and Residual as they lie (see pixTask.run)
		defer residualRows(env, y, f.Residual, f.Act)
	}
	if splitK > 1 {
		bl.convPixSplitK(env, pt, &mtK, sc, splitK)
		*pt = pixTask{}
		return
	}
	if bands > 0 {
		pt.bands = true
		bt := TaskOf[pixBandTask](env)
		*bt = pixBandTask{pt: pt, x: x, hr: bandHr}
		runTask(env, g.N*g.Group*bands, bt)
		*pt = pixTask{}
		return
	}
	if priv.n > 0 {
		for len(sc.priv) < workers {
			sc.priv = append(sc.priv, GrowBuf{})
		}
		sc.privMade = slices.Grow(sc.privMade[:0], workers)[:workers]
		clear(sc.privMade)
		pc := TaskOf[pixCopy](env)
		*pc = priv
		pc.pt, pc.bufs, pc.made = pt, sc.priv[:workers], sc.privMade
		runTask(env, blocks*parts, pc)
		*pt = pixTask{}
		return
	}
	runTask(env, blocks*parts, pt)
}

// pixPrivateRatio bounds the private copies of pixPrivate: all of them
// together at most 1/pixPrivateRatio of the convolution's multiply-adds.
const pixPrivateRatio = 64

// pixPrivate reports whether the workers of convPix each make their own
// copy of g's input (copyLen values) and then compute the units they take
// from it (pixCopy), rather than share one copy (made over all workers,
// then read by all). A shared copy moves across cores twice: the workers
// write the parts of it they copy, every one then reads all of it for its
// output channels, and at the next call each overwrites lines the other
// read. On a 2-core Zen 5 a line that another core wrote costs several
// times a local one: ResNet's stride-2 3×3 128 → 128 from 56×56 took
// 949-1018 µs on two workers (1125 on one), most of it in the copy and in
// reading it. Each worker copying the whole input reads x once and then
// only its own lines: 574-606 µs; ResNet-18 and -50 4 % faster on two
// threads. The copies grow with the workers, so only while they stay a
// small part of the work (pixPrivateRatio); results are the same as with
// the shared copy, bit for bit.
func pixPrivate(g *ConvGeom, copyLen, workers, units int) bool {
	w := min(workers, units)
	return w > 1 && int64(copyLen)*int64(w)*pixPrivateRatio <= g.MACs()
}

// pixCopy runs convPix's units with private copies (pixPrivate): the
// first chunk a worker takes copies the whole input into that worker's
// buffer (blockedTask's copy, or pixMajorTask's where mt is set; both have
// a unit per image and 8 channels), and every chunk it takes computes its
// units from there. Any worker can so compute any unit, and one that
// finishes its own run takes over the rest of another's (a unit a block
// of output channels). With a unit of copying and then a fixed share of
// the product per worker, the faster worker waited out the other's last
// part: ResNet-18 on two Zen 5 vCPUs of different speeds, these loops
// 3.28-3.43 → 2.93-2.95 ms a Run, the workers idle in them 838-979 →
// 220-251 µs (level vCPUs: no change). Every copy is the same, so
// results do not depend on which worker computes a unit.
type pixCopy struct {
	pt   *pixTask
	bufs []GrowBuf // by taker
	made []bool    // by taker: bufs holds this call's copy
	bt   blockedTask
	mt   pixMajorTask
	n    int // values a copy holds
}

// Range runs units [lo, hi) as taker 0: for a Parallel that runs one chunk
// at a time (every Parallel runs it through RunChunk, see RangeTaker).
func (t *pixCopy) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker runs units [lo, hi) from taker's copy, made first when this
// is the taker's first chunk of the call.
func (t *pixCopy) RangeTaker(lo, hi, taker int) {
	if !t.made[taker] {
		g := t.pt.g
		units := g.N * CeilDiv(g.C, 8) // the copy's
		dst := t.bufs[taker].Grow(t.n)
		if t.mt.bl != nil {
			mt := t.mt
			mt.dst = dst
			mt.Range(0, units)
		} else {
			bt := t.bt
			bt.dst = dst
			bt.Range(0, units)
		}
		t.made[taker] = true
	}
	t.pt.run(lo, hi, t.bufs[taker][:t.n])
}

// pixPartMin is the fewest output pixels a part of pixParts gets: two
// tiles of the widest kernels.
const pixPartMin = 16

// pixParts returns into how many runs of pixels convPix cuts each block of
// output channels for workers: enough for two units a worker where the
// blocks are fewer (DenseNet's 32-channel 3×3 layers are one block, which
// left every worker but one idle), each at least pixPartMin pixels; 1 on
// one worker. The parts compute each output as the whole block does, so
// results do not depend on them.
func pixParts(blocks, npix, workers int) int {
	if workers < 2 || blocks >= 2*workers {
		return 1
	}
	return max(1, min(CeilDiv(2*workers, blocks), npix/pixPartMin))
}

// pixTask is convPix's product and epilogue: unit u is part u mod parts
// (of the output pixels: [q·npix/parts, (q+1)·npix/parts)) of image, group
// and channel block (b / nb / Group, b / nb mod Group, b mod nb) for
// b = u / parts.
type pixTask struct {
	bl                *blocked
	k                 *Tier
	g                 *ConvGeom
	f                 *ConvFusion
	wp, b, y, src, ct []float32
	boff, pix         []int32
	// imgStride, grpStride: where an image's and a group's inputs start in src
	imgStride, grpStride int
	kc                   int // steps a depth block

	kclip bool       // the last depth block applies f's activation as clip
	clip  [2]float32 // its bounds
	parts int        // runs of pixels a block is cut into (pixParts)
	// bands: the parts are bands of whole output rows, and src holds a
	// unit's group alone, its band's rows from the first (pixBandTask)
	bands bool
	claim bool // each unit clears its output planes first (ClaimLines)
	// rows: blocks of at most PixWidth/2 channels run on the row kernels
	// (pixRows; src the blocked copy, one depth block)
	rows bool
	// pixOut: y lies pixel-major (ConvFusion.PixOut): a unit's channels
	// go to its pixels' rows, M values apart, straight from the kernels
	// where the block is a kernel's width, and the residual comes after
	// every unit (residualRows)
	pixOut bool
	// ctLocal: ct is the worker's own, a unit's pixels from its first
	// value (a worker runs its units from a copy of the task; see
	// groupRowsTask), not the whole call's, unit after unit
	ctLocal bool
	hint    int // the scratch lists' (Env.Hint)
}

// Range computes units [lo, hi).
func (t *pixTask) Range(lo, hi int) { t.run(lo, hi, t.src) }

// run computes units [lo, hi) from the source src; it changes nothing in
// t, so workers with sources of their own share it (pixCopy).
func (t *pixTask) run(lo, hi int, src []float32) {
	bl, g, f := t.bl, t.g, t.f
	cg, mg := g.C/g.Group, g.M/g.Group
	k, nr := cg*g.KH*g.KW, bl.PixWidth
	nb := CeilDiv(mg, nr)
	npix := g.OH * g.OW
	kc := t.kc
	// The kernels of the last depth block add the bias and clip, where
	// the block's channels are the kernel's width (no read past b).
	var clip *float32
	if t.kclip {
		clip = &t.clip[0]
	}
	for u := lo; u < hi; u++ {
		ub, part := u/t.parts, u%t.parts
		q0, q1 := part*npix/t.parts, (part+1)*npix/t.parts
		pix := t.pix[q0:q1]
		if t.bands {
			q0, q1 = part*g.OH/t.parts*g.OW, (part+1)*g.OH/t.parts*g.OW
			pix = t.pix[:q1-q0] // the band's rows from src's first
		}
		jb, o := ub%nb, ub/nb
		n, grp := o/g.Group, o%g.Group
		pan := t.wp[(grp*nb+jb)*k*nr : (grp*nb+jb+1)*k*nr]
		xs := src[n*t.imgStride+grp*t.grpStride:]
		var ct []float32
		if t.ctLocal {
			ct = t.ct[:(q1-q0)*nr]
		} else {
			ct = t.ct[(ub*npix+q0)*nr : (ub*npix+q1)*nr]
		}
		m0, cnt := grp*mg+jb*nr, min(nr, mg-jb*nr)
		kerns, kw := bl.pixKernels(cnt)
		var bias *float32
		uclip := clip
		switch {
		case t.b == nil:
		case cnt == kw:
			bias = &t.b[m0]
		default:
			uclip = nil // the bias comes after the kernels, so the clip too
		}
		// ct[q][j] = sum_p pan[p][j]·xs[boff[p] + pix[q]], depth block by
		// block; the first tile fetches the next block's weights. A
		// pixel-major y of a block the kernels' width takes the sums
		// straight: y[n][q][m0 + j], rows M apart, with the bias and the
		// clip where the kernels apply them.
		dst, ldc := ct, nr
		direct := t.pixOut && cnt == kw
		if direct {
			dst, ldc = t.y[(n*npix+q0)*g.M+m0:], g.M
		}
		for kb := 0; kb < k; kb += kc {
			kl := min(kc, k-kb)
			kbias, kclip := bias, uclip
			if kb+kl < k {
				kbias, kclip = nil, nil
			}
			if t.rows && 2*kw == nr {
				// one depth block (pixRows): kl is k, its window rows k/3
				pixRowRun(bl.PixRow[g.SW-1], kl/3, &pan[0], xs, pix, q0, g.OW, &t.boff[0], dst, ldc, kbias, kclip)
				continue
			}
			pixRun(kerns, kl, nr, &pan[kb*nr], &xs[0], pix, &t.boff[kb], dst, ldc, flag(kb > 0)|pixPrefetch, kbias, kclip)
		}
		if direct {
			if f.hasPost() && f.Residual == nil && uclip == nil {
				for q := range q1 - q0 {
					residualAct(t.k, dst[q*g.M:q*g.M+cnt], nil, f.Act)
				}
			}
			continue
		}
		lateBias := t.b != nil && bias == nil
		post := f.hasPost() && uclip == nil
		if t.pixOut {
			// y[n][q][m] = ct[q][j] [+ b[m]], then the activation unless a
			// residual comes after every unit, for m = m0 + j < m0 + cnt
			for q := range q1 - q0 {
				row := t.y[(n*npix+q0+q)*g.M+m0 : (n*npix+q0+q)*g.M+m0+cnt]
				copy(row, ct[q*nr:q*nr+cnt])
				if lateBias {
					AddRow(t.k, row, row, t.b[m0:m0+cnt], false)
				}
				if post && f.Residual == nil {
					residualAct(t.k, row, nil, f.Act)
				}
			}
			continue
		}
		// y[n][m][q] = act(ct[q][j] + b[m] + Z[n][m][q]) for m = grp·Mg + jb·nr + j
		// and the part's pixels q: the channels out of ct's pixels 8 at
		// a time, then the bias (1·v + b[m] is v + b[m] rounded once)
		ys := t.y[(n*g.M+m0)*npix : (n*g.M+m0+cnt)*npix]
		if t.claim {
			ClaimLines(ys) // the unit's cnt planes, whole (parts is 1)
		}
		if cnt%16 == 0 && bl.Scatter16Epi != nil && (!post || f.Act.Kind == ActRelu || f.Act.Kind == ActNone) {
			// the channels out of ct 16 at a time, with the bias the
			// kernels left out, the residual and the Relu on the way
			// (one pass over the unit's planes instead of up to three)
			var z []float32
			if post && f.Residual != nil {
				z = f.Residual[(n*g.M+m0)*npix : (n*g.M+m0+cnt)*npix]
			}
			for c := 0; c < cnt; c += 16 {
				var bs, zs []float32
				if lateBias {
					bs = t.b[m0+c : m0+c+16]
				}
				if z != nil {
					zs = z[c*npix+q0:]
				}
				bl.scatter16Epi(ys[c*npix+q0:], npix, ct[c:], nr, q1-q0, bs, zs, post && f.Act.Kind == ActRelu)
			}
			continue
		}
		bl.unpack(ys[q0:], npix, ct, nr, cnt, q1-q0)
		if lateBias {
			for j := range cnt {
				yr := ys[j*npix+q0 : j*npix+q1]
				AffineRow(t.k, yr, yr, 1, t.b[m0+j], false)
			}
		}
		if post {
			var z []float32
			if f.Residual != nil {
				z = f.Residual[(n*g.M+m0)*npix : (n*g.M+m0+cnt)*npix]
			}
			if t.parts == 1 {
				// the unit's channels are one run of cnt·npix values
				residualAct(t.k, ys, z, f.Act)
				continue
			}
			for j := range cnt {
				var zr []float32
				if z != nil {
					zr = z[j*npix+q0 : j*npix+q1]
				}
				residualAct(t.k, ys[j*npix+q0:j*npix+q1], zr, f.Act)
			}
		}
	}
}

// pixBlockedTables returns the offset tables of convPix's blocked path
// (pixBlocked) for g on a copy of padded planes of hp rows of wq pixels,
// from bl.tables (made once per layout):
//
//	boff[p] = ((c/8)·hp·wq + kh·DH·wq + kw·DW)·8 + c mod 8   for p = (c·KH + kh)·KW + kw
//	pix[q]  = (oh·SH·wq + ow·SW)·8                            for q = oh·OW + ow
func (bl *blocked) pixBlockedTables(g *ConvGeom, hp, wq int) (boff, pix []int32) {
	k, npix := g.C/g.Group*g.KH*g.KW, g.OH*g.OW
	t := bl.tables.get(offsetKey{path: offsPixBlocked, g: *g, a: hp, b: wq}, k+npix, func(t []int32) {
		boff, pix := t[:k], t[k:]
		p := 0
		for c := range g.C / g.Group {
			for kh := range g.KH {
				for kw := range g.KW {
					boff[p] = int32((c/8*hp*wq+kh*g.DH*wq+kw*g.DW)*8 + c%8)
					p++
				}
			}
		}
		for oh := range g.OH {
			for ow := range g.OW {
				pix[oh*g.OW+ow] = int32((oh*g.SH*wq + ow*g.SW) * 8)
			}
		}
	})
	return t[:k], t[k:]
}

// pixRows reports whether convPix's blocked path (pixBlocked) runs g's
// blocks of at most PixWidth/2 output channels on the tier's row kernels
// (PixRow): a window 3 wide, undilated, at column stride 1 or 2, where
// the depth is one block (see pixTask). RegNet's groups of 16 channels
// on the half-width pixel kernels load an input value for every
// multiply-add; the row kernels broadcast each input column once for
// all three of its taps. Results are the same bit for bit. Zen 5, one
// thread, alone and hot: RegNet-Y 800MF's grouped layers 64 channels
// stride 2 from 112×112 104-108 → 130 GFLOP/s, 144 stride 2 from 56×56
// 120 → 145, 144 at 28×28 137-147 → 170-176, 320 at 14×14 135 → 163-165,
// 784 at 7×7 118-121 → 118-126 (the row kernels alone near the FMA
// units' rate; the copy into blocks and the scatter into planes are most
// of the rest). In the network, alternating runs: RegNet-Y 0.98-0.99 of
// its time on one thread, 0.95-0.96 on two, at batch 8 0.98-0.99 and
// 0.97-0.98; ResNeXt-50 (groups of 16 in its third stage) 1.00.
func (bl *blocked) pixRows(g *ConvGeom) bool {
	return len(bl.PixRow[0]) > 0 && len(bl.PixRow[1]) > 0 && g.KW == 3 && g.DW == 1 && (g.SW == 1 || g.SW == 2)
}

// pixRowRun computes output pixels [q0, q0+len(pix)) of a plane ow wide
// with kerns (PixRow[SW-1], kerns[r-1] for r pixels) over rows window
// rows: pix[i] is pixel q0+i's offset in xs, its row of C c[i·ldc:]. The
// pixels of each output row are cut into tiles as pixRun cuts them
// (pixTiles), at most two calls a row.
func pixRowRun(kerns []PixRowKernel, rows int, w *float32, xs []float32, pix []int32, q0, ow int, boff *int32, c []float32, ldc int, bias, clip *float32) {
	for i := 0; i < len(pix); {
		n := min(len(pix)-i, ow-(q0+i)%ow) // the rest of pixel q0+i's row
		base, extra := pixTiles(n, len(kerns))
		at := i
		if extra > 0 {
			kerns[base](rows, w, &xs[pix[at]], boff, &c[at*ldc], ldc, 0, bias, clip, extra)
			at += extra * (base + 1)
		}
		if at < i+n {
			kerns[base-1](rows, w, &xs[pix[at]], boff, &c[at*ldc], ldc, 0, bias, clip, (i+n-at)/base)
		}
		i += n
	}
}

// pixTiles cuts n pixels into ceil(n/rmax) tiles of nearly equal size:
// the first extra tiles have base+1 pixels, the others base. A short last
// tile (one pixel of ResNet's 49) would run a kernel whose loads outnumber
// its multiply-adds.
func pixTiles(n, rmax int) (base, extra int) {
	nt := CeilDiv(n, rmax)
	return n / nt, n % nt
}

// pixMajor reports whether convPix copies g's input pixel-major: a 1×1
// window on a plane of at most PixMaxPixels outputs, on a tier with
// PixMajor. Read in planes, a tile's 6 pixels of a step are one cache line
// per input channel, so a block of steps keeps its lines in L1 only for
// 64 or so channels, and the accumulators go to memory once a block;
// pixel-major, a tile reads its own pixels' channels, 6 rows of K
// values, in depth blocks as long as the product's (pixMajorDepth), the
// last adding the bias and clip in the kernel (ResNet-50's and
// MobileNetV2's 7×7 layers on AVX2, one thread: 784→784 78 → 87 GFLOP/s,
// 160→960 71 → 79, 512→2048 77 → 85; at 14×14 planes, on the in-place
// path, it measured no faster).
func (bl *blocked) pixMajor(g *ConvGeom) bool {
	return bl.PixMajor && g.KH*g.KW == 1 && (g.OH*g.OW <= bl.PixMaxPixels || bl.pixMajorWide(g))
}

// pixStridedPoint reports whether convPix reads g's input in place, its
// planes as they lie: a strided 1×1 window without padding or prologue
// (pre), the downsampling projections of ResNet, ResNeXt and RegNet. Each
// pixel's offset carries the stride, so a tile's step reads a line or two
// of one plane, and no copy is made: pixel-major, the subsampled input was
// gathered first, by each worker whole (pixPrivate) on two. Zen 5, in the
// network, two threads: RegNet-Y 800MF's 144 → 320 from 28×28 126-130 →
// 97-98 µs, 320 → 784 from 14×14 135-163 → 113-119, ResNet-50's 512 →
// 1024 from 28×28 780 → 684; one thread about the same (alone and hot:
// 144 → 320 188-236 → 148-160, the others within 4 %). The networks,
// alternating runs: RegNet-Y 0.98-1.00 of their time, ResNet-50 0.99-1.00,
// ResNeXt-50 0.99-1.00, AVX2 the same.
func (bl *blocked) pixStridedPoint(g *ConvGeom, pre bool) bool {
	return g.KH*g.KW == 1 && g.SH*g.SW > 1 && g.PadT+g.PadB+g.PadL+g.PadR == 0 && !pre
}

// pixMajorWidePixels and pixMajorWideChannels bound pixMajorWide.
const (
	pixMajorWidePixels   = 196
	pixMajorWideChannels = 256
)

// pixMajorWide reports whether an ungrouped 1×1 window on a plane of more
// than PixMaxPixels but at most pixMajorWidePixels outputs (14×14) runs
// pixel-major too: where C or M is at least pixMajorWideChannels. The
// in-place product cuts 196 columns into 4 panels of 48 and one of 4;
// pixel-major, a tile's inputs are a few lines per step, wherever the
// plane's rows fall; its copy is one pass (pixMajorLd) and, on a few
// workers, each worker's own (pixPrivate). Zen 5, alternating runs,
// one / two threads: ResNet-50 0.97-0.98 / 0.96-1.0 of its time,
// ResNeXt-50 0.96-0.97 / 0.96-0.98, RegNet-Y 800MF 0.96 / 0.99,
// EfficientNet-B0 0.88-0.92 / 0.93 (its 14×14 expansions with SiLU in
// depthwise blocks 0.63-0.65), DenseNet-121 0.99 / 0.94-0.97, AVX2 0.97
// to 0.99; MobileNetV2, V3, MnasNet and ShuffleNet V2 0.99-1.01.
// ShuffleNet V2's 116 → 116 layers, narrower, were 17 % slower this way.
func (bl *blocked) pixMajorWide(g *ConvGeom) bool {
	return bl.PixMajor && g.KH*g.KW == 1 && g.Group == 1 && g.OH*g.OW <= pixMajorWidePixels &&
		max(g.C, g.M) >= pixMajorWideChannels
}

// pixMajorDepth is the depth block of the pixel-major and blocked paths
// for a depth of k: blocks of nearly equal length, at most 256 steps, the
// blocked product's KC. A chain of multiply-adds grows its rounding error
// with its length: on a 2048→512 7×7 layer against float64 sums the
// largest error was 1.6e-5 in blocks of 64, 2.1e-5 of 256, 5.2e-5 of
// 1024; blocks of 256 ran as fast as the whole depth and 2-10 % faster
// than blocks of 64. An Accurate tier takes accurateDepth's blocks.
func (bl *blocked) pixMajorDepth(k int) int { return bl.depthBlock(k, 256) }

// pixMajorSource returns mt's source (N images of C planes, the source of
// a 1×1 window: compact, or with mt.phase picked and prologued as
// phasePlanes does, src' below) copied pixel-major into sc.qp, a pixel's
// channels Ld = pixMajorLd(C) values apart:
//
//	xt[(n·OH·OW + q)·Ld + c] = src'[(n·C + c)·OH·OW + q]
func (bl *blocked) pixMajorSource(env *Env, g *ConvGeom, mt *pixMajorTask, sc *bigBufs) []float32 {
	xt := sc.qp.Grow(g.N * mt.npix * mt.ld)
	pt := TaskOf[pixMajorTask](env)
	*pt = *mt
	pt.dst = xt
	runTask(env, g.N*CeilDiv(g.C, 8), pt)
	return xt
}

// pixMajorTask is pixMajorSource's copy: unit u is image u / ceil(C/8)
// and its channels 8·(u mod ceil(C/8)) on, 8 at a time.
type pixMajorTask struct {
	bl          *blocked
	dst, src    []float32
	c, ld, npix int // channels, their stride in dst, pixels
	// phase makes the copy read each channel's plane as phasePlanes
	// makes it for the unpadded 1×1 geometry g (tier k, layout ph,
	// fusion f): f's prologue applied, a stride's pixels picked.
	phase bool
	// pre applies f's prologue as the copy gathers the planes instead
	// (gather8RowsAffine):
	//
	//	xt[q][c] = [max(0,] src[c][q]·PreScale[c] + PreBias[c][)]
	//
	// rounded after the product and after the sum as AffineRow rounds,
	// so with the values phase gives, for an unstrided copy, without
	// phase's pass over each plane into scratch before the gather.
	pre  bool
	f    *ConvFusion
	g    *ConvGeom
	k    *Tier
	ph   phaseGeom
	hint int // the scratch lists' (Env.Hint)
}

// pixMajorLd is how many values apart pixMajorSource puts the pixels of
// C channels: C rounded up to 16, plus 16 where that is a multiple of 128.
// The copy writes a few channels of every pixel in turn; at a stride of
// 512 bytes or a multiple of it, the pixels' lines fall into 8 or fewer
// of L1's 64 sets and evict each other before they are filled (ResNet-50's
// 2048 → 512 1×1 on 7×7, one thread: the copy 88 → 17 µs, the layer
// 580 → 500).
func pixMajorLd(c int) int {
	ld := CeilDiv(c, 16) * 16
	if ld%128 == 0 {
		ld += 16
	}
	return ld
}

// Range copies units [lo, hi).
func (t *pixMajorTask) Range(lo, hi int) {
	cb := CeilDiv(t.c, 8)
	var pre []float32 // a block of planes as phasePlanes makes them
	if t.phase {
		buf := t.bl.bufs.Get(t.hint)
		defer t.bl.bufs.Put(t.hint, buf)
		pre = buf.phase.Grow(8 * t.npix)
	}
	for u := lo; u < hi; u++ {
		n, c0 := u/cb, u%cb*8
		dst := t.dst[n*t.npix*t.ld:]
		hw := t.npix // a source plane's values
		if t.phase {
			hw = t.g.H * t.g.W
		}
		src := t.src[(n*t.c+c0)*hw:]
		nc := min(8, t.c-c0)
		if t.phase {
			// src' = the block's planes as phasePlanes makes them
			for i := range nc {
				p := pre[i*t.npix : (i+1)*t.npix]
				phasePlanes(t.k, p, src[i*hw:(i+1)*hw], t.g, t.ph, t.f, c0+i)
			}
			src = pre[:nc*t.npix]
		}
		if nc == 8 && !t.phase && c0%16 == 0 && c0+16 <= t.c && u+1 < hi {
			// this unit's channels and the next's, 16 a pixel's line
			var sc, bi []float32
			if t.pre {
				sc, bi = t.f.PreScale[c0:c0+16], t.f.PreBias[c0:c0+16]
			}
			if t.bl.gather16Rows(dst[c0:], t.ld, src, t.npix, t.npix, sc, bi, t.pre && t.f.PreAct.Kind == ActRelu) {
				u++
				continue
			}
		}
		switch {
		case nc == 8 && t.pre:
			// dst[q·Ld + c0 + i] = [max(0,] src[(c0 + i)·npix + q]·PreScale[c0 + i] + PreBias[c0 + i][)]
			t.bl.gather8RowsAffine(dst[c0:], t.ld, src, t.npix, t.npix, t.f.PreScale[c0:c0+8], t.f.PreBias[c0:c0+8], t.f.PreAct.Kind == ActRelu)
		case nc == 8:
			// dst[q·Ld + c0 + i] = src'[(c0 + i)·npix + q]
			t.bl.gather8Rows(dst[c0:], t.ld, src, t.npix, t.npix, 1)
		default:
			for i := range nc {
				for q, v := range src[i*t.npix : (i+1)*t.npix] {
					if t.pre {
						v = float32(v*t.f.PreScale[c0+i]) + t.f.PreBias[c0+i] // no FMA: as AffineRow
						if t.f.PreAct.Kind == ActRelu && v < 0 {
							v = 0
						}
					}
					dst[q*t.ld+c0+i] = v
				}
			}
		}
	}
}

// pixBands returns into how many bands of output rows convPix cuts each
// group of a convolution on the 8-channel-block path (pixBlocked), each
// band's unit copying the rows of its group's blocks that it reads into
// its worker's scratch and computing every output channel of the group
// for them (pixBandTask), or 0 where the whole input is copied first
// (blockedSource, pixCopy). Bands are added, up to 4 or one a worker and
// each at least 2 rows, while the units would deal unevenly to the
// workers (RegNet's 9 groups to 2 workers: 5 and 4).
//
// Grouped convolutions take bands always: a group's input is read by
// that group's units alone, so the copy moves to the core that reads it,
// in pieces that stay in its cache, and the wait between the copy and the
// product goes. An ungrouped one takes them where its input's copy is at
// least pixBandCopyRatio times its weights, which every band reads whole
// (ResNet-50's 128 → 128 stride 2 from 56×56, but not its 256 → 256
// from 28×28, whose 2.4 MB of weights the output channels' split reads
// once).
//
// Zen 5, in the network, two threads / one: RegNet-Y 800MF's grouped
// layers 129-525 → 113-449 µs / 145-848 → 136-653 (its stride-2 ones
// 390-408 → 226-239 / 439 → 330); alternating against the binary before,
// RegNet-Y 0.93-0.94 of its time / 0.97, ResNeXt-50 0.98-0.99 / 0.97-0.98,
// ResNet-18 0.98 / 0.99-1.00 (ResNet-50's 128 → 128 stride 2 875-888 →
// 820-823 µs on two threads, the network within noise).
func pixBands(g *ConvGeom, workers int) int {
	copyLen := CeilDiv(g.C, 8) * 8 * (g.H + g.PadT + g.PadB) * (g.W + g.PadL + g.PadR)
	if g.Group < 2 && copyLen < pixBandCopyRatio*g.M*g.C*g.KH*g.KW {
		return 0
	}
	b := 1
	for b < max(4, workers) && g.OH/(b+1) >= 2 {
		units := g.N * g.Group * b
		if CeilDiv(units, workers)*workers*10 <= units*11 {
			break
		}
		b++
	}
	return b
}

// pixBandCopyRatio is how many times its weights an ungrouped
// convolution's padded input at least holds for pixBands.
const pixBandCopyRatio = 2

// bandInput returns the rows [r0, r1) of the padded input that band b
// of bands bands of g's output rows (rows [b·OH/bands, (b+1)·OH/bands))
// reads.
func bandInput(g *ConvGeom, b, bands int) (r0, r1 int) {
	oh0, oh1 := b*g.OH/bands, (b+1)*g.OH/bands
	return oh0 * g.SH, min((oh1-1)*g.SH+(g.KH-1)*g.DH+1, g.H+g.PadT+g.PadB)
}

// bandRows is how many rows of the padded input the tallest of bands
// bands of g's output rows reads.
func bandRows(g *ConvGeom, bands int) int {
	r := 0
	for b := range bands {
		oh0, oh1 := b*g.OH/bands, (b+1)*g.OH/bands
		r = max(r, (oh1-1-oh0)*g.SH+(g.KH-1)*g.DH+1)
	}
	return r
}

// pixBandTask runs convPix's product in bands (pixBands): unit u is image
// u / (G·bands), group u / bands mod G, band u mod bands of output rows
// [b·OH/bands, (b+1)·OH/bands). It copies the group's blocks of 8
// channels, padded, for the band's rows into its worker's scratch, hr
// rows a block,
//
//	xb[((c/8·hr + ih + PadT - r0)·Wp + PadL + iw)·8 + c mod 8] = x[n][grp·Cg + c][ih][iw]
//
// for the padded rows r0 = oh0·SH on, and computes every block of the
// group's output channels for the band from it, so the copy is made by
// the core that reads it, in pieces that stay in its cache, with no wait
// between the copy and the product.
type pixBandTask struct {
	pt *pixTask
	x  []float32
	hr int
}

// Range runs units [lo, hi).
func (t *pixBandTask) Range(lo, hi int) {
	pt := t.pt
	g, bl := pt.g, pt.bl
	cg := g.C / g.Group
	nb := CeilDiv(g.M/g.Group, bl.PixWidth)
	bands := pt.parts
	wq := g.W + g.PadL + g.PadR
	buf := bl.bufs.Get(pt.hint)
	defer bl.bufs.Put(pt.hint, buf)
	cbn := CeilDiv(cg, 8) // blocks a group (8 channels each but the last)
	xb := buf.band.Grow(cbn * t.hr * wq * 8)
	for u := lo; u < hi; u++ {
		b, o := u%bands, u/bands
		n, grp := o/g.Group, o%g.Group
		r0, r1 := bandInput(g, b, bands)
		for cb := range cbn {
			blockRows(bl, xb[cb*t.hr*wq*8:(cb+1)*t.hr*wq*8], t.x, g, n, grp*cg+cb*8, r0, r1, wq)
		}
		for jb := range nb {
			ub := (o*nb + jb) * bands
			pt.run(ub+b, ub+b+1, xb)
		}
	}
}

// pixBlocked reports whether convPix reads g's input from a padded copy in
// blocks of 8 channels (blockedSource): a window wider than 1×1 without a
// prologue, on a tier with PixMajor, each group whole blocks. A tile of 6
// pixels then reads, per block of channels, a few lines of each window
// row (a stride is only a longer step of pix, with no phase copy), so its
// depth blocks can be 256 steps long (pixMajorDepth), the last adding the
// bias and clip in the kernels; in the padded planes a tile reads one line
// per channel and step, which held only blocks of 64 steps in L1. One
// thread on AVX2: RegNet's grouped 3×3 (16 channels a group) 14×14 63 → 85
// GFLOP/s, 7×7 49 → 75, stride 2 from 28×28 52 → 71 and from 14×14
// 36 → 63; ResNeXt's (32 a group) 14×14 63 → 85; ResNet's 512 3×3 on 7×7
// 84 → 90 and strided 3×3 +2 to +12 %. RegNet-Y 800MF 6 % faster.
func (bl *blocked) pixBlocked(g *ConvGeom, pre bool) bool {
	hp, wq := g.H+g.PadT+g.PadB, g.W+g.PadL+g.PadR
	return bl.PixMajor && g.KH*g.KW > 1 && !pre && (g.Group == 1 || g.C/g.Group%8 == 0) &&
		int64(CeilDiv(g.C, 8))*8*int64(hp)*int64(wq) < math.MaxInt32
}

// blockedSource returns x (N images of C planes H×W) copied into sc.qp in
// blocks of 8 channels, each block a padded plane of Hp×Wp pixels of 8
// values (0 in the padding and past the last channel), and Hp, Wp:
//
//	xb[((n·CB + c/8)·Hp + PadT + ih)·Wp + PadL + iw)·8 + c mod 8] = x[n][c][ih][iw]
//
// with CB = ceil(C/8).
func (bl *blocked) blockedSource(env *Env, g *ConvGeom, x []float32, sc *bigBufs) ([]float32, int, int) {
	hp, wq := g.H+g.PadT+g.PadB, g.W+g.PadL+g.PadR
	cb := CeilDiv(g.C, 8)
	xb := sc.qp.Grow(g.N * cb * hp * wq * 8)
	bt := TaskOf[blockedTask](env)
	*bt = blockedTask{bl: bl, dst: xb, x: x, g: g, hp: hp, wq: wq}
	runTask(env, g.N*cb, bt)
	return xb, hp, wq
}

// blockedTask is blockedSource's copy: unit u is image u / CB, block u mod CB.
type blockedTask struct {
	bl     *blocked
	dst, x []float32
	g      *ConvGeom
	hp, wq int
}

// Range copies units [lo, hi).
func (t *blockedTask) Range(lo, hi int) {
	cb := CeilDiv(t.g.C, 8)
	for u := lo; u < hi; u++ {
		n, b := u/cb, u%cb
		blockRows(t.bl, t.dst[u*t.hp*t.wq*8:(u+1)*t.hp*t.wq*8], t.x, t.g, n, b*8, 0, t.hp, t.wq)
	}
}

// blockRows writes rows [r0, r1) of the padded plane of image n's block of
// 8 channels from c0 (blockedSource's layout, Wp = wq values a row) to d,
// row r0 first: the input's rows where they fall, 0 in the padding and
// in channels past C.
func blockRows(bl *blocked, d, x []float32, g *ConvGeom, n, c0, r0, r1, wq int) {
	hw := g.H * g.W
	blockRowsFrom(bl, d, x[n*g.C*hw:], hw, 0, g, c0, r0, r1, wq)
}

// blockRowsFrom is blockRows on an image whose rows lie in src from row
// base on: row ih of channel c at src[c·plane + (ih - base)·W], for the
// rows of [base, H) that the padded rows [r0, r1) hold.
func blockRowsFrom(bl *blocked, d, src []float32, plane, base int, g *ConvGeom, c0, r0, r1, wq int) {
	// the input rows ih in [i0, i1) fall in the band; the rest is padding
	i0, i1 := max(r0-g.PadT, 0), min(r1-g.PadT, g.H)
	if i1 <= i0 {
		clear(d[:(r1-r0)*wq*8])
		return
	}
	clear(d[:(i0+g.PadT-r0)*wq*8])
	clear(d[(i1+g.PadT-r0)*wq*8 : (r1-r0)*wq*8])
	xs := src[c0*plane+(i0-base)*g.W:]
	if c0+8 <= g.C {
		// the rows with their padding columns in one call, the tail of a
		// run not a multiple of 8 pixels too (BenchmarkGroupedConvs, one
		// thread, Zen 4: RegNet's 784 stride 2 from 14×14 134.7-139.2 →
		// 128.5-128.6 µs, 784 at 7×7 116.5-121.4 → 114.4-114.9, 320 at
		// 14×14 179.7-187.9 → 176.3-178.5, the rest within noise)
		bl.block8Rows(d[(i0+g.PadT-r0)*wq*8:], xs, plane, i1-i0, g.W, g.PadL, wq-g.PadL-g.W)
		return
	}
	for ih := i0; ih < i1; ih++ {
		row := d[(ih+g.PadT-r0)*wq*8 : (ih+g.PadT-r0+1)*wq*8]
		zeroPixels(row[:g.PadL*8])
		zeroPixels(row[(g.PadL+g.W)*8:])
	}
	for ih := i0; ih < i1; ih++ {
		for iw := range g.W {
			o := ((ih+g.PadT-r0)*wq + g.PadL + iw) * 8
			for i := range 8 {
				v := float32(0)
				if c0+i < g.C {
					v = xs[i*plane+(ih-i0)*g.W+iw]
				}
				d[o+i] = v
			}
		}
	}
}

// zeroPixels clears s, a run of whole pixels of 8 values, a pixel a
// store.
func zeroPixels(s []float32) {
	for ; len(s) >= 8; s = s[8:] {
		*(*[8]float32)(s) = [8]float32{}
	}
}

// residualRows computes y = act(y + z) over y and z as they lie (a
// pixel-major convolution's residual, see pixTask.pixOut), on env's
// workers in runs of whole cache lines.
func residualRows(env *Env, y, z []float32, act Activation) {
	t := TaskOf[residualTask](env)
	*t = residualTask{k: TierOf(env), y: y, z: z, act: act, units: passUnits(env, len(y))}
	runTask(env, t.units, t)
}

// passUnits is how many units a pass over n values (residualRows,
// prologueRows) takes on env's workers: 4 a worker, each at least 4096
// values, and at least 1.
func passUnits(env *Env, n int) int {
	return max(1, min(4*ParOf(env).Workers(), n/4096))
}

// residualTask is residualRows' loop: unit u is its u-th run of y.
type residualTask struct {
	k     *Tier
	y, z  []float32
	act   Activation
	units int
}

// Range computes units [lo, hi).
func (t *residualTask) Range(lo, hi int) {
	n := len(t.y)
	at := func(u int) int {
		if u == t.units {
			return n
		}
		return u * n / t.units &^ 15
	}
	for u := lo; u < hi; u++ {
		a, b := at(u), at(u+1)
		residualAct(t.k, t.y[a:b], t.z[a:b], t.act)
	}
}

// convPixLayout is the tier's Tier.ConvPixLayout: a 1×1 window that
// convPix computes over a pixel-major copy of its input (pixMajor) or
// reads in place (pixStridedPoint) writes y (and takes the residual)
// pixel-major, its kernels' rows M values apart, with no scatter into
// planes; unpadded (and unstrided on the copy's path) it reads x
// pixel-major as it lies, a pixel's channels a row, with no copy at all,
// or with a prologue (a squeeze-excitation gate) a copy made a row at a
// time (prologueRows), not gathered from planes. A wider window on the
// blocked copy (pixBlocked) whose depth is one block writes y so too
// (RegNet-Y's grouped 3×3 layers: 320 channels at 14×14, one thread, hot,
// 105 → 97 µs), but reads x in planes only: its copy into blocks of 8
// channels from a pixel-major x, 32 bytes a pixel, took 117 µs where the
// gather from 8 planes takes 105; and with more depth blocks the kernels
// add into y's rows again and again (ResNet-18's 512 → 512 at 7×7 1.09
// → 1.13 ms, rows 2 KiB apart).
func (bl *blocked) convPixLayout(g *ConvGeom, pre bool) (in, out bool) {
	if bl.pathOf(g, pre) != pathPix {
		return false, false
	}
	if bl.pixBlocked(g, pre) {
		// one depth block: the kernels write each row of y once
		k := g.C / g.Group * g.KH * g.KW
		return false, bl.pixMajorDepth(k) >= k
	}
	if g.KH*g.KW != 1 || !bl.pixStridedPoint(g, pre) && !bl.pixMajor(g) {
		return false, false
	}
	in = g.PadT+g.PadB+g.PadL+g.PadR == 0 && (bl.pixStridedPoint(g, pre) || g.SH*g.SW == 1)
	return in, true
}

// prologueRows computes a convolution's prologue over a pixel-major
// input of c channels, a pixel's row at a time, on env's workers:
//
//	dst[r·c + j] = PreAct(x[r·c + j]·PreScale[j] + PreBias[j])
//
// the product and the sum each rounded, as AffineRow and the gathers from
// planes (gather8RowsAffine) round them.
func prologueRows(env *Env, dst, x []float32, c int, f *ConvFusion) {
	rows := len(x) / c
	t := TaskOf[prologueTask](env)
	*t = prologueTask{k: TierOf(env), dst: dst, x: x, c: c, f: f, rows: rows,
		units: passUnits(env, len(x))}
	runTask(env, t.units, t)
}

// prologueTask is prologueRows' loop: unit u is its u-th run of rows.
type prologueTask struct {
	k              *Tier
	dst, x         []float32
	f              *ConvFusion
	c, rows, units int
}

// Range computes units [lo, hi).
func (t *prologueTask) Range(lo, hi int) {
	relu := t.f.PreAct.Kind == ActRelu
	for r := lo * t.rows / t.units; r < hi*t.rows/t.units; r++ {
		d := t.dst[r*t.c : (r+1)*t.c]
		mulRow(t.k, d, t.x[r*t.c:(r+1)*t.c], t.f.PreScale)
		AddRow(t.k, d, d, t.f.PreBias, relu)
	}
}
