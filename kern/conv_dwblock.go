package kern

import "math"

// A depthwise convolution with the 1×1 convolutions around it in one pass:
// MobileNet's, MnasNet's and EfficientNet's inverted residual blocks,
//
//	e = actE(We·x + be)            expand, C0 → C1 channels (optional)
//	d = actD(dw(e) + bd)           depthwise, C1 channels
//	y = act(Wp·d + bp + z)         project, C1 → C2 channels (optional)
//
// Layer by layer, e (six times x's channels) goes out to memory and comes
// back, and the depthwise layer transposes it into pixels of 8 channels
// and its output back into planes (conv_dw8.go). Here a worker takes a
// run of output rows of one image and walks it in bands; for each band it
//
//   - computes the rows of e the band's windows read with the pixel-tile
//     kernels (conv_pix.go), straight into a channel-blocked buffer with
//     the padding columns, eb channels a pixel (eb = PixWidth),
//
//     eb[blk][r][PadL + iw][j] = actE(be[blk·eb + j] + Σ_c We[blk·eb + j][c]·x[c][ih][iw]),
//
//     keeping the rows the next band shares with this one (a rolling
//     window: no row of e is computed twice within a run); without an
//     expansion, e is x gathered into blocks of 8 channels;
//   - runs the depthwise kernel on each part of db channels of those
//     blocks into d, blocks of db channels, pixel-major: d[c/db][q][c%db]
//     (db = 16 on a tier with Dw16, whose vectors hold a part of e's
//     pixels of 32 channels; else DwRow8's 8);
//   - runs the pixel-tile kernels on d, whose offsets describe that layout
//     (pix[q] = db·q, boff[c] = (c/db)·ld + c%db), and writes y's planes with
//     the bias, residual and activation; without a projection, d's blocks
//     are written to y's planes.
//
// So e and d live in the cache for one band, and no layer's input is
// transposed: the expansion's pixel tiles write channel blocks directly.
// On planes of 14×14 and smaller (dwBlockSmall) an image is one band, and
// e is made and read a block of channels at a time, its interior only.
// ONNX Runtime keeps every tensor in such blocks (NCHWc) but runs the
// three layers one after the other through memory.

// DwBlock describes a depthwise convolution (GD: Group = C = M) with an
// optional 1×1 convolution before it (GE, when Expand: stride 1, no
// padding, one group, GE.M = GD.C) and one after it (GP, when Project:
// likewise, GP.C = GD.M), for Tier.DwBlock:
//
//	y = act(Wp·actD(dw(actE(We·x + BE), WD) + BD) + BP + Z)
//
// The weights are as Tier.PackDwBlock arranged them; biases may be nil;
// Fusion, the projection's residual Z and activation, may be nil and is
// not used without a projection. For Tier.DwRows the middle layer GD may
// also be a grouped convolution of several channels a group (grouped).
type DwBlock struct {
	Expand, Project bool
	GE, GD, GP      ConvGeom
	WE, WD, WP      []float32
	BE, BD, BP      []float32
	// PE and PP are the 1×1 layers' weights as PackConv packs them (PE
	// as PackDwBlock does where Tier.DwRowsPix says so), or nil, and PD a
	// grouped middle layer's (which DwRows reads alone): for Tier.DwRows
	// only.
	PE, PD, PP []float32
	ActE, ActD Activation
	Fusion     *ConvFusion
}

// grouped reports whether p's middle layer is a grouped convolution of
// more than one channel a group rather than a depthwise one.
func (p *DwBlock) grouped() bool { return p.GD.Group > 0 && p.GD.C/p.GD.Group > 1 }

// dwBlockOK is the tier's Tier.DwBlockOK: the depthwise kernel of
// eight channels can run p.GD, the tier has pixel-tile kernels whose width is a
// multiple of 8, the 1×1 convolutions fit the depthwise one, and either
// the block runs image by image on small planes (dwBlockSmall), or split
// by channels among the workers there (dwBlockSplit), or the depthwise
// layer's input plane has at least DwBlockMinPixels pixels and the pass
// pays on workers workers (dwBlockPays).
func (bl *blocked) dwBlockOK(p *DwBlock, workers int) bool {
	gd := &p.GD
	if !bl.dw8Geom(gd) || len(bl.Pix) == 0 || bl.PixWidth%8 != 0 || !p.Expand && !p.Project {
		return false
	}
	if !dwBlockSmall(p, workers) && !bl.dwBlockSplit(p, workers) &&
		(gd.H*gd.W < bl.DwBlockMinPixels || !bl.dwBlockPays(p, workers)) {
		return false
	}
	pointwise := func(g *ConvGeom) bool {
		return g.Group == 1 && g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 &&
			g.PadT+g.PadB+g.PadL+g.PadR == 0 && g.OH == g.H && g.OW == g.W && g.N == gd.N
	}
	if p.Expand {
		ge := &p.GE
		if !pointwise(ge) || ge.M != gd.C || ge.H != gd.H || ge.W != gd.W ||
			int64(ge.C)*int64(ge.H)*int64(ge.W) >= 1<<31-1 {
			return false
		}
	}
	if p.Project {
		gp := &p.GP
		if !pointwise(gp) || gp.C != gd.M || gp.H != gd.OH || gp.W != gd.OW {
			return false
		}
	}
	return true
}

// dwBlockSmall reports whether p runs in one pass image by image on
// planes too small for bands (dwBlockLayout's small mode): at most
// dwBlockSmallPixels outputs a plane (14×14), an expansion and a
// projection, and at least as many images as workers, each worker taking
// whole images. An image's e is made and read one block of channels at a
// time, only its interior computed (a row's W pixels a call), so it
// stays in L1 between the expansion and the depthwise layer, and d
// (blocks of 16 channels, pixel-major) is the projection's input as it
// lies: layer by layer the expansion scatters e into planes, the
// depthwise kernel reads 7 or 14 of a vector's 16 lanes a row, and the
// projection gathers d back into pixels. Alone and hot (Zen 5, one
// thread) MnasNet's 192 → 1152 → 192 5×5 block at 7×7 takes 0.91 of the
// layers' time, 96 → 576 → 96 at 14×14 0.91-1.01; in the networks,
// alternating runs, batch 8: MnasNet 0.93-0.96 of its time on one
// thread and 0.93-0.94 on two, MobileNetV2 0.93-0.95 and 0.93; batch 1
// on one thread MnasNet 0.95-0.97, MobileNetV2 0.94; ShuffleNetV2
// (whose branches fold into such blocks, its batch kept whole) 0.97 and
// 0.89-0.92 at batch 8, 0.84-0.96 at batch 1 on one thread;
// MobileNetV3-Large 0.96-1.05 (most of its blocks gate before the
// projection). Planes up to 28×28 measured 0.97-1.04 against this
// bound; on two workers and one image, the image's blocks of channels
// cut among the workers and then the projection's panels, 1.06-1.07. The
// bands' mode computes the padding columns too (a 7×7 plane with a 5×5
// window is 11 pixels a row) in bands of one row for such wide blocks,
// 1.4-1.6 times the layers' time.
func dwBlockSmall(p *DwBlock, workers int) bool {
	return dwBlockSmallPlanes(p) && p.GD.N >= workers
}

// dwBlockSmallPlanes reports whether p has an expansion and a projection
// and at most dwBlockSmallPixels outputs a plane, which dwBlockSmall and
// dwBlockSplit run in one pass.
func dwBlockSmallPlanes(p *DwBlock) bool {
	return p.Expand && p.Project && p.GD.OH*p.GD.OW <= dwBlockSmallPixels
}

// dwBlockSmallPixels bounds dwBlockSmall.
const dwBlockSmallPixels = 196

// dwBlockSplit reports whether p runs in one pass on small planes with
// fewer images than workers (a batch of one on two threads), its image's
// channels split among them: where dwBlockSmall would but for the
// images, and e has at least dwBlockSplitBlocks blocks a worker. Each
// unit is a run of e's blocks of an image, which it expands and convolves
// depthwise block by block, as the small mode does, then multiplies into
// its own partial sums of the projection (its channels' share of every
// output channel, splitKProduct); a second loop adds the units' sums in
// order and writes y with the bias, residual and activation (as
// pixSplitK's does for a 1×1 layer).
// So e and d never leave the core that made them; what crosses is the
// partial sums, the size of y. Layer by layer, each of the three layers
// is cut among the workers its own way, and each reads what the other
// core wrote (MnasNet's 14×14 blocks took 1.1-1.2 times as long in all
// on two workers as on one). The sums are added in the order of the
// runs, so the result depends on the worker count, and is the same for
// a given count, run after run. Zen 4, batch 1, two threads, the
// binaries alternating round by round: with the vCPUs behind one cache
// (a line's round trip 60-80 ns) MnasNet 0.97-1.00 of its time,
// MobileNetV2 0.97-0.98, MobileNetV3 0.99-1.00, ShuffleNetV2 1.00-1.01;
// behind two (340-370 ns), where these networks took 1.25-1.8 times as
// long (the ResNets 1.0-1.14), MobileNetV3 0.96-0.99, ShuffleNetV2
// 0.96-0.99, MobileNetV2 0.96-1.00.
func (bl *blocked) dwBlockSplit(p *DwBlock, workers int) bool {
	gd := &p.GD
	return dwBlockSmallPlanes(p) && gd.N < workers &&
		CeilDiv(gd.C, bl.PixWidth) >= dwBlockSplitBlocks*CeilDiv(workers, gd.N)
}

// dwBlockSplitBlocks is the fewest blocks of e's channels (PixWidth each)
// a run of dwBlockSplit takes. A run's share of the work goes by its
// blocks, the last often partial: ShuffleNetV2's 116-channel blocks at
// 14×14, two runs of two blocks (64 and 52 channels), took 1.05-1.09
// times as long as layer by layer on two threads, its 232-channel ones
// at 7×7 (four blocks a run) 0.92-0.97.
const dwBlockSplitBlocks = 4

// dwBlockPays reports whether one pass beats the layers one after the
// other for p on workers workers. On several, each worker's rows stay in
// its own cache through the three layers, where layer by layer every
// tensor is written by both cores and read across: always. On one, what
// one pass saves is the depthwise layer's input e going out to memory and
// back; where e fits in the core's level-2 cache (DwBlockL2) it does not
// leave it, and the layers' own kernels (depthwise on planes, 1×1 with
// pixels in the vectors) are faster than the band's pixel tiles. A block
// without an expansion saves less (its d alone) and pays a gather of x
// into blocks of 8 channels that the layers do not. On a Zen 5 (1 MiB),
// one worker, alternating runs: MnasNet's 24 → 72 → 24 blocks at 56×56
// 254 → 185 µs, its 32-channel block at 112×112 without expansion 284 →
// 243; MnasNet 0.95-0.98 of its time, MobileNetV3-Large 0.97,
// MobileNetV2 0.97-0.99 (its 144-channel e at 56×56, 1.8 MiB, keeps one
// pass), EfficientNet-B0 1.00. On two workers the same rule made them
// 1.02-1.06 slower.
func (bl *blocked) dwBlockPays(p *DwBlock, workers int) bool {
	if workers > 1 || bl.DwBlockL2 <= 0 {
		return true
	}
	gd := &p.GD
	return p.Expand && 4*int64(gd.C)*int64(gd.H)*int64(gd.W) >= int64(bl.DwBlockL2)
}

// packDwBlock is the tier's Tier.PackDwBlock: depthwise weights in
// blocks of 8 channels as packDw8 arranges them, and before those, on a
// tier with Dw16 (dw16Block), in blocks of 16 for a block with an
// expansion (dwWeights picks the part); 1×1 weights as packPix does.
func (bl *blocked) packDwBlock(g *ConvGeom, w []float32) []float32 {
	if g.Group == g.C && g.C/g.Group == 1 && g.M == g.C {
		if bl.dw16Block() {
			n16 := dwBlocksLen(g, 16)
			out := keptFloats(n16 + dwBlocksLen(g, 8))
			packDwBlocksInto(out[:n16], g, w, 16)
			packDwBlocksInto(out[n16:], g, w, 8)
			return out
		}
		return packDw8(g, w)
	}
	return bl.packPix(g, w)
}

// dw16Block reports whether the tier's Dw16 runs the depthwise layer of
// a DwBlock with an expansion, whose pixels of PixWidth channels then
// hold whole blocks of 16.
func (bl *blocked) dw16Block() bool { return bl.Dw16 != nil && bl.PixWidth%16 == 0 }

// dwWeights returns block cb's depthwise weights for blocks of l.db
// channels out of packDwBlock's packing: taps vectors of l.db.
func (bl *blocked) dwWeights(p *DwBlock, l *dwBlockGeom, cb int) []float32 {
	taps := p.GD.KH * p.GD.KW
	w := p.WD
	if l.db == 8 && bl.dw16Block() {
		w = w[CeilDiv(p.GD.C, 16)*taps*16:] // past the blocks of 16
	}
	return w[cb*taps*l.db : (cb+1)*taps*l.db]
}

// dwBlockGeom is the layout of one worker's buffers for a DwBlock.
type dwBlockGeom struct {
	eb, nbe int // e's block width (channels a pixel) and blocks
	db, nbd int // d's block width (channels a pixel: 8, or 16 on Dw16) and blocks
	wp      int // padded row width, pixels
	rb      int // output rows a band
	maxIn   int // padded rows of e a band reads
	erows   int // rows of e a block holds: maxIn and room to slide
	nc      int // pixels a depthwise row call computes (OW or more)
	le, ld  int // e's and d's block strides
	// small: one band of the whole image, e's padding columns not
	// computed (dwBlockSmall)
	small bool
}

// dwBlockLayout returns the buffers' layout for p: bands of output rows
// as many as keep e's rows and d within DwBlockBand bytes (0: 192 KiB),
// at least one; small (dwBlockSmall): one band of the whole image, e a
// block of channels.
func (bl *blocked) dwBlockLayout(p *DwBlock, small bool) dwBlockGeom {
	gd := &p.GD
	l := dwBlockGeom{eb: 8, db: 8, wp: gd.W + gd.PadL + gd.PadR}
	if p.Expand {
		// e's pixels of PixWidth channels hold whole blocks of d's
		l.eb, l.db = bl.PixWidth, 8
		if bl.dw16Block() {
			l.db = 16
		}
	}
	l.nbd = CeilDiv(gd.C, l.db)
	l.nbe = CeilDiv(gd.C, l.eb)
	budget := bl.DwBlockBand
	if budget <= 0 {
		budget = 192 << 10
	}
	if l.small = small; small {
		budget = math.MaxInt // the whole image a band
	}
	cpad := l.nbe * l.eb
	halo := (gd.KH-1)*gd.DH + 1
	rows := 1
	for rows < gd.OH {
		r := rows + 1
		bytes := 4 * cpad * (((r-1)*gd.SH + halo + 3*r*gd.SH) * l.wp)
		if p.Project {
			bytes += 4 * l.nbd * l.db * r * gd.OW
		}
		if bytes > budget {
			break
		}
		rows = r
	}
	l.rb = rows
	l.maxIn = (rows-1)*gd.SH + halo
	// Rows that would end in one-pixel steps run in whole steps of 8, as
	// in convDw8: the extra windows read past a band's last row (slack
	// after each block of e) and write past its last output row (slack
	// after each block of d).
	l.nc = gd.OW
	if gd.SW <= 2 && gd.OW%4 != 0 {
		l.nc = CeilDiv(gd.OW, 8) * 8
	}
	// e slides down its buffer band after band, and moves the rows the
	// next band shares back to the top only when it reaches the end.
	l.erows = l.maxIn + 3*rows*gd.SH
	if l.small {
		l.erows = l.maxIn // one band: nothing slides
	}
	l.le = (l.erows*l.wp + (l.nc-gd.OW)*gd.SW) * l.eb
	l.ld = (rows*gd.OW + l.nc - gd.OW) * l.db
	return l
}

// convDwBlock is the tier's Tier.DwBlock, for blocks dwBlockOK accepts.
func (bl *blocked) convDwBlock(env *Env, p *DwBlock, x, y []float32) {
	gd := &p.GD
	workers := ParOf(env).Workers()
	split := bl.dwBlockSplit(p, workers)
	l := bl.dwBlockLayout(p, split || dwBlockSmall(p, workers))
	// Runs of output rows: one an image when there are images enough
	// for the workers, else more, each costing its first band's shared
	// rows of e once more; split, runs of e's blocks instead.
	runs := 1
	if split {
		runs = CeilDiv(workers, gd.N)
	} else if gd.N < workers {
		runs = min(CeilDiv(workers, gd.N), CeilDiv(gd.OH, l.rb))
	}
	t := TaskOf[dwBlockTask](env)
	*t = dwBlockTask{bl: bl, k: TierOf(env), p: p, x: x, y: y, l: l, runs: runs, hint: hintOf(env)}
	if !split {
		runTask(env, gd.N*runs, t)
		return
	}
	sc := bl.scratch.Get(hintOf(env))
	defer bl.scratch.Put(hintOf(env), sc)
	units := gd.N * runs
	for len(sc.privCt) < units {
		sc.privCt = append(sc.privCt, GrowBuf{})
	}
	t.split, t.cts = true, sc.privCt[:units]
	runTask(env, units, t)
	// y[n][m][q] = act(Σ_run ct[n·runs + run][m/nr][q][m mod nr] + bp[m] + Z[n][m][q])
	pt := TaskOf[pixTask](env)
	*pt = pixTask{bl: bl, k: TierOf(env), g: &p.GP, f: p.Fusion, b: p.BP, y: y}
	st := TaskOf[pixSplitKTask](env)
	*st = pixSplitKTask{pt: pt, cts: sc.privCt[:units], runs: runs, add: true}
	runTask(env, gd.N*CeilDiv(p.GP.M, bl.PixWidth), st)
	*pt = pixTask{}
}

// dwBlockTask is convDwBlock's work: unit u is image u / runs, its run of
// output rows u mod runs of runs.
type dwBlockTask struct {
	bl   *blocked
	k    *Tier
	p    *DwBlock
	x, y []float32
	l    dwBlockGeom
	runs int
	hint int // the scratch lists' (Env.Hint)
	// split (dwBlockSplit): unit u is image u / runs and its run u mod
	// runs of e's blocks, whose part of the projection goes to cts[u]
	split bool
	cts   []GrowBuf
}

// dwBlockBufs is one worker's scratch for convDwBlock.
type dwBlockBufs struct {
	e, d, ct, be, bp    GrowBuf // be and bp: the 1×1 biases, whole blocks
	bias                [16]float32
	clipE, clipD, clipP [2]float32 // the kernels' clip bounds (kernelClip)
	off                 []int32    // depthwise taps
	pixE, boffE         []int32    // the expansion's pixel and depth offsets into x
	pixP, boffP         []int32    // the projection's into d
}

// dwBlockClips are the clip arguments of a DwBlock's kernels: nil where a
// layer's activation is not one a kernel applies.
type dwBlockClips struct{ e, d, p *float32 }

// paddedBias returns b (nil: zeros) copied into whole blocks of bw.
func paddedBias(g *GrowBuf, b []float32, n, bw int) []float32 {
	out := g.Grow(CeilDiv(n, bw) * bw)
	clear(out)
	copy(out, b)
	return out
}

// dwBlockScratch keeps dwBlockBufs for reuse.
var dwBlockScratch = FreeList[dwBlockBufs]{New: func() *dwBlockBufs { return new(dwBlockBufs) }}

// int32s returns n elements of *s, reallocating when it is shorter.
func int32s(s *[]int32, n int) []int32 {
	if cap(*s) < n {
		*s = make([]int32, n)
	}
	return (*s)[:n]
}

// Range computes units [lo, hi) as taker 0.
func (t *dwBlockTask) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker computes units [lo, hi) in taker's buffers (takerHint).
func (t *dwBlockTask) RangeTaker(lo, hi, taker int) {
	p, l := t.p, &t.l
	gd := &p.GD
	hint := takerHint(t.hint, taker)
	buf := dwBlockScratch.Get(hint)
	defer dwBlockScratch.Put(hint, buf)
	eBlocks := l.nbe
	if l.small {
		eBlocks = 1 // a block at a time
	}
	e := buf.e.Grow(eBlocks * l.le)
	taps := gd.KH * gd.KW
	off := int32s(&buf.off, taps)
	// off[kh·KW + kw] = (kh·DH·Wp + kw·DW)·eb
	for kh := range gd.KH {
		for kw := range gd.KW {
			off[kh*gd.KW+kw] = int32((kh*gd.DH*l.wp + kw*gd.DW) * l.eb)
		}
	}
	if p.Expand {
		ge := &p.GE
		if l.small {
			// a row's pixels alone: pixE[iw] = iw
			pix := int32s(&buf.pixE, ge.W)
			for i := range pix {
				pix[i] = int32(i)
			}
		} else {
			// Padded pixel (r, col) of a run of e's rows reads x's pixel
			// pixE[r·Wp + col] = r·W + col - PadL, clamped into the row:
			// the tiles run across rows, padding columns included, which
			// are then cleared (a row's tail tile would cost a whole one).
			pix := int32s(&buf.pixE, l.maxIn*l.wp)
			for i := range pix {
				r, col := i/l.wp, i%l.wp
				pix[i] = int32(r*ge.W + min(max(col-gd.PadL, 0), ge.W-1))
			}
		}
		boff := int32s(&buf.boffE, ge.C)
		for c := range boff {
			boff[c] = int32(c * ge.H * ge.W)
		}
		buf.be = paddedBias(&buf.be, p.BE, ge.M, l.eb)
	}
	var clips dwBlockClips
	var ok bool
	if buf.clipE, ok = kernelClip(p.ActE); ok {
		clips.e = &buf.clipE[0]
	}
	if buf.clipD, ok = kernelClip(p.ActD); ok {
		clips.d = &buf.clipD[0]
	}
	if buf.clipP, ok = kernelClip(p.Fusion.actOnly()); ok {
		clips.p = &buf.clipP[0]
	}
	var d []float32
	if p.Project {
		d = buf.d.Grow(l.nbd * l.ld)
		gp := &p.GP
		buf.ct = buf.ct.Grow(l.rb * gd.OW * t.bl.PixWidth)
		// pixel q of the band at pixP[q] = db·q, channel c at boffP[c] = (c/db)·ld + c%db
		pix := int32s(&buf.pixP, l.rb*gd.OW)
		for q := range pix {
			pix[q] = int32(q * l.db)
		}
		boff := int32s(&buf.boffP, gp.C)
		for c := range boff {
			boff[c] = int32(c/l.db*l.ld + c%l.db)
		}
		buf.bp = paddedBias(&buf.bp, p.BP, gp.M, t.bl.PixWidth)
	} else {
		d = buf.d.Grow(l.ld)
	}
	for u := lo; u < hi; u++ {
		if t.split {
			t.splitUnit(e, d, buf, clips, off, u)
			continue
		}
		n, run := u/t.runs, u%t.runs
		oa, ob := run*gd.OH/t.runs, (run+1)*gd.OH/t.runs
		// e's row at holds padded row hr0, and has rows up to padded row hr1
		at, hr0, hr1 := 0, 0, 0
		for oh0 := oa; oh0 < ob; oh0 += l.rb {
			nr := min(l.rb, ob-oh0)
			// the band reads padded rows [r0, r0+nin)
			r0, nin := oh0*gd.SH, (nr-1)*gd.SH+(gd.KH-1)*gd.DH+1
			if hr1 <= r0 {
				// nothing to keep: start at the top
				at, hr0, hr1 = 0, r0, r0
			} else if at+(r0+nin-hr0) > l.erows {
				// the rows the last band read too move to the top
				keep := hr1 - r0
				from := (at + r0 - hr0) * l.wp * l.eb
				for blk := range l.nbe {
					eblk := e[blk*l.le : (blk+1)*l.le]
					copy(eblk[:keep*l.wp*l.eb], eblk[from:from+keep*l.wp*l.eb])
				}
				at, hr0 = 0, r0
			}
			if l.small {
				// block by block: e's block stays in L1 from its
				// expansion to its depthwise layer
				for blk := range l.nbe {
					t.fillE(e, buf, clips.e, n, r0, 0, nin, blk, blk+1)
					t.depthwise(e, d, buf, clips.d, off, n, 0, oh0, nr, blk, blk+1)
				}
			} else {
				t.fillE(e, buf, clips.e, n, hr1, at+hr1-hr0, r0+nin-hr1, 0, l.nbe)
				hr1 = r0 + nin
				t.depthwise(e, d, buf, clips.d, off, n, at+r0-hr0, oh0, nr, 0, l.nbe)
			}
			if p.Project {
				t.project(d, buf, clips.p, n, oh0*gd.OW, nr*gd.OW)
			}
		}
	}
}

// splitUnit computes unit u of a split block (dwBlockSplit): image n's
// run of e's blocks [b0, b1), each expanded and convolved depthwise into
// d as the small mode does, then their channels' part of the projection
// into t.cts[u] (splitKProduct).
func (t *dwBlockTask) splitUnit(e, d []float32, buf *dwBlockBufs, clips dwBlockClips, off []int32, u int) {
	p, l, bl := t.p, &t.l, t.bl
	gd, gp := &p.GD, &p.GP
	n, run := u/t.runs, u%t.runs
	b0, b1 := run*l.nbe/t.runs, (run+1)*l.nbe/t.runs
	nin := (gd.OH-1)*gd.SH + (gd.KH-1)*gd.DH + 1
	for blk := b0; blk < b1; blk++ {
		t.fillE(e, buf, clips.e, n, 0, 0, nin, blk, blk+1)
		t.depthwise(e, d, buf, clips.d, off, n, 0, 0, gd.OH, blk, blk+1)
	}
	c0, c1 := b0*l.eb, min(b1*l.eb, gd.C)
	npix := gd.OH * gd.OW
	ct := t.cts[u].Grow(CeilDiv(gp.M, bl.PixWidth) * npix * bl.PixWidth)
	bl.splitKProduct(p.WP, gp.C, gp.M, c0, c1, bl.pixMajorDepth(c1-c0), d, buf.pixP[:npix], buf.boffP, ct)
}

// fillE sets rows [at, at+cnt) of e's blocks [b0, b1) (e holding block b0
// first) to padded rows r0.. of the depthwise layer's input: zero outside
// the image, else the expansion's output (or x's channels) between zero
// padding columns.
func (t *dwBlockTask) fillE(e []float32, buf *dwBlockBufs, clip *float32, n, r0, at, cnt, b0, b1 int) {
	p, l, bl := t.p, &t.l, t.bl
	gd := &p.GD
	if !p.Expand {
		for blk := range l.nbe {
			rows := e[blk*l.le+at*l.wp*8 : blk*l.le+(at+cnt)*l.wp*8]
			blockRows(bl, rows, t.x, gd, n, blk*8, r0, r0+cnt, l.wp)
		}
		return
	}
	ge := &p.GE
	eb, nr := l.eb, bl.PixWidth
	kc := bl.depthBlock(ge.C, bl.PixKC)
	if l.small {
		kc = bl.pixMajorDepth(ge.C) // a tile's pixels share each step's line
	}
	rowLen := l.wp * eb
	// the new rows [r0, r0+cnt) in the image: [ia, ib)
	ia, ib := max(r0, gd.PadT), min(r0+cnt, gd.PadT+gd.H)
	for blk := b0; blk < b1; blk++ {
		rows := e[(blk-b0)*l.le+at*rowLen : (blk-b0)*l.le+(at+cnt)*rowLen]
		if ib <= ia {
			clear(rows)
			continue
		}
		clear(rows[:(ia-r0)*rowLen])
		clear(rows[(ib-r0)*rowLen:])
		run := rows[(ia-r0)*rowLen : (ib-r0)*rowLen]
		nq := (ib - ia) * l.wp
		pan := p.WE[blk*ge.C*nr : (blk+1)*ge.C*nr]
		xs := t.x[(n*ge.C*ge.H+ia-gd.PadT)*ge.W:]
		// a last block of half as many channels leaves the other half
		// as it is: the depthwise layer does not read it
		kerns, _ := bl.pixKernels(ge.M - blk*eb)
		for kb := 0; kb < ge.C; kb += kc {
			kl := min(kc, ge.C-kb)
			var bias, cl *float32
			if kb+kl == ge.C {
				bias, cl = &buf.be[blk*eb], clip
			}
			if l.small {
				// each row's W pixels alone, into its columns past PadL:
				// run[r][PadL + iw][j] = ... x[c][ia-PadT+r][iw]
				// (the first row's tiles fetching the next steps' weights)
				for r := range ib - ia {
					pixRun(kerns, kl, nr, &pan[kb*nr], &xs[r*ge.W], buf.pixE[:ge.W], &buf.boffE[kb], run[(r*l.wp+gd.PadL)*eb:], eb, flag(kb > 0)|flag(r == 0)*pixPrefetch, bias, cl)
				}
				continue
			}
			// run[q][j] = [run[q][j] +] Σ_{c in block} pan[c][j]·x[c][ia-PadT+q/Wp][pixE[q]] [+ be[j], clipped]
			pixRun(kerns, kl, nr, &pan[kb*nr], &xs[0], buf.pixE[:nq], &buf.boffE[kb], run, eb, flag(kb > 0), bias, cl)
		}
		if clip == nil && p.ActE.Kind != ActNone {
			// (a half block's other half too: values, not read)
			residualAct(t.k, run, nil, p.ActE)
		}
		// the padding columns, computed from clamped pixels, back to 0
		for r := range ib - ia {
			row := run[r*rowLen : (r+1)*rowLen]
			for i := range gd.PadL * eb {
				row[i] = 0
			}
			for i := (gd.PadL + gd.W) * eb; i < rowLen; i++ {
				row[i] = 0
			}
		}
	}
}

// depthwise computes output rows [oh0, oh0+nr) of image n's depthwise
// layer for the channels of e's blocks [b0, b1) (e holding block b0
// first) into d (with a projection), or into y's planes.
func (t *dwBlockTask) depthwise(e, d []float32, buf *dwBlockBufs, clip *float32, off []int32, n, at, oh0, nr, b0, b1 int) {
	p, l, bl := t.p, &t.l, t.bl
	gd := &p.GD
	taps := gd.KH * gd.KW
	nq := nr * gd.OW
	for cb := b0 * l.eb / l.db; cb < min(l.nbd, b1*l.eb/l.db); cb++ {
		c0 := cb * l.db
		cnt := min(l.db, gd.C-c0)
		// channels c0.. are part c0 mod eb / db of e's block c0 / eb, whose
		// row at holds the band's first padded row
		eblk := e[(c0/l.eb-b0)*l.le+at*l.wp*l.eb+c0%l.eb:]
		buf.bias = [16]float32{}
		if p.BD != nil {
			copy(buf.bias[:cnt], p.BD[c0:c0+cnt])
		}
		wb := bl.dwWeights(p, l, cb)
		db := d[:l.ld]
		if p.Project {
			db = d[cb*l.ld : (cb+1)*l.ld]
		}
		// row r's pixel ow reads its window from e's pixel r·SH·Wp + ow·SW
		_, _ = db[(nr-1)*gd.OW*l.db+l.nc*l.db-1], eblk[(nr-1)*gd.SH*l.wp*l.eb]
		dw := bl.Dw8
		if l.db == 16 {
			dw = Dw8Kernel(bl.Dw16)
		}
		dw(&db[0], &eblk[0], &off[0], &wb[0], taps, l.nc, gd.SW*l.eb, &buf.bias[0], clip, nr, gd.OW*l.db, gd.SH*l.wp*l.eb)
		if clip == nil && p.ActD.Kind != ActNone {
			residualAct(t.k, db[:nq*l.db], nil, p.ActD)
		}
		if p.Project {
			continue
		}
		// y[n][c0+c][q] = d[q][c] for the band's pixels q
		ohw := gd.OH * gd.OW
		ys := t.y[(n*gd.C+c0)*ohw:]
		bl.unpack(ys[oh0*gd.OW:], ohw, db, l.db, cnt, nq)
	}
}

// project computes the projection of the band's pixels [q0, q0+nq) of
// image n from d into y's planes.
func (t *dwBlockTask) project(d []float32, buf *dwBlockBufs, clip *float32, n, q0, nq int) {
	p, bl := t.p, t.bl
	gp := &p.GP
	nr := bl.PixWidth
	k := gp.C
	kc := bl.depthBlock(k, bl.PixKC)
	if t.l.small {
		kc = bl.pixMajorDepth(k) // d's blocks of db channels: a line a pixel for db steps
	}
	ct := buf.ct
	ohw := gp.OH * gp.OW
	f := p.Fusion
	for jb := range CeilDiv(gp.M, nr) {
		pan := p.WP[jb*k*nr : (jb+1)*k*nr]
		m0, cnt := jb*nr, min(nr, gp.M-jb*nr)
		kerns, _ := bl.pixKernels(cnt)
		// ct[q][j] = Σ_c pan[c][j]·d[boffP[c] + pixP[q]], depth block by block
		for kb := 0; kb < k; kb += kc {
			kl := min(kc, k-kb)
			var bias, cl *float32
			if kb+kl == k {
				bias, cl = &buf.bp[jb*nr], clip
			}
			fetch := 0
			if t.l.small {
				fetch = pixPrefetch // the next steps' weights, as pixTask's tiles do
			}
			pixRun(kerns, kl, nr, &pan[kb*nr], &d[0], buf.pixP[:nq], &buf.boffP[kb], ct, nr, flag(kb > 0)|fetch, bias, cl)
		}
		// y[n][m][q0+q] = act(ct[q][m-m0] + Z[n][m][q0+q]), bp in ct: the
		// channels out of ct's pixels 8 at a time, then the residual and
		// activation a row each
		base := (n*gp.M+m0)*ohw + q0
		bl.unpack(t.y[base:], ohw, ct, nr, cnt, nq)
		if clip != nil || !f.hasPost() {
			continue
		}
		for j := range cnt {
			at := base + j*ohw
			var z []float32
			if f.Residual != nil {
				z = f.Residual[at : at+nq]
			}
			residualAct(t.k, t.y[at:at+nq], z, f.Act)
		}
	}
}
