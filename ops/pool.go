package ops

import (
	"math"
	"sync"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("MaxPool", imageWiseOp(func(n *Node) (Kernel, error) { return buildPool(n, true) }, firstOutput))
	Register("AveragePool", imageWiseOp(func(n *Node) (Kernel, error) { return buildPool(n, false) }, firstOutput))
	Register("bnrun.AffineAveragePool", imageWiseOp(buildAffinePool, firstOutput))
}

// poolAttrs are a pool node's attributes.
type poolAttrs struct {
	max          bool
	win          *window
	storageOrder int64 // MaxPool: Indices flattened row-major (0) or column-major (1)
	countPad     bool  // AveragePool: padding counts in the divisor
}

// buildPool binds MaxPool (opsets 1–12 and later) or AveragePool (opsets
// 1–11 and 19) for 1-D, 2-D and 3-D inputs N×C×D1[×D2[×D3]]: attributes auto_pad,
// ceil_mode, dilations (AveragePool's from opset 19; before it only ones
// are accepted), kernel_shape, pads and strides, plus storage_order for
// MaxPool and count_include_pad for AveragePool.
//
// Output sizes follow the spec: floor((in + pads - ((k-1)·d + 1)) / s) + 1,
// or ceil(...) + 1 with ceil_mode, dropping a last window that would start
// in the end padding; SAME_* gives ceil(in / s). Padding never counts
// towards a maximum. An average divides by the number of window positions
// inside the input, or with count_include_pad by those inside the padded
// input (positions past the end padding, which ceil_mode can add, never
// count).
//
// MaxPool's optional Indices output (int64) holds, for each output, the
// flat index of the selected input in N×C×D1×D2 (×D3) — with storage_order
// = 1 the spatial part is column-major: (n·C + c)·D1·D2 + d2·D1 + d1, and
// in 3-D (n·C + c)·D1·D2·D3 + d3·D1·D2 + d2·D1 + d1. Ties go to the first
// position in row-major window order; a NaN in a window is selected, as in
// PyTorch.
//
// 2-D (and 1-D) pools run on the tiers' row kernels where they can (see
// planeRows); 3-D ones, and the rest, on kern's plain loops
// (kern.MaxPoolPlane and kern.AvgPoolPlane).
func buildPool(n *Node, isMax bool) (Kernel, error) {
	pa, err := parsePoolAttrs(n, isMax, n.Opset >= 19)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
		}
		return preparePool(n, pa, in, nil)
	}), nil
}

// parsePoolAttrs reads a pool node's attributes (see buildPool); an
// AveragePool's dilations other than 1 only when dilations is set.
func parsePoolAttrs(n *Node, isMax, dilations bool) (*poolAttrs, error) {
	win, err := parseWindow(n)
	if err != nil {
		return nil, err
	}
	if win.kernel == nil {
		return nil, n.Errorf("kernel_shape is required")
	}
	pa := &poolAttrs{max: isMax, win: win}
	if isMax {
		if pa.storageOrder, err = n.Int("storage_order", 0); err != nil {
			return nil, err
		}
		if pa.storageOrder != 0 && pa.storageOrder != 1 {
			return nil, n.Errorf("storage_order %d is not 0 or 1", pa.storageOrder)
		}
		if len(n.Outputs) > 2 {
			return nil, n.Errorf("got %d outputs, want at most 2 (Y, Indices)", len(n.Outputs))
		}
		return pa, nil
	}
	if !dilations {
		for _, d := range win.dilations {
			if d != 1 {
				return nil, n.Errorf("dilations %v: AveragePool takes dilations from opset 19, the node has %d", win.dilations, n.Opset)
			}
		}
	}
	cip, err := n.Int("count_include_pad", 0)
	if err != nil {
		return nil, err
	}
	if cip != 0 && cip != 1 {
		return nil, n.Errorf("count_include_pad %d is not 0 or 1", cip)
	}
	pa.countPad = cip == 1
	return pa, nil
}

// buildAffinePool binds bnrun.AffineAveragePool, the per-channel affine
// step (and Relu) that alone feeds an AveragePool, applied as the pool
// reads its input (DenseNet's transitions: BatchNormalization, Relu, 2×2
// AveragePool, the pool moved before the 1×1 Conv by fold's PoolConv):
// inputs X (N×C×D1[×D2[×D3]]) and pre_scale and pre_bias (float32 [C]),
// AveragePool's attributes (dilations at every version) and
// pre_activation ("Relu" or absent):
//
//	x'[n][c][...] = pre_activation(pre_scale[c]·x[n][c][...] + pre_bias[c])
//	y = AveragePool(x')
//
// Each plane of x' is made in a worker's scratch (kern.AffineRow, as
// bnrun.Affine makes it) and pooled from there as AveragePool pools, so
// the result is the unfused pair's bit for bit, without writing x' and
// reading it back.
func buildAffinePool(n *Node) (Kernel, error) {
	pa, err := parsePoolAttrs(n, false, true)
	if err != nil {
		return nil, err
	}
	act, err := ParseActivation(n, "pre_")
	if err != nil {
		return nil, err
	}
	if act.Kind != kern.ActNone && act.Kind != kern.ActRelu {
		return nil, n.Errorf("pre_activation: only Relu is supported")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 3 (X, pre_scale, pre_bias)", len(in))
		}
		for i, name := range []string{"X", "pre_scale", "pre_bias"} {
			if in[i] == nil {
				return nil, Step{}, n.Errorf("input %s is absent", name)
			}
		}
		if in[0].DType == Float32 && len(in[0].Shape) >= 2 {
			c := in[0].Shape[1]
			for i, name := range []string{"pre_scale", "pre_bias"} {
				if v := in[1+i]; v.DType != Float32 || len(v.Shape) != 1 || v.Shape[0] != c {
					return nil, Step{}, n.Errorf("%s must be float32 [%d], got %s %s", name, c, v.DType, ShapeString(v.Shape))
				}
			}
		}
		return preparePool(n, pa, in[:1], &act)
	}), nil
}

// poolAxis returns a window's geometry along one axis as kern's pools
// read it.
func poolAxis(a span) kern.PoolAxis {
	return kern.PoolAxis{In: a.in, Out: a.out, K: a.k, S: a.s, Dil: a.d, Pad0: a.pad0, Pad1: a.pad1}
}

// emptyWindow returns the first output along a whose window holds no input
// position, or -1. Only windows that start in the padding can be empty: a
// window starting inside the input holds its first tap.
func emptyWindow(a span) int {
	for o := range min(a.out, kern.CeilDiv(a.pad0, a.s)) {
		if lo, hi := kern.TapRange(o*a.s-a.pad0, a.d, a.in, a.k); lo >= hi {
			return o
		}
	}
	if last := a.out - 1; last >= 0 && last*a.s-a.pad0 >= a.in {
		return last
	}
	return -1
}

// preparePool prepares a pool of X (in[0]); pre, when not nil, is the
// activation of bnrun.AffineAveragePool's affine prologue, whose pre_scale
// and pre_bias are the step's inputs 1 and 2.
func preparePool(n *Node, pa *poolAttrs, in []*Value, pre *kern.Activation) ([]Value, Step, error) {
	r, err := spatialRank(n, in[0], "X")
	if err != nil {
		return nil, Step{}, err
	}
	xs := in[0].Shape
	if len(pa.win.kernel) != r {
		return nil, Step{}, n.Errorf("kernel_shape %v has %d values, want %d", pa.win.kernel, len(pa.win.kernel), r)
	}
	k := make([]int, r)
	for i, v := range pa.win.kernel {
		k[i] = int(v)
	}
	sp, err := pa.win.resolve(n, xs[2:], k)
	if err != nil {
		return nil, Step{}, err
	}
	for i, a := range sp {
		if dk := (a.k-1)*a.d + 1; a.pad0 >= dk || a.pad1 >= dk {
			return nil, Step{}, n.Errorf("pads %d and %d on spatial axis %d must be smaller than the window's extent %d",
				a.pad0, a.pad1, i, dk)
		}
		if o := emptyWindow(a); o >= 0 {
			return nil, Step{}, n.Errorf("the window of output %d on spatial axis %d lies entirely in the padding", o, i)
		}
	}
	g := kern.PoolGeom{Planes: xs[0] * xs[1], D: kern.UnitPoolAxis, H: kern.UnitPoolAxis, W: poolAxis(sp[0])}
	outShape := []int{xs[0], xs[1]}
	for _, a := range sp {
		outShape = append(outShape, a.out)
	}
	switch r {
	case 2:
		g.H, g.W = poolAxis(sp[0]), poolAxis(sp[1])
	case 3:
		g.D, g.H, g.W = poolAxis(sp[0]), poolAxis(sp[1]), poolAxis(sp[2])
	}
	nx, ny := NumElems(xs), NumElems(outShape)
	run := func(env *kern.Env, in, out []*Tensor) error {
		if err := checkLen(in[0], "X", nx); err != nil {
			return n.Errorf("%v", err)
		}
		if err := checkLen(out[0], "Y", ny); err != nil {
			return n.Errorf("%v", err)
		}
		var idx []int64
		if len(out) > 1 && out[1] != nil {
			if len(out[1].I64) != ny {
				return n.Errorf("Indices holds %d int64 values, want %d", len(out[1].I64), ny)
			}
			idx = out[1].I64
		}
		x, y := in[0].F32, out[0].F32
		rows := kern.TaskOf[poolRows](env)
		rows.reserve(kern.ParOf(env).Workers())
		args := poolArgs{k: kern.TierOf(env), rows: rows, g: &g, pa: pa, x: x, y: y, idx: idx,
			claim: claimOutputs(env) && kern.Disjoint(x, y)}
		if pre != nil {
			c := xs[1]
			if len(in) < 3 || in[1] == nil || in[2] == nil || len(in[1].F32) != c || len(in[2].F32) != c {
				return n.Errorf("pre_scale and pre_bias do not match the plan")
			}
			planes := kern.TaskOf[poolPlanes](env)
			planes.reserve(kern.ParOf(env).Workers(), nx/max(g.Planes, 1))
			args.pre = poolPrologue{a: in[1].F32, b: in[2].F32, relu: pre.Kind == kern.ActRelu, planes: planes}
		}
		forChunksOf(env, g.Planes, 1, args)
		return nil
	}
	outs := make([]Value, outputCount(n))
	outs[0] = Value{DType: Float32, Shape: outShape}
	if len(outs) > 1 {
		if !pa.max && hasOutput(n, 1) {
			return nil, Step{}, n.Errorf("AveragePool has one output, got %d", len(n.Outputs))
		}
		outs[1] = Value{DType: Int64, Shape: outShape}
	}
	if pre != nil {
		dev := &AffinePoolDev{Pool: PoolDev{CountPad: pa.countPad, G: g}, N: xs[0], C: xs[1], HW: nx / max(g.Planes, 1), Act: *pre}
		return outs, Step{Run: run, Dev: dev}, nil
	}
	var dev *PoolDev
	if len(outs) == 1 || !hasOutput(n, 1) {
		dev = &PoolDev{Max: pa.max, CountPad: pa.countPad, G: g}
	}
	return outs, Step{Run: run, Dev: devOrNil(dev)}, nil
}

// poolPrologue is bnrun.AffineAveragePool's affine step: plane p of the
// pool's input is AffineRow(x's plane p, a[c], b[c], relu), c = p mod C,
// made in one of planes' scratch planes (nil for a plain pool).
type poolPrologue struct {
	a, b   []float32
	relu   bool
	planes *poolPlanes
}

// poolPlanes are a Run's scratch planes for poolPrologue, kept in its Env
// (see TaskOf) like poolRows: one per worker, made before the first loop
// that needs them, and made again, larger, only for a larger plane.
type poolPlanes struct {
	mu   sync.Mutex
	free [][]float32
	made int
	size int
}

// reserve makes sure n workers can each hold a plane of size values.
func (p *poolPlanes) reserve(n, size int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if size > p.size {
		p.free, p.made, p.size = p.free[:0], 0, size
	}
	for ; p.made < n; p.made++ {
		p.free = append(p.free, make([]float32, p.size))
	}
}

// get takes a plane; reserve must have allowed for the caller.
func (p *poolPlanes) get() []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		p.made++
		return make([]float32, p.size)
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return b
}

// put gives a plane back.
func (p *poolPlanes) put(b []float32) {
	p.mu.Lock()
	if len(b) == p.size {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// poolInside returns the outputs [lo, hi) of a whose windows (undilated)
// lie entirely inside the input: lo·S - Pad0 >= 0 and (hi-1)·S - Pad0 + K
// <= In.
func poolInside(a *kern.PoolAxis) (lo, hi int) {
	lo = kern.CeilDiv(a.Pad0, a.S)
	if a.In+a.Pad0 < a.K {
		return lo, lo
	}
	hi = min(a.Out, (a.In+a.Pad0-a.K)/a.S+1)
	return lo, max(lo, hi)
}

// maxRowsWidth is the widest input row planeRows handles.
const maxRowsWidth = 1024

// poolRows are a Run's scratch rows for planeRows (on the heap: the vector
// kernels they go to are called through function values), kept in its Env
// (see TaskOf): one pair per worker, made before the first loop that
// needs them, so that no later Run allocates.
type poolRows struct {
	mu   sync.Mutex
	free []*[2 * maxRowsWidth]float32
	made int
}

// reserve makes sure n workers can each hold a pair of rows at once.
func (r *poolRows) reserve(n int) {
	for ; r.made < n; r.made++ {
		r.free = append(r.free, new([2 * maxRowsWidth]float32))
	}
}

// get takes a pair of rows; reserve must have allowed for the caller.
func (r *poolRows) get() *[2 * maxRowsWidth]float32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.free) == 0 {
		r.made++
		return new([2 * maxRowsWidth]float32)
	}
	b := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	return b
}

// put gives rows back.
func (r *poolRows) put(b *[2 * maxRowsWidth]float32) {
	r.mu.Lock()
	r.free = append(r.free, b)
	r.mu.Unlock()
}

// planeRows computes plane p of a max pooling (without indices) or an
// average pooling like kern.MaxPoolPlane or AvgPoolPlane, for windows without
// horizontal dilation, in three vector passes per output row on k's Max
// or Add kernel, then a pick:
//
//	r[iw] = op over the window's rows kh of x[ih][iw]          (top to bottom)
//	m[i]  = op(op(r[i], r[i+1]), ...), K values                 (left to right)
//	y[oh][ow] = m[ow·SW - pad]  (/ count for an average)
//
// with op = max (NaN wins) or +. Windows that reach into the horizontal
// padding are finished from r one at a time, in the same order. Averages
// add in another order than AvgPoolPlane's. rbuf and mbuf are scratch rows of
// at least W values.
func planeRows(k *kern.Tier, g *kern.PoolGeom, p int, x, y, rbuf, mbuf []float32, isMax, countPad bool) {
	h, w := &g.H, &g.W
	hw := h.In * w.In
	xp := x[p*hw : (p+1)*hw]
	ohw := h.Out * w.Out
	yp := y[p*ohw : (p+1)*ohw]
	// op(dst, a, b): dst = max(a, b) or a + b, elementwise
	op := func(dst, a, b []float32) {
		if isMax {
			kern.MaxRow(k, dst, a, b)
		} else {
			kern.AddRow(k, dst, a, b, false)
		}
	}
	r := rbuf[:w.In]
	in0, in1 := poolInside(w)
	var m []float32
	if in1 > in0 {
		m = mbuf[:w.In-w.K+1]
	}
	for oh := range h.Out {
		hs := oh*h.S - h.Pad0
		khLo, khHi := kern.TapRange(hs, h.Dil, h.In, h.K)
		yr := yp[oh*w.Out : (oh+1)*w.Out]
		if khLo >= khHi {
			// a window with no input row: preparePool rejects those, so
			// this is only a guard
			for i := range yr {
				yr[i] = float32(math.Inf(-1))
			}
			continue
		}
		nh := khHi - khLo
		if countPad {
			lo, hi := kern.TapRange(hs+h.Pad0, h.Dil, h.In+h.Pad0+h.Pad1, h.K)
			nh = hi - lo
		}
		if poolRowFast(k, g, xp, yr, hs, khLo, khHi, nh, isMax) {
			continue
		}
		copy(r, xp[(hs+khLo*h.Dil)*w.In:])
		for kh := khLo + 1; kh < khHi; kh++ {
			op(r, r, xp[(hs+kh*h.Dil)*w.In:(hs+kh*h.Dil+1)*w.In])
		}
		if m != nil {
			copy(m, r)
			for kw := 1; kw < w.K; kw++ {
				op(m, m, r[kw:kw+len(m)])
			}
		}
		// Windows inside the row: y[ow] = m[ow·SW - pad0] (/ nh·K), a
		// plain strided pick; the others (at most a few at each end) are
		// finished from r one at a time.
		lo, hi := min(in0, len(yr)), min(in1, len(yr))
		if m != nil {
			pick := yr[lo:hi]
			src := m[lo*w.S-w.Pad0:]
			if isMax {
				for i := range pick {
					pick[i] = src[i*w.S]
				}
			} else {
				div := float32(nh * w.K)
				for i := range pick {
					pick[i] = src[i*w.S] / div
				}
			}
		} else {
			hi = lo
		}
		for ow := 0; ow < len(yr); ow++ {
			if ow == lo {
				ow = hi // the inside, done above
				if ow >= len(yr) {
					break
				}
			}
			ws := ow*w.S - w.Pad0
			kwLo, kwHi := kern.TapRange(ws, 1, w.In, w.K)
			if kwLo >= kwHi {
				yr[ow] = float32(math.Inf(-1))
				continue
			}
			v := r[ws+kwLo]
			for _, u := range r[ws+kwLo+1 : ws+kwHi] {
				if isMax {
					v = max(v, u)
				} else {
					v += u
				}
			}
			if !isMax {
				nw := kwHi - kwLo
				if countPad {
					lo, hi := kern.TapRange(ws+w.Pad0, 1, w.In+w.Pad0+w.Pad1, w.K)
					nw = hi - lo
				}
				v /= float32(nh * nw)
			}
			yr[ow] = v
		}
	}
}

// poolArgs are a pooling step's operands.
type poolArgs struct {
	k     *kern.Tier
	rows  *poolRows
	g     *kern.PoolGeom
	pa    *poolAttrs
	x, y  []float32
	idx   []int64
	claim bool         // ClaimLines before writing
	pre   poolPrologue // bnrun.AffineAveragePool's (planes not nil), or none
}

// Range pools planes [lo, hi).
func (a *poolArgs) Range(lo, hi int) {
	g := a.g
	out := g.D.Out * g.H.Out * g.W.Out // a plane's outputs
	if a.claim {
		kern.ClaimLines(a.y[lo*out : hi*out])
	}
	if a.pre.planes == nil {
		a.planes(g, a.x, a.y, a.idx, lo, hi)
		return
	}
	// each plane through the prologue into a scratch plane, then pooled
	// from there as the only plane of a pool of one
	hw := g.D.In * g.H.In * g.W.In
	buf := a.pre.planes.get()
	defer a.pre.planes.put(buf)
	xq := buf[:hw]
	g1 := *g
	g1.Planes = 1
	c := len(a.pre.a)
	for p := lo; p < hi; p++ {
		ch := p % c
		kern.AffineRow(a.k, xq, a.x[p*hw:(p+1)*hw], a.pre.a[ch], a.pre.b[ch], a.pre.relu)
		a.planes(&g1, xq, a.y[p*out:(p+1)*out], nil, 0, 1)
	}
}

// planes pools planes [lo, hi) of x into y (and idx, when not nil) for
// geometry g.
func (a *poolArgs) planes(g *kern.PoolGeom, x, y []float32, idx []int64, lo, hi int) {
	pa := a.pa
	if !pa.max && avgPlanes2s2(a.k, g) {
		// every plane's windows inside it and its input rows exactly two
		// per output row: planes [lo, hi) are (hi-lo)·OH output rows, row
		// r reading input rows 2r and 2r+1 (the divisor 2·2)
		ohw, hw := g.H.Out*g.W.Out, g.H.In*g.W.In
		a.k.AvgPool2s2Rows(y[lo*ohw:hi*ohw], g.W.Out, x[lo*hw:hi*hw], g.W.In, (hi-lo)*g.H.Out, g.W.Out, 4)
		return
	}
	rows := g.Flat() && g.W.Dil == 1 && g.W.In <= maxRowsWidth
	var buf *[2 * maxRowsWidth]float32
	if rows {
		buf = a.rows.get()
		defer a.rows.put(buf)
	}
	for p := lo; p < hi; p++ {
		switch {
		case rows && pa.max && idx == nil && maxPlane3s2(a.k, g, p, x, y):
		case rows && (!pa.max || idx == nil):
			planeRows(a.k, g, p, x, y, buf[:maxRowsWidth], buf[maxRowsWidth:], pa.max, pa.countPad)
		case pa.max:
			kern.MaxPoolPlane(g, p, x, y, idx, pa.storageOrder == 1)
		default:
			kern.AvgPoolPlane(g, p, x, y, pa.countPad)
		}
	}
}

// avgPlanes2s2 reports whether an average pooling of geometry g runs on
// k's AvgPool2s2Rows, whole runs of planes at a time: a 2-D 2×2 window at
// stride 2 without padding or dilation, on planes of exactly 2·OH rows
// and at least 2·OW columns, so that every window lies inside its plane
// and holds 4 values (count_include_pad does not matter).
func avgPlanes2s2(k *kern.Tier, g *kern.PoolGeom) bool {
	h, w := &g.H, &g.W
	return k != nil && k.AvgPool2s2Rows != nil && g.Flat() &&
		h.K == 2 && w.K == 2 && h.S == 2 && w.S == 2 && h.Dil == 1 && w.Dil == 1 &&
		h.Pad0 == 0 && h.Pad1 == 0 && w.Pad0 == 0 && w.Pad1 == 0 &&
		h.In == 2*h.Out && w.In >= 2*w.Out
}

// maxPlane3s2 computes plane p of a 3×3 stride-2 max pooling (ResNet's
// and DenseNet's stem pool) as planeRows does, bit for bit, where every
// window holds two or three input rows, and reports whether it applies.
// planeRows' per-row set-up (the window's rows, the inside windows, the
// kernel calls through poolRowFast) cost as much as the kernel itself on
// a 64×112×112 stem output; here it is done once per plane (maxRows3s2),
// and each row is two kernel calls and its border windows:
//
//	y[oh][ow] = max over kh, kw < 3 of x[2oh - Pad0 + kh][2ow - Pad0 + kw]
//
// over the taps inside the plane, each window's rows first (top to
// bottom), then its columns (left to right), a builtin max each.
func maxPlane3s2(k *kern.Tier, g *kern.PoolGeom, p int, x, y []float32) bool {
	h, w := &g.H, &g.W
	// At most one row of padding at either end: every window holds two
	// or three rows.
	if k == nil || k.MaxPool3s2 == nil || h.K != 3 || w.K != 3 || h.S != 2 || w.S != 2 ||
		h.Dil != 1 || w.Dil != 1 || h.Pad0 > 1 || h.Pad1 > 1 {
		return false
	}
	hw, ohw := h.In*w.In, h.Out*w.Out
	maxRows3s2(k, g, x[p*hw:(p+1)*hw], y[p*ohw:(p+1)*ohw], 0, h.Out)
	return true
}

// maxRows3s2 computes output rows [oh0, oh1) of a plane of a 3×3 stride-2
// max pooling, each of whose windows holds two or three rows, into yr (the
// rows one after another) from the input plane xp: 8 or more windows
// inside a row on k's MaxPool3s2 (n of them at the first and, past a
// multiple of 8, the 8 ending at the last), every other window with
// maxBorder3.
func maxRows3s2(k *kern.Tier, g *kern.PoolGeom, xp, yr []float32, oh0, oh1 int) {
	h, w := &g.H, &g.W
	lo, hi := poolInside(w)
	lo, hi = min(lo, w.Out), min(hi, w.Out)
	d0, d1 := 0, 0 // the windows of a row the kernel computes
	n := max(0, hi-lo) &^ 7
	if n > 0 {
		d0, d1 = lo, hi
	}
	c0, c1 := 2*lo-w.Pad0, 2*(hi-8)-w.Pad0
	// The rows [a, b) whose windows hold three input rows, 2oh - Pad0
	// on: their inside windows in one call of k's MaxPool3s2Rows where
	// it has one, the whole run of rows and any count of windows (two
	// calls a row before), their border windows below. ResNet-18,
	// alternating runs in one process (Zen 5): 0.98 of its time on one
	// thread, 0.995 on two.
	a, b := oh0, oh0
	if k.MaxPool3s2Rows != nil && hi > lo {
		a, b = max(oh0, (h.Pad0+1)/2), oh1
		for b > a && 2*(b-1)-h.Pad0+2 >= h.In {
			b--
		}
		if b > a {
			cs := 2*lo - w.Pad0
			k.MaxPool3s2Rows(yr[(a-oh0)*w.Out+lo:], w.Out, xp[(2*a-h.Pad0)*w.In+cs:], w.In, b-a, hi-lo)
		}
	}
	for oh := oh0; oh < oh1; oh++ {
		hs := oh*2 - h.Pad0
		khLo, khHi := kern.TapRange(hs, 1, h.In, 3)
		// two rows are three with the first twice: max(v, v) is v
		r0 := xp[(hs+khLo)*w.In : (hs+khLo+1)*w.In]
		r1, r2 := r0, xp[(hs+khHi-1)*w.In:(hs+khHi)*w.In]
		if khHi-khLo == 3 {
			r1 = xp[(hs+khLo+1)*w.In : (hs+khLo+2)*w.In]
		}
		row := yr[(oh-oh0)*w.Out : (oh-oh0+1)*w.Out]
		if oh >= a && oh < b {
			// the inside windows made above: the borders only
			for ow := range lo {
				row[ow] = maxBorder3(r0, r1, r2, ow*2-w.Pad0)
			}
			for ow := hi; ow < w.Out; ow++ {
				row[ow] = maxBorder3(r0, r1, r2, ow*2-w.Pad0)
			}
			continue
		}
		if n > 0 {
			k.MaxPool3s2(row[lo:lo+n], r0[c0:], r1[c0:], r2[c0:])
			if n < hi-lo {
				k.MaxPool3s2(row[hi-8:hi], r0[c1:], r1[c1:], r2[c1:])
			}
		}
		for ow := range d0 {
			row[ow] = maxBorder3(r0, r1, r2, ow*2-w.Pad0)
		}
		for ow := d1; ow < w.Out; ow++ {
			row[ow] = maxBorder3(r0, r1, r2, ow*2-w.Pad0)
		}
	}
}

// maxBorder3 is the window of three rows and the columns [ws, ws+3) that
// lie inside them, which holds at least one: R(c) = max(max(r0[c],
// r1[c]), r2[c]), then R of the first column, maxed with each next one.
func maxBorder3(r0, r1, r2 []float32, ws int) float32 {
	a, b := max(ws, 0), min(ws+3, len(r0))
	v := max(max(r0[a], r1[a]), r2[a])
	for c := a + 1; c < b; c++ {
		v = max(v, max(max(r0[c], r1[c]), r2[c]))
	}
	return v
}

// poolRowFast computes output row yr of planeRows on the tier's row
// kernels when it has one for the geometry, and reports whether it did:
// 3×3 stride-2 max pooling (two or three input rows in the window) and
// 2×2 stride-2 average pooling whose windows all lie inside the row.
// Windows inside the row go to the kernel in multiples of 8, the rest are
// computed here in planeRows' order: the window's rows top to bottom,
// then its columns left to right (then the division by nh·KW for an
// average).
func poolRowFast(k *kern.Tier, g *kern.PoolGeom, xp, yr []float32, hs, khLo, khHi, nh int, isMax bool) bool {
	h, w := &g.H, &g.W
	if k == nil || h.S != 2 || w.S != 2 || h.Dil != 1 || w.Dil != 1 {
		return false
	}
	row := func(kh int) []float32 { return xp[(hs+kh)*w.In : (hs+kh+1)*w.In] }
	switch {
	case isMax && k.MaxPool3s2 != nil && h.K == 3 && w.K == 3 && khHi-khLo >= 2:
		oh := (hs + h.Pad0) / 2
		maxRows3s2(k, g, xp, yr, oh, oh+1)
		return true
	case !isMax && k.AvgPool2s2 != nil && h.K == 2 && w.K == 2 && khHi-khLo == 2 && w.Pad0 == 0 && 2*len(yr) <= w.In:
		// every window inside the row
		r0, r1 := row(khLo), row(khLo+1)
		div := float32(nh * 2)
		n := len(yr) &^ 7
		if n > 0 {
			k.AvgPool2s2(yr[:n], r0, r1, div)
			if n < len(yr) {
				// the last windows: the kernel's 8 ending at the row's end
				c := 2 * (len(yr) - 8)
				k.AvgPool2s2(yr[len(yr)-8:], r0[c:], r1[c:], div)
				n = len(yr)
			}
		}
		for ow := n; ow < len(yr); ow++ {
			// y = ((r0 + r1)[2ow] + (r0 + r1)[2ow+1]) / (nh·2)
			yr[ow] = ((r0[2*ow] + r1[2*ow]) + (r0[2*ow+1] + r1[2*ow+1])) / div
		}
		return true
	}
	return false
}
