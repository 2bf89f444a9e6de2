package kern

// Inverted residual blocks layer by layer, in bands of rows. Where the
// three layers of a block would each take the path they take alone (the
// 1×1 convolutions in place, convInPlace; the depthwise one on its planes,
// convDwPlane), a worker can run all three on its own run of output rows,
// band by band:
//
//	e[c][r][iw]  = actE(be[c] + Σ_k We[c][k]·x[k][ia + r][iw])           rows [ia, ib) of the image
//	d[c][r][ow]  = actD(bd[c] + Σ_{a,b} wd[c][a][b]·e[c][oh0 + r + a - PadT][ow + b - PadL])
//	y[m][oh0 + r][ow] = act(bp[m] + Σ_c Wp[m][c]·d[c][r][ow] + Z[m][oh0 + r][ow])
//
// with the layers' own kernels on e and d, planes of a band's rows. Each
// value is the sum the layer computes alone, in the same order, so the
// output is the layers' bit for bit, on any worker count and band size.
// What changes is where e and d live: a band's rows (dwRowsBand bytes)
// stay in the core's level-2 cache from the expansion to the projection,
// and a worker reads only the x rows its run needs and writes only its
// y rows; layer by layer each layer is cut among the workers its own way,
// and every intermediate crosses between the cores' caches. The rows a
// band's windows share with the next are kept (the buffer slides), so no
// row of e is expanded twice within a run; a run's first band expands its
// top halo rows again. A block without an expansion reads x's planes as
// e, and keeps d alone in the cache.

// expandPlan returns what expand needs besides the rows, in buf: the
// expansion's depth offsets into an image of x (boffE[c] = c·H·W) and
// whether it packs B's panels (where the layer alone would:
// inPlacePack); none without an expansion.
func (t *dwRowsTask) expandPlan(buf *dwRowsBufs) (boffE []int32, packE bool) {
	p := t.p
	if !p.Expand {
		return nil, false
	}
	ge1 := p.GE
	ge1.N = 1
	hw := ge1.H * ge1.W
	boffE = int32s(&buf.boffE, ge1.C)
	for c := range boffE {
		boffE[c] = int32(c * hw)
	}
	return boffE, t.bl.inPlacePack(&ge1)
}

// expand makes the rows [ia, ib) of the expansion of xs (an image of x)
// ready in e, a buffer of t.er rows a channel whose row i holds the
// image's row base + i and in which rows [base, top) are made: where the
// band starts past them, the buffer starts again at ia; where ib would
// not fit, the rows this band shares with the last move to the top first.
// It returns the new base and top. The expansion runs on x's columns
// top·W on, its tiles as the layer alone cuts them (tileOffs).
func (t *dwRowsTask) expand(e, xs []float32, base, top, ia, ib int, boffE []int32, bb *blockBufs, packE bool) (int, int) {
	p, bl := t.p, t.bl
	ge, w := &p.GE, p.GD.W
	switch {
	case ia >= top:
		base, top = ia, ia // nothing to keep: start at the top
	case ib-base > t.er:
		keep := (top - ia) * w
		from := (ia - base) * w
		for c := range ge.M {
			ec := e[c*t.er*w:]
			copy(ec[:keep], ec[from:from+keep])
		}
		base = ia
	}
	if ib > top {
		// e[c][top - base + r][iw] = actE(be[c] + Σ_k We[c][k]·x[k][top + r][iw])
		nq := (ib - top) * w
		op := gemmOp{m: ge.M, n: nq, k: ge.C, a: p.WE, lda: ge.C, apack: p.PE, alpha: 1,
			c: e[(top-base)*w:], ldc: t.er * w, bias: p.BE, act: p.ActE}
		bl.tileOffs(&op, xs[top*w:], boffE, 0, ge.M, 0, CeilDiv(nq, bl.Widths[0]), bb, packE)
		top = ib
	}
	return base, top
}

// dwRowsOK is the tier's Tier.DwRowsOK: for a grouped middle layer
// groupRowsOK; otherwise p has a projection, each of its layers alone
// would take the path DwRows runs it on (for one image), and the rows pay
// on workers workers (dwRowsPays).
func (bl *blocked) dwRowsOK(p *DwBlock, workers int) bool {
	if p.grouped() {
		return bl.groupRowsOK(p, workers)
	}
	if !p.Project || p.Fusion.hasPre() {
		return false
	}
	ge, gd, gp := p.GE, p.GD, p.GP
	ge.N, gd.N, gp.N = 1, 1, 1
	if p.Expand && (bl.pathOf(&ge, false) != pathInPlace || !isPointwise(&ge) ||
		ge.M != gd.C || ge.H != gd.H || ge.W != gd.W) {
		return false
	}
	// the 1×1 layers read and write their planes as they lie (compact)
	if bl.pathOf(&gd, false) != pathDwPlane || bl.pathOf(&gp, false) != pathInPlace || !isPointwise(&gp) ||
		gp.C != gd.M || gp.H != gd.OH || gp.W != gd.OW {
		return false
	}
	return bl.dwRowsPays(p, workers)
}

// dwRowsPays reports whether the rows beat the other ways for p on
// workers workers: on several always; on one where the one pass would
// run it (dwBlockPays: e does not fit in the core's level-2 cache) or
// without an expansion (whose d went out to memory and back). On one
// worker with e in that cache the layers alone, which compute the same
// values, were as fast or faster. Zen 4, one image, alone:
//
//   - MobileNetV2's 24 → 144 → 24 at 56×56: one worker 570 µs (one pass
//     680, layers 559 with e warm in the cache); two workers behind one
//     cache 307-311 (one pass 370, layers 360), behind two 312-427
//     (374-385, 679);
//   - MnasNet's 24 → 72 → 24 at 56×56, two workers: 167-171 µs (221,
//     221), behind two caches 170-218 (221-240, 383-397); 32 → 192 → 32
//     at 28×28 146 (163-170, 166-174), behind two 159-164 (164-177, 288);
//   - without an expansion, MnasNet's and MobileNetV2's 32 → 16 at
//     112×112: one worker 218 µs (layers 249, one pass 299), two 134
//     (177, 169); in MnasNet on one thread 327 → 268 µs (ONNX Runtime
//     238).
//
// Networks, the binaries alternating: MnasNet on two threads 0.97-1.02
// of its time, MobileNetV2 0.99-1.01; on one thread MnasNet, MobileNetV2
// and MobileNetV3-Large 0.985-1.00.
func (bl *blocked) dwRowsPays(p *DwBlock, workers int) bool {
	return workers > 1 || !p.Expand || bl.dwBlockPays(p, 1)
}

// convDwRows is the tier's Tier.DwRows, for blocks dwRowsOK accepts.
func (bl *blocked) convDwRows(env *Env, p *DwBlock, x, y []float32) {
	if p.grouped() {
		bl.convGroupRows(env, p, x, y)
		return
	}
	gd := &p.GD
	workers := ParOf(env).Workers()
	runs := 1
	if gd.N < workers {
		runs = min(CeilDiv(workers, gd.N), gd.OH)
	}
	t := TaskOf[dwRowsTask](env)
	*t = dwRowsTask{bl: bl, k: TierOf(env), p: p, x: x, y: y, runs: runs, env: env}
	t.layout()
	runTask(env, gd.N*runs, t)
}

// dwRowsTask is convDwRows's work: unit u is image u / runs and its run
// of output rows u mod runs.
type dwRowsTask struct {
	bl   *blocked
	k    *Tier
	p    *DwBlock
	x, y []float32
	runs int
	env  *Env
	rb   int // output rows a band
	er   int // rows of e's buffer a channel: a band's input rows and room to slide
}

// layout sets the band's rows: as many as keep a band's input rows of e
// and its rows of d within DwRowsBand bytes, at least one.
func (t *dwRowsTask) layout() {
	gd := &t.p.GD
	budget := t.bl.dwRowsBand()
	halo := (gd.KH-1)*gd.DH + 1
	rows := 1
	for rows < gd.OH {
		r := rows + 1
		if 4*gd.C*((r-1)*gd.SH+halo)*gd.W+4*gd.C*r*gd.OW > budget {
			break
		}
		rows = r
	}
	t.rb = rows
	// (at most the image's rows: then nothing slides)
	t.er = min((rows-1)*gd.SH+halo+2*rows*gd.SH, gd.H)
}

// dwRowsBand is the bytes of e and d a band of convDwRows keeps:
// DwRowsBand, else 3/4 of the core's level-2 cache (DwBlockL2), else 512
// KiB. MobileNetV2's and MnasNet's blocks at 56×56 and 28×28 on a Zen 4
// (1 MiB) took 1.0-1.15 times as long with 192 KiB bands (two rows of
// 144 channels at 56×56), as long with 512 KiB to 1 MiB.
func (bl *blocked) dwRowsBand() int {
	switch {
	case bl.DwRowsBand > 0:
		return bl.DwRowsBand
	case bl.DwBlockL2 > 0:
		return bl.DwBlockL2 / 4 * 3
	}
	return 512 << 10
}

// dwRowsBufs is one worker's scratch for convDwRows.
type dwRowsBufs struct {
	e, d, zeros GrowBuf
	masks       []uint16
	boffE       []int32 // the expansion's depth offsets into x: c·H·W
	pixE        []int32 // its pixels' offsets in a row of x (pixel tiles): 0, 1, ...
	boffP       []int32 // the projection's into d: c·rb·OW
	clip        [2]float32
}

// dwRowsScratch keeps dwRowsBufs for reuse.
var dwRowsScratch = FreeList[dwRowsBufs]{New: func() *dwRowsBufs { return new(dwRowsBufs) }}

// Range computes units [lo, hi) as taker 0.
func (t *dwRowsTask) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker computes units [lo, hi) in taker's buffers (takerHint), so
// that a worker gets back, call after call, the buffers it wrote last.
func (t *dwRowsTask) RangeTaker(lo, hi, taker int) {
	bl, p := t.bl, t.p
	ge, gd, gp := &p.GE, &p.GD, &p.GP
	hint := takerHint(hintOf(t.env), taker)
	buf := dwRowsScratch.Get(hint)
	defer dwRowsScratch.Put(hint, buf)
	bb := bl.bufs.Get(hint)
	defer bl.bufs.Put(hint, bb)
	c1 := gd.C
	// without an expansion the depthwise layer reads x's planes: e = x
	var e []float32
	if p.Expand {
		e = buf.e.Grow(c1 * t.er * gd.W)
	}
	d := buf.d.Grow(c1 * t.rb * gd.OW)
	chunks := dwPlaneMaskTable(gd, &buf.masks)
	bd := p.BD
	if bd == nil {
		bd = buf.zeros.Grow(c1)
		clear(bd)
	}
	var clipD *float32
	var ok bool
	if buf.clip, ok = kernelClip(p.ActD); ok {
		clipD = &buf.clip[0]
	}
	dw := bl.dwPlaneKernel(gd)
	hw, ohw := gd.H*gd.W, gp.H*gp.W
	boffE, packE := t.expandPlan(buf)
	er := t.er // e's rows a channel
	if !p.Expand {
		er = gd.H
	}
	boffP := int32s(&buf.boffP, gp.C)
	for c := range boffP {
		boffP[c] = int32(c * t.rb * gd.OW)
	}
	// the projection packs B's panels where d's planes conflict
	packP := bl.packConflicts(t.rb * gd.OW)
	pw := bl.Widths[0]
	taps := gd.KH * gd.KW
	for u := lo; u < hi; u++ {
		n, run := u/t.runs, u%t.runs
		oa, ob := run*gd.OH/t.runs, (run+1)*gd.OH/t.runs
		cin := gd.C
		if p.Expand {
			cin = ge.C
		}
		xs := t.x[n*cin*hw : (n+1)*cin*hw]
		// e's buffer row i holds the image's row base + i; rows [base, top) are made
		base, top := 0, 0
		if !p.Expand {
			e, top = xs, gd.H // x's planes, all made
		}
		for oh0 := oa; oh0 < ob; oh0 += t.rb {
			nr := min(t.rb, ob-oh0)
			// the band's windows read the image's rows [ia, ib)
			ia := max(0, oh0*gd.SH-gd.PadT)
			ib := min(gd.H, (oh0+nr-1)*gd.SH-gd.PadT+(gd.KH-1)*gd.DH+1)
			if p.Expand {
				base, top = t.expand(e, xs, base, top, ia, ib, boffE, bb, packE)
			}
			// d[c][r][ow] for the band's rows, plane by plane from e's rows [ia, ib)
			padT := gd.PadT + ia - oh0*gd.SH
			for c := range c1 {
				dc := d[c*t.rb*gd.OW : c*t.rb*gd.OW+nr*gd.OW]
				ec := e[c*er*gd.W+(ia-base)*gd.W : c*er*gd.W+(ib-base)*gd.W]
				dw(&dc[0], &ec[0], &p.WD[c*taps], &bd[c], clipD, &buf.masks[0], 1, ib-ia, gd.W, nr, gd.OW, padT, gd.PadL, chunks)
				if clipD == nil && p.ActD.Kind != ActNone {
					residualAct(t.k, dc, nil, p.ActD)
				}
			}
			// y's rows [oh0, oh0+nr): the projection on d
			q0, nq := oh0*gd.OW, nr*gd.OW
			yo := n*gp.M*ohw + q0
			f := p.Fusion
			op := gemmOp{m: gp.M, n: nq, k: gp.C, a: p.WP, lda: gp.C, apack: p.PP, alpha: 1,
				c: t.y[yo : (n+1)*gp.M*ohw], ldc: ohw, bias: p.BP}
			if f.hasPost() {
				op.act = f.Act
				if f.Residual != nil {
					op.resid = f.Residual[yo : (n+1)*gp.M*ohw]
				}
			}
			bl.tileOffs(&op, d, boffP, 0, gp.M, 0, CeilDiv(nq, pw), bb, packP)
		}
	}
}
