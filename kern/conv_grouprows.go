package kern

// Grouped blocks in bands of rows. RegNet's blocks open with a 1×1
// expansion into a grouped 3×3 convolution (groups of 16 channels), and
// in the first blocks the expansion's output is a large plane: RegNet-Y
// 800MF's 64 channels at 112×112 are 3.2 MB an image, 144 at 56×56 1.8
// MB. Layer by layer the expansion writes that tensor out to memory, and
// the grouped layer reads it back to copy it, a band of rows at a time,
// into blocks of 8 channels for its kernels (pixBandTask). Here a worker
// runs both layers on its run of the grouped layer's output rows, band by
// band, as DwRows runs an inverted residual block:
//
//	e[c][r][iw]       = actE(be[c] + Σ_k We[c][k]·x[k][ia + r][iw])       rows [ia, ib) of the image
//	y[m][oh0 + r][ow] = actD(bd[m] + Σ_{c,a,b} wd[m][c][a][b]·e[g·Cg + c][(oh0 + r)·SH + a - PadT][ow·SW + b - PadL])
//
// for output channel m of group g. The expansion writes e's rows into the
// worker's sliding buffer (dwRowsTask.expand), the band's rows of each
// group go from there into the blocked copy (blockRowsFrom) and the
// grouped layer's own product runs on them (pixTask in bands), each value
// summed as the layers alone sum it, so the output is theirs bit for bit
// on any worker count and band size. What changes is that e never leaves
// the core's level-2 cache.

// groupRowsOK reports whether DwRows takes p, a block whose middle layer
// is a grouped convolution (not depthwise): it has an expansion and no
// projection, the expansion alone would run in place on x's planes, the
// grouped layer alone on the pixel tiles of its blocked path
// (pixBlocked), and the rows pay on workers workers (groupRowsPays).
func (bl *blocked) groupRowsOK(p *DwBlock, workers int) bool {
	if !p.Expand || p.Project || p.Fusion.hasPre() || p.Fusion.hasPost() {
		return false
	}
	ge, gd := p.GE, p.GD
	ge.N, gd.N = 1, 1
	if bl.pathOf(&ge, false) != pathInPlace || !isPointwise(&ge) ||
		ge.M != gd.C || ge.H != gd.H || ge.W != gd.W {
		return false
	}
	if gd.Group < 2 || gd.C/gd.Group%8 != 0 || bl.pathOf(&gd, false) != pathPix || !bl.pixBlocked(&gd, false) {
		return false
	}
	return bl.groupRowsPays(p, workers)
}

// groupRowsPays reports whether the rows beat the layers for p on workers
// workers: on one, where an image's expansion does not fit in the core's
// level-2 cache (DwBlockL2, else 1 MiB), which the layers write out to
// memory and read back. Zen 4, one image alone (BenchmarkRegNetBlocks),
// one worker, cold / hot: RegNet-Y 800MF's 32 → 64 at 112×112 1318-1354
// → 1252-1269 µs / 1166-1195 → 1140-1152, its 64 → 144 at 56×56 961-971
// → 940-962 / 889-897 → 882-898, ResNeXt-50's 256 → 256 at 56×56 (groups
// of 8) 4625-4735 → 4568-4703 / equal; RegNet-Y in the network, the
// binaries alternating, batch 8 0.979-0.996 of its time, batch 1
// 0.979-1.001. On two workers (each a run of the rows) the first block
// took 716 µs in the network against the layers' 702, so two workers
// keep the layers (at batch 8 each worker runs its images alone, on one).
func (bl *blocked) groupRowsPays(p *DwBlock, workers int) bool {
	l2 := bl.DwBlockL2
	if l2 <= 0 {
		l2 = 1 << 20
	}
	return workers == 1 && 4*p.GE.M*p.GE.H*p.GE.W >= l2
}

// groupRowsPix reports whether convGroupRows runs p's expansion on the
// pixel tiles, straight into the grouped layer's blocked copy
// (groupRowsTask.rangeBlocked), given its weights as packDwBlock (packPix)
// packs them: on a tier with GroupRowsPix (AVX-512's; AVX2's r×16 tiles
// measured no faster: RegNet-Y's first block alone, one worker, hot
// 1169-1175 → 1126-1202 µs, cold 1251-1349 → 1320-1357), where the
// expansion's output channels are whole vectors of the
// tier's pixel kernels (PixWidth, or half of it with PixHalf), its
// activation one the kernels apply (none, Relu, a Clip: kernelClip), and
// its depth at most groupRowsPixDepth.
//
// In place, the expansion writes e's planes, which the copy into blocks
// of 8 channels then transposes a pixel at a time (Block8Rows), after the
// product packed x's rows into panels (PackRows48); as pixel tiles, the
// kernels broadcast x's values from its planes as they lie and store
// each vector of 16 channels as two rows of blocks (pixBlk8), so neither
// pass is made.
func (bl *blocked) groupRowsPix(p *DwBlock) bool {
	ge := &p.GE
	half := bl.PixWidth
	if len(bl.PixHalf) > 0 {
		half /= 2
	}
	_, clips := kernelClip(p.ActE)
	return bl.GroupRowsPix && len(bl.Pix) > 0 && bl.PixWidth%8 == 0 && half%8 == 0 && ge.M%half == 0 &&
		ge.C <= groupRowsPixDepth && (clips || p.ActE.Kind == ActNone)
}

// groupRowsPixDepth is the deepest expansion groupRowsPix takes: a tile
// reads a line of each of x's planes, one a step, which the prefetchers
// follow for few planes only. Zen 4, one image alone, one worker, hot /
// cold (BenchmarkRegNetBlocks): RegNet-Y 800MF's 32 → 64 at 112×112
// 1139-1147 → 1052-1058 µs / 1274-1278 → 1167-1187 (PackRows48 and
// Block8Rows were 13 % of it, the expansion's kernel as pixel tiles runs
// at 101 GFLOP/s, a sixth of it the tiles' ends); its 64 → 144 at 56×56
// 880-888 → 856-872 hot, but 930-945 → 935-965 cold, and in the network
// 2-3 % slower. RegNet-Y at batch 8, one thread, its first block 9.53-10.07
// → 9.16-9.50 ms.
const groupRowsPixDepth = 32

// dwRowsPix is the tier's Tier.DwRowsPix.
func (bl *blocked) dwRowsPix(p *DwBlock, workers int) bool {
	return p.grouped() && bl.groupRowsOK(p, workers) && bl.groupRowsPix(p)
}

// convGroupRows is DwRows for a block groupRowsOK accepts.
func (bl *blocked) convGroupRows(env *Env, p *DwBlock, x, y []float32) {
	gd := &p.GD
	workers := ParOf(env).Workers()
	t := TaskOf[groupRowsTask](env)
	*t = groupRowsTask{dwRowsTask: dwRowsTask{bl: bl, k: TierOf(env), p: p, x: x, y: y, runs: 1, env: env},
		pixE: p.PE != nil && bl.groupRowsPix(p)}
	t.layout()
	if gd.N < workers {
		t.runs = min(CeilDiv(workers, gd.N), t.bands)
	}
	// the grouped layer's product, as convPix runs its blocked path in
	// bands (pixBandTask), with the activation in the kernels where
	// they can apply it
	k := gd.C / gd.Group * gd.KH * gd.KW
	boff, pix := bl.pixBlockedTables(gd, t.hr, gd.W+gd.PadL+gd.PadR)
	kc := bl.pixMajorDepth(k)
	t.f = ConvFusion{Act: p.ActD}
	t.pt = pixTask{bl: bl, k: t.k, g: gd, f: &t.f, wp: p.PD, b: p.BD, y: y, boff: boff, pix: pix, kc: kc,
		parts: t.bands, bands: true, rows: bl.pixRows(gd) && kc >= k, ctLocal: true, hint: hintOf(env)}
	if t.f.hasPost() {
		t.pt.clip, t.pt.kclip = kernelClip(p.ActD)
	}
	runTask(env, gd.N*t.runs, t)
	*t = groupRowsTask{}
}

// groupRowsTask is convGroupRows's work: unit u is image u / runs and its
// run u mod runs of the grouped layer's bands of output rows (band b is
// rows [b·OH/bands, (b+1)·OH/bands), as pixTask cuts them).
type groupRowsTask struct {
	dwRowsTask         // the expansion's sliding buffer: er rows a channel
	pt         pixTask // the grouped layer's product (ct each worker's own)
	f          ConvFusion
	bands      int // bands of output rows an image
	hr         int // padded input rows the tallest band reads (its copy's rows)
	// pixE: the expansion runs on pixel tiles into the blocked copy of
	// every group (groupRowsPix; PE packed by packPix)
	pixE bool
}

// layout sets the bands: the fewest that keep a band's rows of e, its
// blocked copy of one group and its tile sums within DwRowsBand bytes.
func (t *groupRowsTask) layout() {
	gd := &t.p.GD
	budget := t.bl.dwRowsBand()
	halo := (gd.KH-1)*gd.DH + 1
	cg, wq, nr := gd.C/gd.Group, gd.W+gd.PadL+gd.PadR, t.bl.PixWidth
	rows := 1
	for rows < gd.OH {
		r := rows + 1
		in := (r-1)*gd.SH + halo
		copied := 4*gd.C*in*gd.W + 4*cg*in*wq // e's planes and a group's copy
		if t.pixE {
			copied = 4 * gd.C * in * wq // every group's copy
		}
		if copied+4*r*gd.OW*nr > budget {
			break
		}
		rows = r
	}
	t.bands = CeilDiv(gd.OH, rows)
	t.hr = bandRows(gd, t.bands)
	// the rows a band reads: the buffer slides to the top every band
	// (room for more measured no faster)
	rb := CeilDiv(gd.OH, t.bands)
	t.er = min((rb-1)*gd.SH+halo, gd.H)
}

// Range computes units [lo, hi) as taker 0.
func (t *groupRowsTask) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker computes units [lo, hi) in taker's buffers (takerHint).
func (t *groupRowsTask) RangeTaker(lo, hi, taker int) {
	if t.pixE {
		t.rangeBlocked(lo, hi, taker)
		return
	}
	bl, p := t.bl, t.p
	ge, gd := &p.GE, &p.GD
	hint := takerHint(hintOf(t.env), taker)
	buf := dwRowsScratch.Get(hint)
	defer dwRowsScratch.Put(hint, buf)
	bb := bl.bufs.Get(hint)
	defer bl.bufs.Put(hint, bb)
	cg, wq, nr := gd.C/gd.Group, gd.W+gd.PadL+gd.PadR, bl.PixWidth
	blocks := cg / 8 // of the blocked copy, a group
	nb := CeilDiv(gd.M/gd.Group, nr)
	e := buf.e.Grow(gd.C * t.er * gd.W)
	xb := bb.band.Grow(blocks * t.hr * wq * 8)
	pt := t.pt // this worker's, with its own tile sums
	pt.ct = buf.d.Grow(CeilDiv(gd.OH, t.bands) * gd.OW * nr)
	hw := gd.H * gd.W
	boffE, packE := t.expandPlan(buf)
	for u := lo; u < hi; u++ {
		n, run := u/t.runs, u%t.runs
		xs := t.x[n*ge.C*hw : (n+1)*ge.C*hw]
		base, top := 0, 0
		for b := run * t.bands / t.runs; b < (run+1)*t.bands/t.runs; b++ {
			// the band reads the padded input's rows [r0, r1), the
			// image's [ia, ib)
			r0, r1 := bandInput(gd, b, t.bands)
			ia, ib := max(0, r0-gd.PadT), min(gd.H, r1-gd.PadT)
			if ib > ia {
				base, top = t.expand(e, xs, base, top, ia, ib, boffE, bb, packE)
			}
			for grp := range gd.Group {
				for cb := range blocks {
					blockRowsFrom(bl, xb[cb*t.hr*wq*8:(cb+1)*t.hr*wq*8], e, t.er*gd.W, base, gd, grp*cg+cb*8, r0, r1, wq)
				}
				// y's rows [oh0, oh1) of the group's channels, block by block
				o := n*gd.Group + grp
				for jb := range nb {
					ub := (o*nb + jb) * t.bands
					pt.run(ub+b, ub+b+1, xb)
				}
			}
		}
	}
}

// rangeBlocked is RangeTaker where the expansion runs on pixel tiles
// (groupRowsPix): its output for a band's rows goes straight into the
// blocked copy of every group, eb, hr rows of wq pixels of 8 values a
// block,
//
//	eb[((c/8)·hr + r - r0)·wq + PadL + iw)·8 + c mod 8] = actE(be[c] + Σ_k We[c][k]·x[k][r - PadT][iw])
//
// for the band's padded rows r in [r0, r1), and 0 in the padding; the
// rows a band shares with the last move to the top first, so that no row
// is expanded twice within a run. Each value is summed as in place (the
// steps k in order, each product fused with its sum, then the bias).
func (t *groupRowsTask) rangeBlocked(lo, hi, taker int) {
	bl, p := t.bl, t.p
	ge, gd := &p.GE, &p.GD
	hint := takerHint(hintOf(t.env), taker)
	buf := dwRowsScratch.Get(hint)
	defer dwRowsScratch.Put(hint, buf)
	wq, nr := gd.W+gd.PadL+gd.PadR, bl.PixWidth
	row := wq * 8                  // a padded row of a block
	bs := t.hr * row               // a block
	gs := gd.C / gd.Group / 8 * bs // a group's blocks
	blocks := gd.C / 8
	nb := CeilDiv(gd.M/gd.Group, nr)
	eb := buf.e.Grow(blocks * bs)
	for r := range blocks * t.hr {
		zeroPixels(eb[r*row : r*row+gd.PadL*8])
		zeroPixels(eb[r*row+(gd.PadL+gd.W)*8 : (r+1)*row])
	}
	pt := t.pt // this worker's, with its own tile sums
	pt.ct = buf.d.Grow(CeilDiv(gd.OH, t.bands) * gd.OW * nr)
	hw := gd.H * gd.W
	boffE, _ := t.expandPlan(buf)
	pixE := int32s(&buf.pixE, gd.W)
	for i := range pixE {
		pixE[i] = int32(i)
	}
	var clip *float32
	if c, ok := kernelClip(p.ActE); ok {
		buf.clip = c
		clip = &buf.clip[0]
	}
	for u := lo; u < hi; u++ {
		n, run := u/t.runs, u%t.runs
		xs := t.x[n*ge.C*hw : (n+1)*ge.C*hw]
		m0, m1 := 0, 0 // eb holds the padded rows [m0, m1) from its top
		for b := run * t.bands / t.runs; b < (run+1)*t.bands/t.runs; b++ {
			r0, r1 := bandInput(gd, b, t.bands)
			from := r0
			if m0 <= r0 && r0 < m1 {
				// rows [r0, m1) made by the last band: to the top
				if r0 > m0 {
					for cb := range blocks {
						d := eb[cb*bs:]
						copy(d[:(m1-r0)*row], d[(r0-m0)*row:(m1-m0)*row])
					}
				}
				from = m1
			}
			if from < r1 {
				t.expandBlocked(eb[(from-r0)*row:], bs, xs, from-gd.PadT, r1-from, boffE, pixE, clip)
			}
			m0, m1 = r0, r1
			for grp := range gd.Group {
				// y's rows [oh0, oh1) of the group's channels, block by block
				o := n*gd.Group + grp
				for jb := range nb {
					ub := (o*nb + jb) * t.bands
					pt.run(ub+b, ub+b+1, eb[grp*gs:])
				}
			}
		}
	}
}

// expandBlocked writes rows [ih, ih+rows) of the expansion of xs (an
// image of x) into as many padded rows of the blocked copy, d the first
// one's row of the first block and bs values from one block to the next:
// the kernels' rows of pixels, each vector of channels as rows of blocks
// (pixBlk8), with the bias and the clip; a row of padding (outside the
// image) is 0. Each block of PixWidth channels runs over all the rows,
// so that its weights stay in L1 (RegNet's 144 channels are 40 KiB of
// weights from 64).
func (t *groupRowsTask) expandBlocked(d []float32, bs int, xs []float32, ih, rows int, boffE, pixE []int32, clip *float32) {
	bl, p := t.bl, t.p
	ge, gd := &p.GE, &p.GD
	row := (gd.W + gd.PadL + gd.PadR) * 8
	i0, i1 := max(ih, 0), min(ih+rows, gd.H) // the image's rows
	for r := ih; r < ih+rows; r++ {
		if r < i0 || r >= i1 {
			for cb := range ge.M / 8 {
				clear(d[cb*bs+(r-ih)*row : cb*bs+(r-ih+1)*row])
			}
		}
	}
	nr := bl.PixWidth
	for m0 := 0; m0 < ge.M; m0 += nr {
		cnt := min(nr, ge.M-m0)
		kerns, _ := bl.pixKernels(cnt)
		var bias *float32
		if p.BE != nil {
			bias = &p.BE[m0]
		}
		// d[(m/8)·bs + (r - ih)·row + (PadL + iw)·8 + m mod 8] =
		//	clip(Σ_k pan[k][m - m0]·x[k][r][iw] + be[m])
		pan := p.PE[m0*ge.C:]
		for r := i0; r < i1; r++ {
			pixRun(kerns, ge.C, nr, &pan[0], &xs[r*gd.W], pixE, &boffE[0], d[m0/8*bs+(r-ih)*row+gd.PadL*8:], bs, pixBlk8, bias, clip)
		}
	}
}
