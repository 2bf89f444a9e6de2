package kern

import (
	"math"
	"unsafe"
)

// MicroGo returns the portable Go twin of an mr×w micro-kernel (see
// MicroKernel): what the assembly kernels compute, one fused multiply-add
// per term, in the same order. Tests compare the assembly with it, and it
// lets the blocked driver be tested on any architecture.
func MicroGo(mr, w int) MicroKernel { return microGoOf(mr, mr, w) }

// microGoOf is MicroGo for the first mr rows of groups of ga packed rows
// of A.
func microGoOf(ga, mr, w int) MicroKernel {
	return func(k int, a, b, c *float32, ldc int, bias, resid *float32, flags int, clip *float32) {
		as := unsafe.Slice(a, max(k*ga-ga+mr, 0))
		bs := unsafe.Slice(b, k*w)
		cs := unsafe.Slice(c, (mr-1)*ldc+w)
		var zs []float32
		if resid != nil {
			zs = unsafe.Slice(resid, (mr-1)*ldc+w)
		}
		var bv, cb []float32
		if bias != nil {
			bv = unsafe.Slice(bias, mr)
		}
		if clip != nil {
			cb = unsafe.Slice(clip, 2)
		}
		for i := range mr {
			for j := range w {
				// s = sum_p fma(a[i][p], b[p][j], s), each step rounded once
				var s float32
				for p := range k {
					s = fma32(as[p*ga+i], bs[p*w+j], s)
				}
				if flags&microAccumulate != 0 {
					s += cs[i*ldc+j]
				}
				if bv != nil {
					s += bv[i]
				}
				if zs != nil {
					s += zs[i*ldc+j]
				}
				if flags&microRelu != 0 && s < 0 {
					s = 0
				}
				if cb != nil && s == s {
					s = min(max(s, cb[0]), cb[1]) // a NaN s is kept as it is
				}
				cs[i*ldc+j] = s
			}
		}
	}
}

// fma32 is x*y+z for float32 rounded once, as an FMA instruction computes
// it. The product is exact in float64; the sum, when float64 cannot hold
// it, is taken to the neighbour with an odd last bit (rounding to odd),
// so that rounding it to float32 rounds the exact sum (53 bits are more
// than 24 + 1: no second rounding can land on a tie the first made).
func fma32(x, y, z float32) float32 {
	p, c := float64(x)*float64(y), float64(z)
	s := p + c
	// the sum's rounding error (TwoSum), exact
	pp := s - c
	e := (p - pp) + (c - (s - pp))
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Inf(int(math.Copysign(1, e))))
	}
	return float32(s)
}

// MicroGoOffs returns the portable Go twin of an mr×w offsets micro-kernel
// (see MicroKernelOffs). Its reads of b are bounded by the largest offset.
func MicroGoOffs(mr, w int) MicroKernelOffs { return MicroGoOffsOf(mr, mr, w) }

// MicroGoOffsOf returns the Go twin of an offsets micro-kernel that
// computes the first mr rows of groups of ga packed rows of A (see
// BlockedSpec.OffsRows).
func MicroGoOffsOf(ga, mr, w int) MicroKernelOffs {
	packed := microGoOf(ga, mr, w)
	return func(k int, a, b *float32, boff *int32, c *float32, ldc int, bias, resid *float32, flags int, clip *float32, groups int) {
		if groups <= 0 {
			return
		}
		offs := unsafe.Slice(boff, k)
		bs := unsafe.Slice(b, maxOffset(offs)+w)
		pan := make([]float32, max(1, k*w))
		for p, o := range offs {
			// pan[p][j] = b[boff[p]+j]
			copy(pan[p*w:(p+1)*w], bs[o:int(o)+w])
		}
		// group g: a + g·k·ga, C, bias and resid mr·g rows on
		for g := range groups {
			ag := unsafe.Add(unsafe.Pointer(a), 4*g*k*ga)
			cg := unsafe.Add(unsafe.Pointer(c), 4*g*mr*ldc)
			bg, rg := bias, resid
			if bias != nil {
				bg = (*float32)(unsafe.Add(unsafe.Pointer(bias), 4*g*mr))
			}
			if resid != nil {
				rg = (*float32)(unsafe.Add(unsafe.Pointer(resid), 4*g*mr*ldc))
			}
			packed(k, (*float32)(ag), &pan[0], (*float32)(cg), ldc, bg, rg, flags, clip)
		}
	}
}

// MicroGoOffsCols returns the Go twin of an mr×w MicroKernelOffsCols: the
// offsets twin on the first cols columns, gathered into a panel w wide
// (zeros past cols) and computed into scratch, of which cols columns are
// stored; C and resid are read only there.
func MicroGoOffsCols(mr, w int) MicroKernelOffsCols {
	full := MicroGoOffs(mr, w)
	return func(k int, a, b *float32, boff *int32, c *float32, ldc int, bias, resid *float32, flags int, clip *float32, groups, cols int) {
		if groups <= 0 {
			return
		}
		offs := unsafe.Slice(boff, k)
		bs := unsafe.Slice(b, maxOffset(offs)+cols)
		pan := make([]float32, max(1, k*w))
		seq := make([]int32, k)
		for p, o := range offs {
			// pan[p][j] = b[boff[p]+j] for j < cols, 0 after
			copy(pan[p*w:p*w+cols], bs[o:int(o)+cols])
			seq[p] = int32(p * w)
		}
		rows := groups * mr
		cs := unsafe.Slice(c, (rows-1)*ldc+cols)
		tmp := make([]float32, rows*w)
		var rt []float32
		var rp *float32
		if resid != nil {
			rs := unsafe.Slice(resid, (rows-1)*ldc+cols)
			rt = make([]float32, rows*w)
			for i := range rows {
				copy(rt[i*w:i*w+cols], rs[i*ldc:i*ldc+cols])
			}
			rp = &rt[0]
		}
		for i := range rows {
			copy(tmp[i*w:i*w+cols], cs[i*ldc:i*ldc+cols])
		}
		full(k, a, &pan[0], &seq[0], &tmp[0], w, bias, rp, flags&^microPrefetch, clip, groups)
		for i := range rows {
			copy(cs[i*ldc:i*ldc+cols], tmp[i*w:i*w+cols])
		}
	}
}

// maxOffset returns the largest of offs (0 when there is none): how far
// past its base a twin's reads through the offsets reach.
func maxOffset(offs []int32) int {
	hi := 0
	for _, o := range offs {
		hi = max(hi, int(o))
	}
	return hi
}

// OffsFewGo returns the Go twin of BlockedSpec.OffsFew for g groups of mr
// packed rows: the columns' sums in the micro-kernels' order, bit for bit.
//
//	C[i][j] = Σ_p A[i][p]·b[boff[p]+j] [+ C[i][j]]   for i < g·mr, j < cols
func OffsFewGo(g, mr int) func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int) {
	return func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int) {
		if cols <= 0 {
			return
		}
		as := unsafe.Slice(a, g*k*mr)
		offs := unsafe.Slice(boff, k)
		bs := unsafe.Slice(b, maxOffset(offs)+cols)
		cs := unsafe.Slice(c, (g*mr-1)*ldc+cols)
		for i := range g * mr {
			for j := range cols {
				var s float32
				for p := range k {
					s = fma32(as[(i/mr)*k*mr+p*mr+i%mr], bs[int(offs[p])+j], s)
				}
				if flags&microAccumulate != 0 {
					s += cs[i*ldc+j]
				}
				cs[i*ldc+j] = s
			}
		}
	}
}
