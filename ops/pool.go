package ops

import (
	"math"
	"sync"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("MaxPool", func(n *Node) (Kernel, error) { return buildPool(n, true) })
	Register("AveragePool", func(n *Node) (Kernel, error) { return buildPool(n, false) })
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
// planeRows); 3-D ones, and the rest, on the plain loops of maxPlane and
// avgPlane.
func buildPool(n *Node, isMax bool) (Kernel, error) {
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
	} else {
		if n.Opset < 19 {
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
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		return preparePool(n, pa, in)
	}), nil
}

// poolGeom is a pool's geometry as a 3-D one: a 2-D pool has depth 1 (d
// is one input, one output, a window of 1), a 1-D pool height 1 as well.
type poolGeom struct {
	planes  int // N·C
	d, h, w span
}

// flat reports whether g has a depth of one (a 1-D or 2-D pool).
func (g *poolGeom) flat() bool { return g.d.in == 1 && g.d.out == 1 && g.d.k == 1 }

// kRange returns the kernel taps [lo, hi) whose position start + k·d lies
// in [0, size).
func kRange(start, d, size, k int) (lo, hi int) {
	if start < 0 {
		lo = kern.CeilDiv(-start, d)
	}
	if size-1-start < 0 {
		return lo, lo
	}
	hi = min(k, (size-1-start)/d+1)
	return lo, max(lo, hi)
}

// emptyWindow returns the first output along a whose window holds no input
// position, or -1. Only windows that start in the padding can be empty: a
// window starting inside the input holds its first tap.
func emptyWindow(a span) int {
	for o := range min(a.out, kern.CeilDiv(a.pad0, a.s)) {
		if lo, hi := kRange(o*a.s-a.pad0, a.d, a.in, a.k); lo >= hi {
			return o
		}
	}
	if last := a.out - 1; last >= 0 && last*a.s-a.pad0 >= a.in {
		return last
	}
	return -1
}

func preparePool(n *Node, pa *poolAttrs, in []*Value) ([]Value, Step, error) {
	if len(in) != 1 {
		return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
	}
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
	one := span{in: 1, out: 1, k: 1, s: 1, d: 1}
	g := poolGeom{planes: xs[0] * xs[1], d: one, h: one, w: sp[0]}
	outShape := []int{xs[0], xs[1]}
	for _, a := range sp {
		outShape = append(outShape, a.out)
	}
	switch r {
	case 2:
		g.h, g.w = sp[0], sp[1]
	case 3:
		g.d, g.h, g.w = sp[0], sp[1], sp[2]
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
		forChunksOf(env, g.planes, 1, poolArgs{kern.TierOf(env), rows, &g, pa, x, y, idx})
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
	if r == 3 {
		var dev *Pool3DDev
		if len(outs) == 1 || !hasOutput(n, 1) {
			dev = &Pool3DDev{Max: pa.max, CountPad: pa.countPad, Planes: g.planes}
			for i, a := range sp {
				dev.In[i], dev.Out[i], dev.K[i], dev.S[i], dev.D[i], dev.Pad[i] = a.in, a.out, a.k, a.s, a.d, a.pad0
			}
		}
		return outs, Step{Run: run, Dev: devOrNil(dev)}, nil
	}
	var dev *PoolDev
	if len(outs) == 1 || !hasOutput(n, 1) {
		dev = &PoolDev{Max: pa.max, CountPad: pa.countPad, Planes: g.planes, H: g.h.in, W: g.w.in,
			OH: g.h.out, OW: g.w.out, KH: g.h.k, KW: g.w.k, SH: g.h.s, SW: g.w.s, DH: g.h.d, DW: g.w.d,
			PadT: g.h.pad0, PadL: g.w.pad0, PadB: g.h.pad1, PadR: g.w.pad1}
	}
	return outs, Step{Run: run, Dev: devOrNil(dev)}, nil
}

// inside returns the outputs [lo, hi) of a whose windows (undilated) lie
// entirely inside the input: lo·s - pad0 >= 0 and (hi-1)·s - pad0 + k <= in.
func (a *span) inside() (lo, hi int) {
	lo = kern.CeilDiv(a.pad0, a.s)
	if a.in+a.pad0 < a.k {
		return lo, lo
	}
	hi = min(a.out, (a.in+a.pad0-a.k)/a.s+1)
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
// average pooling like maxPlane or avgPlane, for windows without
// horizontal dilation, in three vector passes per output row on k's Max
// or Add kernel, then a pick:
//
//	r[iw] = op over the window's rows kh of x[ih][iw]          (top to bottom)
//	m[i]  = op(op(r[i], r[i+1]), ...), K values                 (left to right)
//	y[oh][ow] = m[ow·SW - pad]  (/ count for an average)
//
// with op = max (NaN wins) or +. Windows that reach into the horizontal
// padding are finished from r one at a time, in the same order. Averages
// add in another order than avgPlane's. rbuf and mbuf are scratch rows of
// at least W values.
func (g *poolGeom) planeRows(k *kern.Tier, p int, x, y, rbuf, mbuf []float32, isMax, countPad bool) {
	h, w := &g.h, &g.w
	hw := h.in * w.in
	xp := x[p*hw : (p+1)*hw]
	ohw := h.out * w.out
	yp := y[p*ohw : (p+1)*ohw]
	// op(dst, a, b): dst = max(a, b) or a + b, elementwise
	op := func(dst, a, b []float32) {
		if isMax {
			kern.MaxRow(k, dst, a, b)
		} else {
			kern.AddRow(k, dst, a, b, false)
		}
	}
	r := rbuf[:w.in]
	in0, in1 := w.inside()
	var m []float32
	if in1 > in0 {
		m = mbuf[:w.in-w.k+1]
	}
	for oh := range h.out {
		hs := oh*h.s - h.pad0
		khLo, khHi := kRange(hs, h.d, h.in, h.k)
		yr := yp[oh*w.out : (oh+1)*w.out]
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
			lo, hi := kRange(hs+h.pad0, h.d, h.in+h.pad0+h.pad1, h.k)
			nh = hi - lo
		}
		if g.poolRowFast(k, xp, yr, hs, khLo, khHi, nh, isMax) {
			continue
		}
		copy(r, xp[(hs+khLo*h.d)*w.in:])
		for kh := khLo + 1; kh < khHi; kh++ {
			op(r, r, xp[(hs+kh*h.d)*w.in:(hs+kh*h.d+1)*w.in])
		}
		if m != nil {
			copy(m, r)
			for kw := 1; kw < w.k; kw++ {
				op(m, m, r[kw:kw+len(m)])
			}
		}
		// Windows inside the row: y[ow] = m[ow·SW - pad0] (/ nh·K), a
		// plain strided pick; the others (at most a few at each end) are
		// finished from r one at a time.
		lo, hi := min(in0, len(yr)), min(in1, len(yr))
		if m != nil {
			pick := yr[lo:hi]
			src := m[lo*w.s-w.pad0:]
			if isMax {
				for i := range pick {
					pick[i] = src[i*w.s]
				}
			} else {
				div := float32(nh * w.k)
				for i := range pick {
					pick[i] = src[i*w.s] / div
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
			ws := ow*w.s - w.pad0
			kwLo, kwHi := kRange(ws, 1, w.in, w.k)
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
					lo, hi := kRange(ws+w.pad0, 1, w.in+w.pad0+w.pad1, w.k)
					nw = hi - lo
				}
				v /= float32(nh * nw)
			}
			yr[ow] = v
		}
	}
}

// maxPlane computes the maxima (and their flat indices when idx is not nil)
// of plane p, a volume of D×H×W (D = 1 for 2-D).
func (g *poolGeom) maxPlane(p int, x, y []float32, idx []int64, colMajor bool) {
	d, h, w := &g.d, &g.h, &g.w
	hw := h.in * w.in
	dhw := d.in * hw
	xp := x[p*dhw : (p+1)*dhw]
	ohw := h.out * w.out
	odhw := d.out * ohw
	yp := y[p*odhw : (p+1)*odhw]
	for od := range d.out {
		ds := od*d.s - d.pad0
		kdLo, kdHi := kRange(ds, d.d, d.in, d.k)
		for oh := range h.out {
			hs := oh*h.s - h.pad0
			khLo, khHi := kRange(hs, h.d, h.in, h.k)
			for ow := range w.out {
				ws := ow*w.s - w.pad0
				kwLo, kwHi := kRange(ws, w.d, w.in, w.k)
				// y = max over the window's input positions (NaN wins)
				best, bd, bh, bw := float32(math.Inf(-1)), -1, -1, -1
				for kd := kdLo; kd < kdHi; kd++ {
					id := ds + kd*d.d
					for kh := khLo; kh < khHi; kh++ {
						ih := hs + kh*h.d
						row := xp[id*hw+ih*w.in : id*hw+(ih+1)*w.in]
						for kw := kwLo; kw < kwHi; kw++ {
							iw := ws + kw*w.d
							if v := row[iw]; bh < 0 || v > best || v != v {
								best, bd, bh, bw = v, id, ih, iw
							}
						}
					}
				}
				o := od*ohw + oh*w.out + ow
				yp[o] = best
				if idx != nil {
					// Index in N×C×D×H×W, spatial part row- or column-major.
					at := bd*hw + bh*w.in + bw
					if colMajor {
						at = bd + bh*d.in + bw*d.in*h.in
					}
					idx[p*odhw+o] = int64(p*dhw + at)
				}
			}
		}
	}
}

// avgPlane computes the window averages of plane p, a volume of D×H×W
// (D = 1 for 2-D).
func (g *poolGeom) avgPlane(p int, x, y []float32, countPad bool) {
	d, h, w := &g.d, &g.h, &g.w
	hw := h.in * w.in
	dhw := d.in * hw
	xp := x[p*dhw : (p+1)*dhw]
	ohw := h.out * w.out
	odhw := d.out * ohw
	yp := y[p*odhw : (p+1)*odhw]
	// count returns how many of a window's taps along a count: those
	// inside the input, or with countPad inside the padded input.
	count := func(a *span, start, lo, hi int) int {
		if countPad {
			lo, hi = kRange(start+a.pad0, a.d, a.in+a.pad0+a.pad1, a.k)
		}
		return hi - lo
	}
	for od := range d.out {
		ds := od*d.s - d.pad0
		kdLo, kdHi := kRange(ds, d.d, d.in, d.k)
		nd := count(d, ds, kdLo, kdHi)
		for oh := range h.out {
			hs := oh*h.s - h.pad0
			khLo, khHi := kRange(hs, h.d, h.in, h.k)
			nh := count(h, hs, khLo, khHi)
			for ow := range w.out {
				ws := ow*w.s - w.pad0
				kwLo, kwHi := kRange(ws, w.d, w.in, w.k)
				nw := count(w, ws, kwLo, kwHi)
				// y = (sum of the window's input values) / count
				var s float32
				for kd := kdLo; kd < kdHi; kd++ {
					id := ds + kd*d.d
					for kh := khLo; kh < khHi; kh++ {
						ih := hs + kh*h.d
						row := xp[id*hw+ih*w.in : id*hw+(ih+1)*w.in]
						for kw := kwLo; kw < kwHi; kw++ {
							s += row[ws+kw*w.d]
						}
					}
				}
				yp[od*ohw+oh*w.out+ow] = s / float32(nd*nh*nw)
			}
		}
	}
}

// poolArgs are a pooling step's operands.
type poolArgs struct {
	k    *kern.Tier
	rows *poolRows
	g    *poolGeom
	pa   *poolAttrs
	x, y []float32
	idx  []int64
}

// Range pools planes [lo, hi).
func (a *poolArgs) Range(lo, hi int) {
	g, pa := a.g, a.pa
	if !pa.max && g.avgPlanes2s2(a.k) {
		// every plane's windows inside it and its input rows exactly two
		// per output row: planes [lo, hi) are (hi-lo)·OH output rows, row
		// r reading input rows 2r and 2r+1 (the divisor 2·2)
		ohw, hw := g.h.out*g.w.out, g.h.in*g.w.in
		a.k.AvgPool2s2Rows(a.y[lo*ohw:hi*ohw], g.w.out, a.x[lo*hw:hi*hw], g.w.in, (hi-lo)*g.h.out, g.w.out, 4)
		return
	}
	rows := g.flat() && g.w.d == 1 && g.w.in <= maxRowsWidth
	var buf *[2 * maxRowsWidth]float32
	if rows {
		buf = a.rows.get()
		defer a.rows.put(buf)
	}
	for p := lo; p < hi; p++ {
		switch {
		case rows && (!pa.max || a.idx == nil):
			g.planeRows(a.k, p, a.x, a.y, buf[:maxRowsWidth], buf[maxRowsWidth:], pa.max, pa.countPad)
		case pa.max:
			g.maxPlane(p, a.x, a.y, a.idx, pa.storageOrder == 1)
		default:
			g.avgPlane(p, a.x, a.y, pa.countPad)
		}
	}
}

// avgPlanes2s2 reports whether an average pooling of geometry g runs on
// k's AvgPool2s2Rows, whole runs of planes at a time: a 2-D 2×2 window at
// stride 2 without padding or dilation, on planes of exactly 2·OH rows
// and at least 2·OW columns, so that every window lies inside its plane
// and holds 4 values (count_include_pad does not matter).
func (g *poolGeom) avgPlanes2s2(k *kern.Tier) bool {
	h, w := &g.h, &g.w
	return k != nil && k.AvgPool2s2Rows != nil && g.flat() &&
		h.k == 2 && w.k == 2 && h.s == 2 && w.s == 2 && h.d == 1 && w.d == 1 &&
		h.pad0 == 0 && h.pad1 == 0 && w.pad0 == 0 && w.pad1 == 0 &&
		h.in == 2*h.out && w.in >= 2*w.out
}

// poolRowFast computes output row yr of planeRows on the tier's row
// kernels when it has one for the geometry, and reports whether it did:
// 3×3 stride-2 max pooling (two or three input rows in the window) and
// 2×2 stride-2 average pooling whose windows all lie inside the row.
// Windows inside the row go to the kernel in multiples of 8, the rest are
// computed here in planeRows' order: the window's rows top to bottom,
// then its columns left to right (then the division by nh·KW for an
// average).
func (g *poolGeom) poolRowFast(k *kern.Tier, xp, yr []float32, hs, khLo, khHi, nh int, isMax bool) bool {
	h, w := &g.h, &g.w
	if k == nil || h.s != 2 || w.s != 2 || h.d != 1 || w.d != 1 {
		return false
	}
	row := func(kh int) []float32 { return xp[(hs+kh)*w.in : (hs+kh+1)*w.in] }
	switch {
	case isMax && k.MaxPool3s2 != nil && h.k == 3 && w.k == 3 && khHi-khLo >= 2:
		// two rows are three with the first twice: max(v, v) is v
		r0, r1, r2 := row(khLo), row(khLo), row(khHi-1)
		if khHi-khLo == 3 {
			r1 = row(khLo + 1)
		}
		lo, hi := w.inside()
		lo, hi = min(lo, len(yr)), min(hi, len(yr))
		n := (hi - lo) &^ 7
		if n > 0 {
			c := 2*lo - w.pad0
			k.MaxPool3s2(yr[lo:lo+n], r0[c:], r1[c:], r2[c:])
		}
		if n > 0 && n < hi-lo {
			// the last hi-lo-n windows: the kernel's 8 windows ending at
			// hi, the first ones again (the same values)
			c := 2*(hi-8) - w.pad0
			k.MaxPool3s2(yr[hi-8:hi], r0[c:], r1[c:], r2[c:])
			n = hi - lo
		}
		for ow := 0; ow < len(yr); ow++ {
			if ow == lo && n > 0 {
				ow += n - 1 // the inside, done above
				continue
			}
			ws := ow*2 - w.pad0
			kwLo, kwHi := kRange(ws, 1, w.in, 3)
			if kwLo >= kwHi {
				yr[ow] = float32(math.Inf(-1)) // no input column: a guard, as in planeRows
				continue
			}
			// R(c) = max(max(r0[c], r1[c]), r2[c]); y = R(c0), then max with each next column
			v := max(max(r0[ws+kwLo], r1[ws+kwLo]), r2[ws+kwLo])
			for c := ws + kwLo + 1; c < ws+kwHi; c++ {
				v = max(v, max(max(r0[c], r1[c]), r2[c]))
			}
			yr[ow] = v
		}
		return true
	case !isMax && k.AvgPool2s2 != nil && h.k == 2 && w.k == 2 && khHi-khLo == 2 && w.pad0 == 0 && 2*len(yr) <= w.in:
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
