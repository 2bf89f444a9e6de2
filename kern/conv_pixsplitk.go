package kern

// A 1×1 convolution on a small plane that narrows the channels (an
// inverted residual block's projection, DenseNet's and ResNet's 1×1
// layers that read many channels), split among workers by its input
// channels instead of its output channels.
//
// Cut by output channels, as convPix cuts it, every worker reads every
// input channel: the pixel-major copy is made by all workers and read by
// all, and the input itself, which the layer before wrote a run of
// channels a worker, crosses from one core to the other. On a 2-core Zen
// 5, MnasNet's 480 → 80 projection at 14×14 took 88 µs on one worker and
// 104 on two. Cut by input channels, worker w copies the channels it (by
// the same contiguous split) computed in the layer before, into a buffer
// of its own, and sums their products for every output channel,
//
//	ct_w[jb][q][j] = Σ_{c in run w} pan_jb[c][j]·x[c][q],
//
// and a second loop adds the workers' sums, a block of output channels a
// unit, and writes y with the bias, residual and activation:
//
//	y[m][q] = act(Σ_w ct_w[jb][q][j] + b[m] + z[m][q]),  m = jb·PixWidth + j.
//
// What crosses between cores is the partial sums, the size of the output,
// which is a fraction of the input's. The sums are added in the order of
// the runs, so the result depends on the worker count, as convPix's
// depth blocks make it depend on the tier, and is the same for a given
// count, run after run.

// pixSplitKRatio is how many times the output channels a 1×1 window's
// input channels number at least for pixSplitK.
const pixSplitKRatio = 2

// pixSplitK returns into how many runs of input channels convPix splits
// each image's depth of g for workers (each at least
// 8·splitKMinBlocks channels), or 1: an unpadded 1×1 window of one group
// with at least pixSplitKRatio times as many input channels as output
// ones, on two or more workers. convPix takes it where it copies g's input
// pixel-major; conv hands it one image at a time (perImage), all workers
// on each, so g.N does not count.
func pixSplitK(g *ConvGeom, workers int) int {
	if g.Group != 1 || g.KH*g.KW != 1 || g.PadT+g.PadB+g.PadL+g.PadR != 0 ||
		g.C < pixSplitKRatio*g.M || workers < 2 {
		return 1
	}
	return max(1, min(workers, CeilDiv(g.C, 8)/splitKMinBlocks))
}

// convDepthRuns is the tier's Tier.ConvDepthRuns: pixSplitK's runs where
// conv takes the pixel-tile path over a pixel-major copy, else 1.
func (bl *blocked) convDepthRuns(g *ConvGeom, pre bool, workers int) int {
	if bl.pathOf(g, pre) != pathPix || bl.pixBlocked(g, pre) || bl.pixStridedPoint(g, pre) || !bl.pixMajor(g) {
		return 1
	}
	return pixSplitK(g, workers)
}

// splitKMinBlocks is the fewest 8-channel blocks of input a run of
// pixSplitK gets.
const splitKMinBlocks = 4

// pixSplitKTask is convPix's split by input channels: units [0, N·runs)
// of the first loop are image u / runs and its run u mod runs of
// 8-channel blocks, which the unit copies pixel-major (mt's copy) into
// bufs[u] and multiplies into cts[u]; the second loop's units are an
// image and block of output channels each (add).
type pixSplitKTask struct {
	pt        *pixTask
	mt        pixMajorTask
	bufs, cts []GrowBuf
	runs      int
	add       bool // the second loop
}

// Range runs units [lo, hi) of the loop t.add says.
func (t *pixSplitKTask) Range(lo, hi int) {
	if t.add {
		t.sum(lo, hi)
		return
	}
	pt := t.pt
	g, bl := pt.g, pt.bl
	cb := CeilDiv(g.C, 8)
	npix, nr := g.OH*g.OW, bl.PixWidth
	nb := CeilDiv(g.M, nr)
	for u := lo; u < hi; u++ {
		n, run := u/t.runs, u%t.runs
		b0, b1 := run*cb/t.runs, (run+1)*cb/t.runs
		c0, c1 := 8*b0, min(g.C, 8*b1)
		mt := t.mt
		mt.dst = t.bufs[u].Grow(g.N * npix * mt.ld)
		mt.Range(n*cb+b0, n*cb+b1)
		xs := mt.dst[n*npix*mt.ld:]
		bl.splitKProduct(pt.wp, g.C, g.M, c0, c1, pt.kc, xs, pt.pix, pt.boff, t.cts[u].Grow(nb*npix*nr))
	}
}

// splitKProduct computes a run [c0, c1) of input channels' part of a 1×1
// product split by them, block jb of PixWidth output channels of m from
// its panel of wp (k steps),
//
//	ct[jb][q][j] = Σ_{c0 ≤ c < c1} wp_jb[c][j]·src[boff[c] + pix[q]],
//
// depth block by depth block of kc, without bias or activation; a
// panel's last block fetches the next panel's run (splitKNextRun).
func (bl *blocked) splitKProduct(wp []float32, k, m, c0, c1, kc int, src []float32, pix, boff []int32, ct []float32) {
	nr, npix := bl.PixWidth, len(pix)
	nb := CeilDiv(m, nr)
	for jb := range nb {
		pan := wp[jb*k*nr : (jb+1)*k*nr]
		kerns, _ := bl.pixKernels(min(nr, m-jb*nr))
		cj := ct[jb*npix*nr : (jb+1)*npix*nr]
		for kb := c0; kb < c1; kb += kc {
			kl := min(kc, c1-kb)
			fl := flag(kb > c0) | pixPrefetch
			if kb+kl == c1 && jb+1 < nb {
				fl |= splitKNextRun(k, c0, c1, nr) << 20
			}
			pixRun(kerns, kl, nr, &pan[kb*nr], &src[0], pix, &boff[kb], cj, nr, fl, nil, nil)
		}
	}
}

// splitKNextRun returns how many lines past a run's last depth block
// [.., c1) of a panel of C steps of nr weights the run [c0, c1) of the
// next panel starts, the weights its unit reads next: pixRun's tiles fetch
// from there (flags>>20) instead of the next run's steps, which another
// worker reads. Each block of output channels then started from memory,
// its 16-32 KB asked for a line at a time as the kernel reached them:
// ResNet-50's 2048 → 512 1×1 layers at 7×7 on two threads 421-433 →
// 374-378 µs; two threads, alternating in one process: ResNet-50 0.96-1.00
// of its time, DenseNet-121 0.97-0.99, MobileNetV2 0.96, RegNet-Y 1.00.
func splitKNextRun(c, c0, c1, nr int) int {
	// from the end of step c1 of this panel to step c0 of the next,
	// 16 weights a line
	return (c - c1 + c0) * nr / 16
}

// sum computes units [lo, hi) of the second loop: unit u is image
// u / nb and output block u mod nb, whose runs' sums it adds into the
// first run's and writes to y.
func (t *pixSplitKTask) sum(lo, hi int) {
	pt := t.pt
	g, bl, f := pt.g, pt.bl, pt.f
	npix, nr := g.OH*g.OW, bl.PixWidth
	nb := CeilDiv(g.M, nr)
	for u := lo; u < hi; u++ {
		n, jb := u/nb, u%nb
		m0, cnt := jb*nr, min(nr, g.M-jb*nr)
		first := t.cts[n*t.runs].Grow(nb * npix * nr)[jb*npix*nr : (jb+1)*npix*nr]
		for r := 1; r < t.runs; r++ {
			other := t.cts[n*t.runs+r].Grow(nb * npix * nr)[jb*npix*nr : (jb+1)*npix*nr]
			AddRow(pt.k, first, first, other, false)
		}
		// y[n][m][q] = act(first[q][m-m0] + b[m] + Z[n][m][q])
		ys := pt.y[(n*g.M+m0)*npix : (n*g.M+m0+cnt)*npix]
		bl.unpack(ys, npix, first, nr, cnt, npix)
		if pt.b != nil {
			for j := range cnt {
				yr := ys[j*npix : (j+1)*npix]
				AffineRow(pt.k, yr, yr, 1, pt.b[m0+j], false)
			}
		}
		if f.hasPost() {
			var z []float32
			if f.Residual != nil {
				z = f.Residual[(n*g.M+m0)*npix : (n*g.M+m0+cnt)*npix]
			}
			residualAct(pt.k, ys, z, f.Act)
		}
	}
}

// convPixSplitK runs pt, a 1×1 window's product over mt's pixel-major
// copy, split by input channels into runs per image (pixSplitK).
func (bl *blocked) convPixSplitK(env *Env, pt *pixTask, mt *pixMajorTask, sc *bigBufs, runs int) {
	g := pt.g
	units := g.N * runs
	for len(sc.priv) < units {
		sc.priv = append(sc.priv, GrowBuf{})
	}
	for len(sc.privCt) < units {
		sc.privCt = append(sc.privCt, GrowBuf{})
	}
	t := TaskOf[pixSplitKTask](env)
	*t = pixSplitKTask{pt: pt, mt: *mt, bufs: sc.priv[:units], cts: sc.privCt[:units], runs: runs}
	ParOf(env).Do(units, t)
	t.add = true
	ParOf(env).Do(g.N*CeilDiv(g.M, bl.PixWidth), t)
	*t = pixSplitKTask{}
}
