package kern

import "math"

// Pools (ONNX's MaxPool and AveragePool over 3-D, 4-D and 5-D tensors):
// the geometry every backend reads (PoolGeom), the plain loops that are
// their definition (MaxPoolPlane, AvgPoolPlane: the oracle of the tiers'
// row kernels and of the CUDA kernels), and the tiers' row kernels'
// portable twins.

// PoolAxis is a pool's window along one spatial axis: In input positions
// pooled into Out outputs by windows of K taps, S apart (the stride), the
// taps of a window Dil apart (the dilation), with Pad0 positions of
// padding before the input and Pad1 after it. Output o's window covers
// positions o·S - Pad0 + k·Dil for k < K. Padding never enters a maximum,
// and counts in an average's divisor only with count_include_pad, and
// then only inside [-Pad0, In + Pad1) (positions past the end padding,
// which ceil_mode can add, never count). Out is given, not derived (the
// operator works it out, ceil_mode included).
type PoolAxis struct {
	In, Out    int
	K, S, Dil  int
	Pad0, Pad1 int
}

// PoolGeom is the geometry of a max or average pool over Planes planes
// (N·C of them) of D×H×W values each, into Planes planes of
// D.Out×H.Out×W.Out: a 2-D pool has the depth axis UnitPoolAxis, a 1-D
// pool its height too.
type PoolGeom struct {
	Planes  int
	D, H, W PoolAxis
}

// UnitPoolAxis is the axis of size 1 that a 2-D pool has for its depth
// (and a 1-D one for its height): one position, one output, one tap.
var UnitPoolAxis = PoolAxis{In: 1, Out: 1, K: 1, S: 1, Dil: 1}

// Flat reports whether g has a depth of one (a 1-D or 2-D pool).
func (g *PoolGeom) Flat() bool { return g.D.In == 1 && g.D.Out == 1 && g.D.K == 1 }

// TapRange returns the taps [lo, hi) of a window of k taps d apart
// starting at position start whose positions start + t·d lie in [0,
// size): the window's taps inside an axis of size values.
func TapRange(start, d, size, k int) (lo, hi int) {
	if start < 0 {
		lo = CeilDiv(-start, d)
	}
	if size-1-start < 0 {
		return lo, lo
	}
	hi = min(k, (size-1-start)/d+1)
	return lo, max(lo, hi)
}

// divisor returns how many taps of the window starting at start along a
// enter an average's divisor: lo..hi are the taps inside the input;
// with countPad, those inside the padded input instead.
func (a *PoolAxis) divisor(start, lo, hi int, countPad bool) int {
	if countPad {
		lo, hi = TapRange(start+a.Pad0, a.Dil, a.In+a.Pad0+a.Pad1, a.K)
	}
	return hi - lo
}

// MaxPoolPlane computes the window maxima of plane p of a max pool of
// geometry g (x and y holding every plane), and their flat indices into
// idx when it is not nil: ONNX's Indices, the input position's index in
// the whole of x, its spatial part row-major, or column-major (d + h·D +
// w·D·H) when colMajor. A NaN in a window is its maximum; ties go to the
// first position in row-major window order. It is the plain definition,
// the oracle the fast pools are tested against: keep it plain.
func MaxPoolPlane(g *PoolGeom, p int, x, y []float32, idx []int64, colMajor bool) {
	d, h, w := &g.D, &g.H, &g.W
	hw := h.In * w.In
	dhw := d.In * hw
	xp := x[p*dhw : (p+1)*dhw]
	ohw := h.Out * w.Out
	odhw := d.Out * ohw
	yp := y[p*odhw : (p+1)*odhw]
	for od := range d.Out {
		ds := od*d.S - d.Pad0
		kdLo, kdHi := TapRange(ds, d.Dil, d.In, d.K)
		for oh := range h.Out {
			hs := oh*h.S - h.Pad0
			khLo, khHi := TapRange(hs, h.Dil, h.In, h.K)
			for ow := range w.Out {
				ws := ow*w.S - w.Pad0
				kwLo, kwHi := TapRange(ws, w.Dil, w.In, w.K)
				// y = max over the window's input positions (NaN wins)
				best, bd, bh, bw := float32(math.Inf(-1)), -1, -1, -1
				for kd := kdLo; kd < kdHi; kd++ {
					id := ds + kd*d.Dil
					for kh := khLo; kh < khHi; kh++ {
						ih := hs + kh*h.Dil
						row := xp[id*hw+ih*w.In : id*hw+(ih+1)*w.In]
						for kw := kwLo; kw < kwHi; kw++ {
							iw := ws + kw*w.Dil
							if v := row[iw]; bh < 0 || v > best || v != v {
								best, bd, bh, bw = v, id, ih, iw
							}
						}
					}
				}
				o := od*ohw + oh*w.Out + ow
				yp[o] = best
				if idx != nil {
					// Index in N×C×D×H×W, spatial part row- or column-major.
					at := bd*hw + bh*w.In + bw
					if colMajor {
						at = bd + bh*d.In + bw*d.In*h.In
					}
					idx[p*odhw+o] = int64(p*dhw + at)
				}
			}
		}
	}
}

// AvgPoolPlane computes the window averages of plane p of an average pool
// of geometry g (x and y holding every plane): the sum of the window's
// input values in row-major window order, divided by the number of its
// positions inside the input, or with countPad inside the padded input
// (see PoolAxis). It is the plain definition, the oracle the fast pools
// are tested against: keep it plain.
func AvgPoolPlane(g *PoolGeom, p int, x, y []float32, countPad bool) {
	d, h, w := &g.D, &g.H, &g.W
	hw := h.In * w.In
	dhw := d.In * hw
	xp := x[p*dhw : (p+1)*dhw]
	ohw := h.Out * w.Out
	odhw := d.Out * ohw
	yp := y[p*odhw : (p+1)*odhw]
	for od := range d.Out {
		ds := od*d.S - d.Pad0
		kdLo, kdHi := TapRange(ds, d.Dil, d.In, d.K)
		nd := d.divisor(ds, kdLo, kdHi, countPad)
		for oh := range h.Out {
			hs := oh*h.S - h.Pad0
			khLo, khHi := TapRange(hs, h.Dil, h.In, h.K)
			nh := h.divisor(hs, khLo, khHi, countPad)
			for ow := range w.Out {
				ws := ow*w.S - w.Pad0
				kwLo, kwHi := TapRange(ws, w.Dil, w.In, w.K)
				nw := w.divisor(ws, kwLo, kwHi, countPad)
				// y = (sum of the window's input values) / count
				var s float32
				for kd := kdLo; kd < kdHi; kd++ {
					id := ds + kd*d.Dil
					for kh := khLo; kh < khHi; kh++ {
						ih := hs + kh*h.Dil
						row := xp[id*hw+ih*w.In : id*hw+(ih+1)*w.In]
						for kw := kwLo; kw < kwHi; kw++ {
							s += row[ws+kw*w.Dil]
						}
					}
				}
				yp[od*ohw+oh*w.Out+ow] = s / float32(nd*nh*nw)
			}
		}
	}
}

// MaxPool3s2Go is the portable twin of Tier.MaxPool3s2: 3×3 windows at
// stride 2 along the rows r0, r1 and r2 (each read up to 2·len(dst)),
//
//	dst[j] = max over c in [2j, 2j+2] of max(max(r0[c], r1[c]), r2[c])
//
// each window's rows first (top to bottom), then its columns left to
// right, a builtin max each (NaN wins; +0 over -0).
func MaxPool3s2Go(dst, r0, r1, r2 []float32) {
	for j := range dst {
		v := max(max(r0[2*j], r1[2*j]), r2[2*j])
		for c := 2*j + 1; c <= 2*j+2; c++ {
			v = max(v, max(max(r0[c], r1[c]), r2[c]))
		}
		dst[j] = v
	}
}

// MaxPool3s2RowsGo is the portable twin of Tier.MaxPool3s2Rows: rows runs
// of MaxPool3s2Go, output row r at dst[r·ldd:] (n windows) from the input
// rows 2r, 2r+1 and 2r+2 at src[2r·lds:], src[(2r+1)·lds:] and
// src[(2r+2)·lds:] (each read up to 2n):
//
//	dst[r·ldd + j] = max over c in [2j, 2j+2] of max(max(src[2r·lds + c], src[(2r+1)·lds + c]), src[(2r+2)·lds + c])
func MaxPool3s2RowsGo(dst []float32, ldd int, src []float32, lds, rows, n int) {
	for r := range rows {
		s := src[2*r*lds:]
		MaxPool3s2Go(dst[r*ldd:r*ldd+n], s, s[lds:], s[2*lds:])
	}
}

// AvgPool2s2RowsGo is the portable twin of Tier.AvgPool2s2Rows:
//
//	dst[r·ldd + j] = ((src[2r·lds + 2j] + src[(2r+1)·lds + 2j]) + (src[2r·lds + 2j+1] + src[(2r+1)·lds + 2j+1])) / div
//
// for r < rows, j < n, each operation rounded, in this order.
func AvgPool2s2RowsGo(dst []float32, ldd int, src []float32, lds, rows, n int, div float32) {
	for r := range rows {
		r0, r1 := src[2*r*lds:2*r*lds+2*n], src[(2*r+1)*lds:(2*r+1)*lds+2*n]
		d := dst[r*ldd : r*ldd+n]
		for j := range d {
			d[j] = ((r0[2*j] + r1[2*j]) + (r0[2*j+1] + r1[2*j+1])) / div
		}
	}
}
