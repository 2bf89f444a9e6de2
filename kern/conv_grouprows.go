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

// convGroupRows is DwRows for a block groupRowsOK accepts.
func (bl *blocked) convGroupRows(env *Env, p *DwBlock, x, y []float32) {
	gd := &p.GD
	workers := ParOf(env).Workers()
	t := TaskOf[groupRowsTask](env)
	*t = groupRowsTask{dwRowsTask: dwRowsTask{bl: bl, k: TierOf(env), p: p, x: x, y: y, runs: 1, env: env}}
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
		if 4*gd.C*in*gd.W+4*cg*in*wq+4*r*gd.OW*nr > budget {
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
			oh0, oh1 := b*gd.OH/t.bands, (b+1)*gd.OH/t.bands
			// the band reads the padded input's rows [r0, r1), the
			// image's [ia, ib)
			r0 := oh0 * gd.SH
			r1 := min((oh1-1)*gd.SH+(gd.KH-1)*gd.DH+1, gd.H+gd.PadT+gd.PadB)
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
