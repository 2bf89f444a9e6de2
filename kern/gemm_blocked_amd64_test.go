//go:build amd64 && !purego

package kern

import (
	"fmt"
	"math"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// asmTier is an assembly tier and the spec it was built from.
type asmTier struct {
	*Tier
	spec *BlockedSpec
}

// epilogueCase makes two equal mr×ldc tiles of C for a micro-kernel and
// its twin, and a bias (when flags&4), a residual (when flags&8) and Clip
// bounds (when flags&16).
func epilogueCase(seed uint64, mr, ldc, flags int) (got, want []float32, bias, resid, clip *float32) {
	c0 := kerntest.Rand(seed+2, mr*ldc)
	if flags&4 != 0 {
		bias = &kerntest.Rand(seed+3, mr)[0]
	}
	if flags&8 != 0 {
		resid = &kerntest.Rand(seed+4, mr*ldc)[0]
	}
	if flags&16 != 0 {
		clip = &[]float32{-0.25, 0.5}[0]
	}
	return append([]float32(nil), c0...), append([]float32(nil), c0...), bias, resid, clip
}

// asmTiers lists the assembly tiers, supported by this CPU or not.
var asmTiers = []asmTier{{AVX512, &avx512Spec}, {AVX2, &avx2Spec}}

// BenchmarkMicro runs each assembly micro-kernel on L1-resident operands
// (depth 128), the ceiling the blocked driver can reach, in GFLOP/s.
func BenchmarkMicro(b *testing.B) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		spec := k.spec
		for i, w := range spec.Widths {
			kern := spec.Kerns[i]
			const depth = 128
			a := kerntest.Rand(1, spec.MR*depth)
			bp := kerntest.Rand(2, depth*w)
			c := make([]float32, spec.MR*w)
			b.Run(fmt.Sprintf("%s/%dx%d", k.Name, spec.MR, w), func(b *testing.B) {
				for range b.N {
					kern(depth, &a[0], &bp[0], &c[0], w, nil, nil, 0, nil)
				}
				b.ReportMetric(2*float64(spec.MR*w*depth)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkTwoCores runs the best tier's widest micro-kernel on
// L1-resident operands on one goroutine and on two at once (each its own
// operands and OS thread), and reports how much more the two compute
// together: 2 where the machine's two CPUs are cores of their own, about 1
// where they are the two hardware threads of one core or take turns on
// one (a virtual machine's vCPUs can move between the two states within
// minutes). bench/compare_ort.sh prints it beside its table: a
// two-thread ratio is only worth what this says of the machine then.
func BenchmarkTwoCores(b *testing.B) {
	var k *asmTier
	for i := range asmTiers {
		if TierByName(asmTiers[i].Name) != nil {
			k = &asmTiers[i]
			break
		}
	}
	if k == nil {
		b.Skip("no assembly tier on this CPU")
	}
	spec := k.spec
	w, kern := spec.Widths[0], spec.Kerns[0]
	const depth, calls = 128, 200000
	work := func() {
		a := kerntest.Rand(1, spec.MR*depth)
		bp := kerntest.Rand(2, depth*w)
		c := make([]float32, spec.MR*w)
		for range calls {
			kern(depth, &a[0], &bp[0], &c[0], w, nil, nil, 0, nil)
		}
	}
	timed := func(g int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for range g {
			wg.Go(func() {
				goruntime.LockOSThread()
				defer goruntime.UnlockOSThread()
				work()
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var one, two time.Duration
	for range b.N {
		one += timed(1)
		two += timed(2)
	}
	// two goroutines do twice the work: 2·one/two is their speed-up
	b.ReportMetric(2*one.Seconds()/two.Seconds(), "speedup")
}

// TestMicroKernelsMatchTwin runs every assembly micro-kernel against its
// Go twin (MicroGo) for depths 0 to 40, a row stride of C beyond its width, and
// every combination of accumulate, bias, residual and Relu.
func TestMicroKernelsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		spec := k.spec
		for wi, w := range spec.Widths {
			kern, twin := spec.Kerns[wi], MicroGo(spec.MR, w)
			for _, depth := range []int{0, 1, 2, 7, 16, 40} {
				for flags := range 32 {
					ldc := w + 5
					a := kerntest.Rand(uint64(depth), max(1, spec.MR*depth))
					b := kerntest.Rand(uint64(depth+1), max(1, depth*w))
					got, want, bp, zp, cp := epilogueCase(uint64(depth), spec.MR, ldc, flags)
					kern(depth, &a[0], &b[0], &got[0], ldc, bp, zp, flags&3, cp)
					twin(depth, &a[0], &b[0], &want[0], ldc, bp, zp, flags&3, cp)
					// Columns beyond w are guards: untouched by both.
					kerntest.Check(t, fmt.Sprintf("%s %dx%d k=%d flags=%b", k.Name, spec.MR, w, depth, flags), got, want, 1e-6)
				}
			}
		}
	}
}

// TestMicroClipBits runs the micro-kernels' Clip epilogue on sums that
// are NaNs with payloads, zeros and values at and past the bounds, for
// bounds with +0 below, and compares the bits with the Go twin, and with
// the standalone Clip (min(max(v, lo), hi)) but for NaNs, which the
// kernels keep as they are.
func TestMicroClipBits(t *testing.T) {
	nans := []float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc12345), float32(math.NaN())}
	special := append([]float32{0, 6, 6.5, -1, 3, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-30}, nans...)
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		spec := k.spec
		for _, bounds := range [][2]float32{{0, 6}, {-1, 3}, {0.5, 0.5}, {2, -2}} {
			for wi, w := range spec.Widths {
				mr := spec.MR
				// depth 0: C[i][j] = resid[i][j], then clipped
				resid := make([]float32, mr*w)
				for i := range resid {
					resid[i] = special[i%len(special)]
				}
				got, want := make([]float32, mr*w), make([]float32, mr*w)
				clip := bounds
				a, b := []float32{0}, []float32{0}
				spec.Kerns[wi](0, &a[0], &b[0], &got[0], w, nil, &resid[0], 0, &clip[0])
				MicroGo(mr, w)(0, &a[0], &b[0], &want[0], w, nil, &resid[0], 0, &clip[0])
				for i, v := range resid {
					alone := v
					if v == v {
						alone = min(max(v, bounds[0]), bounds[1])
					}
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(got[i]) != math.Float32bits(alone) {
						t.Fatalf("%s %dx%d clip %v of %v (%#x): %v (%#x), twin %v (%#x), Clip %#x", k.Name, mr, w, bounds,
							v, math.Float32bits(v), got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), math.Float32bits(alone))
					}
				}
			}
		}
	}
}

// TestOffsKernelsMatchTwin runs the in-place (offsets) micro-kernels, the
// narrower ones, the masked one and those of a product's last rows,
// against their Go twins with scattered,
// repeated and decreasing offsets, one group of rows a call or three.
func TestOffsKernelsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		spec := k.spec
		w := spec.Widths[0]
		twin := MicroGoOffs(spec.MR, w)
		for _, depth := range []int{1, 3, 9, 33} {
			for flags := range 32 {
				ldc := w + 3
				a := kerntest.Rand(uint64(depth), spec.MR*depth)
				b := kerntest.Rand(uint64(depth+1), 500+w)
				offs := make([]int32, depth)
				for p := range offs {
					offs[p] = int32((p * 37) % 500)
				}
				for _, groups := range []int{1, 3} {
					// groups groups of rows in one call: A's panels one
					// after the other, C's, bias's and resid's rows too
					a := kerntest.Rand(uint64(depth+groups), spec.MR*depth*groups)
					got, want, bp, zp, cp := epilogueCase(uint64(depth), spec.MR*groups, ldc, flags)
					spec.Offs(depth, &a[0], &b[0], &offs[0], &got[0], ldc, bp, zp, flags&3|flags&4, cp, groups)
					twin(depth, &a[0], &b[0], &offs[0], &want[0], ldc, bp, zp, flags&3, cp, groups)
					kerntest.Check(t, fmt.Sprintf("%s offs %dx%d k=%d flags=%b groups=%d", k.Name, spec.MR, w, depth, flags, groups), got, want, 1e-6)
				}
				// The narrower kernels, one group of rows a call or three.
				for i, kern := range spec.OffsNarrow {
					nw := spec.Widths[len(spec.Widths)-1-i]
					for _, groups := range []int{1, 3} {
						a := kerntest.Rand(uint64(depth+groups), spec.MR*depth*groups)
						got, want, bp, zp, cp := epilogueCase(uint64(depth), spec.MR*groups, ldc, flags)
						kern(depth, &a[0], &b[0], &offs[0], &got[0], ldc, bp, zp, flags&3|flags&4, cp, groups)
						MicroGoOffs(spec.MR, nw)(depth, &a[0], &b[0], &offs[0], &want[0], ldc, bp, zp, flags&3, cp, groups)
						kerntest.Check(t, fmt.Sprintf("%s offs %dx%d k=%d flags=%b groups=%d", k.Name, spec.MR, nw, depth, flags, groups), got, want, 1e-6)
					}
				}
				// The masked kernel of a panel narrower than every width:
				// C's columns past cols are guards, untouched by both.
				if spec.OffsCols != nil {
					nw := spec.Widths[len(spec.Widths)-1]
					for _, cols := range []int{1, 4, nw - 1} {
						for _, groups := range []int{1, 3} {
							a := kerntest.Rand(uint64(depth+groups), spec.MR*depth*groups)
							got, want, bp, zp, cp := epilogueCase(uint64(depth), spec.MR*groups, ldc, flags)
							spec.OffsCols(depth, &a[0], &b[0], &offs[0], &got[0], ldc, bp, zp, flags&3|flags&4, cp, groups, cols)
							MicroGoOffsCols(spec.MR, nw)(depth, &a[0], &b[0], &offs[0], &want[0], ldc, bp, zp, flags&3, cp, groups, cols)
							kerntest.Check(t, fmt.Sprintf("%s offs %d of %dx%d k=%d flags=%b groups=%d", k.Name, cols, spec.MR, nw, depth, flags, groups), got, want, 0)
						}
					}
				}
				// The last-rows kernels: r rows of the same packed A; the
				// rows past r of C are guards, untouched by both.
				for r, kern := range spec.OffsRows {
					got, want, bp, zp, cp := epilogueCase(uint64(depth), spec.MR, ldc, flags)
					kern(depth, &a[0], &b[0], &offs[0], &got[0], ldc, bp, zp, flags&3|flags&4, cp, 1)
					MicroGoOffsOf(spec.MR, r+1, w)(depth, &a[0], &b[0], &offs[0], &want[0], ldc, bp, zp, flags&3, cp, 1)
					kerntest.Check(t, fmt.Sprintf("%s offs %d of %dx%d k=%d flags=%b", k.Name, r+1, spec.MR, w, depth, flags), got, want, 1e-6)
				}
			}
		}
	}
}

// TestPackPanelMatchesTwin runs the tiers' PackPanel against PackPanelGo
// with scattered, repeated and decreasing offsets, 0 to 40 rows.
func TestPackPanelMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.PackPanel == nil {
			continue
		}
		w := k.spec.Widths[0]
		src := kerntest.Rand(1, 600+w)
		for rows := range 41 {
			offs := make([]int32, max(1, rows))
			for p := range offs {
				offs[p] = int32((p * 37) % 600)
			}
			got := make([]float32, rows*w+1)
			want := make([]float32, rows*w+1)
			k.spec.PackPanel(&got[0], &src[0], &offs[0], rows)
			PackPanelGo(w)(&want[0], &src[0], &offs[0], rows)
			kerntest.Check(t, fmt.Sprintf("%s pack %d rows", k.Name, rows), got, want, 0)
		}
	}
}

// TestPackPanelAffineMatchesTwin runs the tiers' PackPanelAffine against
// PackPanelAffineGo, with and without the Relu, on the offsets of
// TestPackPanelMatchesTwin and inputs that include NaN, ±0 and ±Inf,
// exactly (up to the sign of a zero that the Relu makes: the twin's is
// +0, the kernels keep -0, as Affine's do).
func TestPackPanelAffineMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.PackPanelAffine == nil {
			continue
		}
		w := k.spec.Widths[0]
		src := kerntest.Rand(1, 600+w)
		src[5], src[77], src[140], src[301] = float32(math.NaN()), float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1))
		for rows := range 41 {
			offs := make([]int32, max(1, rows))
			scale, bias := kerntest.Rand(2, max(1, rows)), kerntest.Rand(3, max(1, rows))
			for p := range offs {
				offs[p] = int32((p * 37) % 600)
			}
			if rows > 3 {
				scale[3], bias[3] = 0, float32(math.Copysign(0, -1))
			}
			for relu := range 2 {
				got := make([]float32, rows*w+1)
				want := make([]float32, rows*w+1)
				k.spec.PackPanelAffine(&got[0], &src[0], &offs[0], rows, &scale[0], &bias[0], relu)
				PackPanelAffineGo(w)(&want[0], &src[0], &offs[0], rows, &scale[0], &bias[0], relu)
				kerntest.Check(t, fmt.Sprintf("%s pack affine %d rows relu %d", k.Name, rows, relu), got, want, 0)
			}
		}
	}
}

// BenchmarkMicroOffs runs the offsets micro-kernels (depth 128) with B rows
// packed together (L1) and B rows one 56×56 plane apart, as a 1×1
// convolution reads them, in GFLOP/s.
func BenchmarkMicroOffs(b *testing.B) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		spec := k.spec
		w := spec.Widths[0]
		const depth = 128
		for _, stride := range []int{w, 56 * 56} {
			a := kerntest.Rand(1, spec.MR*depth)
			bp := kerntest.Rand(2, depth*stride+w)
			offs := make([]int32, depth)
			for p := range offs {
				offs[p] = int32(p * stride)
			}
			c := make([]float32, spec.MR*w)
			b.Run(fmt.Sprintf("%s/%dx%d/stride=%d", k.Name, spec.MR, w, stride), func(b *testing.B) {
				for i := range b.N {
					// Walk across the row as a panel sweep does.
					j0 := (i * w) % (stride - w + 1)
					spec.Offs(depth, &a[0], &bp[j0], &offs[0], &c[0], w, nil, nil, 0, nil, 1)
				}
				b.ReportMetric(2*float64(spec.MR*w*depth)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestAffineKernelsMatchGo checks each tier's vector affine step against
// the portable loop bit for bit, on lengths with every tail, with and
// without Relu, through NaN, infinities and signed zeros.
func TestAffineKernelsMatchGo(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		if k.Affine == nil {
			t.Fatalf("%s has no Affine kernel", k.Name)
		}
		for n := range 41 {
			src := kerntest.Rand(uint64(n), max(1, n))[:n]
			if n > 3 {
				src[0], src[1], src[2], src[3] = float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), float32(math.Inf(1))
			}
			for _, relu := range []bool{false, true} {
				got := make([]float32, n+1)
				want := make([]float32, n+1)
				got[n], want[n] = kerntest.Guard, kerntest.Guard
				k.Affine(got[:n], src, 1.5, -0.25, relu)
				affineGo(want[:n], src, 1.5, -0.25, relu)
				for i := range got {
					g, w := got[i], want[i]
					same := math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w) || (g == 0 && w == 0)
					if !same {
						t.Fatalf("%s n=%d relu=%v: [%d] = %v, want %v", k.Name, n, relu, i, g, w)
					}
				}
			}
		}
	}
}

// TestAddSumKernelsMatchGo checks each tier's vector Add against the
// portable loop bit for bit (dst aliasing an operand, with and without
// Relu, every tail, NaN and infinities; zeros of either sign count as
// equal, as the Go tail turns -0 into +0), and its Sum against
// a float64 sum within a float32 accumulation's error bound.
func TestAddSumKernelsMatchGo(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		if k.Add == nil || k.Sum == nil {
			t.Fatalf("%s lacks the Add or Sum kernel", k.Name)
		}
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 49, 63, 64, 65, 196, 1001} {
			a := kerntest.Rand(uint64(n)+1, max(1, n))[:n]
			b := kerntest.Rand(uint64(n)+2, max(1, n))[:n]
			if n > 3 {
				a[0], a[1], a[2], b[3] = float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), float32(math.Inf(1))
				b[2] = 0
			}
			for _, relu := range []bool{false, true} {
				for _, alias := range []bool{false, true} {
					want := make([]float32, n+1)
					want[n] = kerntest.Guard
					addGo(want[:n], a, b, relu)
					got := make([]float32, n+1)
					got[n] = kerntest.Guard
					if alias {
						copy(got, a)
						k.Add(got[:n], got[:n], b, relu)
					} else {
						k.Add(got[:n], a, b, relu)
					}
					for i := range got {
						g, w := got[i], want[i]
						if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) && !(g == 0 && w == 0) {
							t.Fatalf("%s Add n=%d relu=%v alias=%v: [%d] = %v, want %v", k.Name, n, relu, alias, i, g, w)
						}
					}
				}
			}
			x := kerntest.Rand(uint64(n)+3, max(1, n))[:n]
			var want, mag float64
			for _, v := range x {
				want += float64(v)
				mag += math.Abs(float64(v))
			}
			// A float32 sum of n terms errs by at most about n·ε·Σ|x|.
			if got := float64(k.Sum(x)); math.Abs(got-want) > float64(n+1)*0x1p-24*mag {
				t.Errorf("%s Sum n=%d: %v, want %v", k.Name, n, got, want)
			}
			if n > 3 {
				x[1] = float32(math.NaN())
				if got := k.Sum(x); got == got {
					t.Errorf("%s Sum n=%d with a NaN: %v, want NaN", k.Name, n, got)
				}
			}
		}
	}
}

// TestWinoTransformsMatchTwin runs each assembly tier's Winograd input
// transform against its Go twin, winoInGo, bit for bit, on runs of 1 to 3
// vectors, row strides that are not multiples of the lanes, and scattered
// tiles; values around what the kernel may write must stay as they were.
// The non-temporal variant (WinoInNT) runs where its alignment allows,
// into a copy of v that starts on a vector.
func TestWinoTransformsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		lanes := k.spec.Lanes
		for _, nv := range []int{1, 2, 3} {
			n := nv * lanes
			for _, ld := range []int{n, n + 3, 5*n + 1, 4*n + lanes} {
				what := fmt.Sprintf("%s n=%d ld=%d", k.Name, n, ld)
				// Input: tiles scattered over a plane 29 wide, out of order.
				const wp = 29
				x := kerntest.Rand(uint64(n+ld), 40*n+6*wp+8)
				toff := make([]int32, n)
				for j := range toff {
					toff[j] = int32((j*7 + 3) % 37 * n)
				}
				fill := float32(math.Float32frombits(0x7fc01234))
				v1 := make([]float32, 36*ld+n+lanes)
				for i := range v1 {
					v1[i] = fill
				}
				v2 := append([]float32(nil), v1...)
				winoInGo(n, x, toff, wp, v1, ld)
				k.spec.WinoIn(n, &x[0], &toff[0], wp, &v2[0], ld)
				kerntest.SameBits(t, what, v2, v1)
				if k.spec.WinoInNT == nil || ld%lanes != 0 {
					continue
				}
				// The same values by non-temporal stores, into v on a
				// vector boundary; the scratch's old values do not matter.
				v3 := alignedFloats(len(v2), lanes)
				for i := range v3 {
					v3[i] = fill
				}
				var tmp [36 * 16]float32
				for i := range tmp {
					tmp[i] = -fill
				}
				k.spec.WinoInNT(n, &x[0], &toff[0], wp, &v3[0], ld, &tmp[0])
				kerntest.SameBits(t, what+" NT", v3, v1)

			}
		}
	}
}

// TestWinoStoreMatchesTwin runs each assembly tier's Winograd output
// transform and store against its Go twin, winoStoreGo, bit for bit: tile
// counts that are not multiples of the lanes, tiles stored out of order,
// with and without a residual and a Relu; values of y that no tile covers
// must stay as they were. Tiers with WinoStoreMask run it the same way
// with masks, which must leave the masked positions as they were.
func TestWinoStoreMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		lanes := k.spec.Lanes
		for _, n := range []int{1, lanes - 1, lanes, lanes + 3, 3 * lanes} {
			ncp := CeilDiv(n, lanes) * lanes
			ldp := 3*ncp + 5
			ldy := 4*n + 3 // tiles side by side, 4 rows
			// Tiles out of order, each in a place of its own: a step
			// coprime with n makes j ↦ (j·step + 2) mod n a permutation
			// (5 alone is not one for n = 15, AVX-512's lanes - 1).
			step := 5
			for gcd(step, n) != 1 {
				step++
			}
			yoff := make([]int32, n)
			for j := range yoff {
				yoff[j] = int32((j*step + 2) % n * 4)
			}
			z := kerntest.Rand(uint64(7*n), 4*ldy)
			for _, withZ := range []bool{false, true} {
				for _, relu := range []bool{false, true} {
					what := fmt.Sprintf("%s n=%d z=%v relu=%v", k.Name, n, withZ, relu)
					p1 := kerntest.Rand(uint64(3*n+ldp), 36*ldp)
					p2 := append([]float32(nil), p1...)
					y1 := make([]float32, 4*ldy)
					for i := range y1 {
						y1[i] = float32(math.Float32frombits(0x7fc01234))
					}
					y2 := append([]float32(nil), y1...)
					var zs []float32
					var zp *float32
					if withZ {
						zs, zp = z, &z[0]
					}
					r := 0
					if relu {
						r = 1
					}
					winoStoreGo(n, p1, ldp, y1, yoff, nil, ldy, 0.25, zs, relu)
					var sums [36 * 16]float32
					k.spec.WinoStore(n, &p2[0], ldp, &sums[0], &y2[0], &yoff[0], ldy, 0.25, zp, r)
					kerntest.SameBits(t, what, y2, y1)
					kerntest.SameBits(t, what+" (p is only read)", p2, p1)
					if k.spec.WinoStoreMask == nil {
						continue
					}
					// Through masks: every tile's own, the last tile's
					// from the image's bottom right corner (rows and
					// columns past 2 masked off), some tiles all masked
					// off or all on.
					ymask := make([]int32, n)
					for j := range ymask {
						ymask[j] = int32(uint16((j*40503 + 7) >> 3))
					}
					ymask[0], ymask[n-1] = 0xffff, int32(winoMask(0, 0, 2, 2))
					if n > 2 {
						ymask[1] = 0
					}
					y1 = append(y1[:0], y2...)
					winoStoreGo(n, p1, ldp, y1, yoff, ymask, ldy, -0.5, zs, relu)
					k.spec.WinoStoreMask(n, &p2[0], ldp, &sums[0], &y2[0], &yoff[0], &ymask[0], ldy, -0.5, zp, r)
					kerntest.SameBits(t, what+" masked", y2, y1)
					kerntest.SameBits(t, what+" masked (p is only read)", p2, p1)
				}
			}
		}
	}
}

// BenchmarkWinograd runs the 3×3 stride-1 convolutions of ResNet's four
// stages (64 channels at 56×56 to 512 at 7×7) on each assembly tier, as
// direct products and with Winograd, on one and two workers, in GFLOP/s of
// the direct convolution: what a tier's WinogradMinCols is chosen from.
func BenchmarkWinograd(b *testing.B) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		for _, l := range []struct{ c, hw int }{{64, 56}, {128, 28}, {256, 14}, {512, 7}} {
			g := &ConvGeom{N: 1, C: l.c, H: l.hw, W: l.hw, M: l.c, KH: 3, KW: 3, OH: l.hw, OW: l.hw,
				PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
			seed := uint64(l.c)
			x, w, bias := kerntest.Rand(seed, l.c*l.hw*l.hw), kerntest.Rand(seed+1, l.c*l.c*9), kerntest.Rand(seed+2, l.c)
			y := make([]float32, l.c*l.hw*l.hw)
			for _, wino := range []bool{false, true} {
				spec := *k.spec
				spec.WinogradMinCols = 0
				if wino {
					spec.WinogradMinCols = 1
				}
				tier := NewBlockedTier(spec)
				for _, workers := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%dx%d/wino=%v/workers=%d", k.Name, l.c, l.hw, wino, workers), func(b *testing.B) {
						env := testEnv(tier, workers)
						env.Scratch = make([]float32, workers*tier.ConvScratch(g))
						env.PackedW = tier.PackConv(g, w)
						for range b.N {
							tier.Conv(env, g, x, w, bias, y, nil)
						}
						flops := 2.0 * float64(l.c*l.c*9*l.hw*l.hw)
						b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// TestAxpyMatchesTwin runs each assembly tier's Axpy, through the kernel
// table (vector part and Go tail), against axpyGo, bit for bit, on lengths
// around the 4-vector blocks of the kernel's loop; values past the end
// must stay as they were.
func TestAxpyMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		l := k.spec.Lanes
		for _, n := range []int{1, l - 1, l, 3*l + 5, 4 * l, 9*l + 3} {
			x := kerntest.Rand(uint64(n), n+1)[1:] // unaligned
			d1 := kerntest.Rand(uint64(n+1), n+3)
			d2 := append([]float32(nil), d1...)
			axpyGo(d1[:n], x, -0.37)
			k.Axpy(d2[:n], x, -0.37)
			kerntest.SameBits(t, fmt.Sprintf("%s n=%d", k.Name, n), d2, d1)
		}
	}
}

// TestClipMatchesBuiltins runs each assembly tier's Clip, through the
// kernel table (vector part and Go tail), against min(max(v, lo), hi)
// with Go's builtins, bit for bit: NaNs with payloads and signs, zeros of
// both signs, infinities, values at the bounds, and bounds that are zeros
// of either sign or infinite.
func TestClipMatchesBuiltins(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 6, -6, 5.99, 1e-40, -1e-40,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc01234),
		math.Float32frombits(0xffc04321), math.Float32frombits(0x7f800001), 3, -0.5}
	negZero := float32(math.Copysign(0, -1))
	bounds := [][2]float32{{0, 6}, {negZero, 6}, {-1, negZero}, {negZero, 0}, {float32(math.Inf(-1)), 1}, {-2, float32(math.Inf(1))}}
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		for _, n := range []int{1, 3*k.spec.Lanes + 5, 9 * k.spec.Lanes} {
			src := kerntest.Rand(uint64(n), n)
			for i := range src {
				if i%3 == 0 {
					src[i] = special[i/3%len(special)]
				}
			}
			for _, b := range bounds {
				want := make([]float32, n)
				for i, v := range src {
					want[i] = min(max(v, b[0]), b[1])
				}
				got := make([]float32, n)
				k.Clip(got, src, b[0], b[1])
				kerntest.SameBits(t, fmt.Sprintf("%s n=%d bounds=%v", k.Name, n, b), got, want)
				inPlace := append([]float32(nil), src...)
				k.Clip(inPlace, inPlace, b[0], b[1])
				kerntest.SameBits(t, fmt.Sprintf("%s n=%d bounds=%v in place", k.Name, n, b), inPlace, want)
				if k.ClipTile == nil || n < 4 {
					continue
				}
				// The same values as a tile of 3 rows of n/4 values, n/4
				// apart: the last quarter is left alone.
				w := n / 4
				tile := append([]float32(nil), src...)
				k.ClipTile(tile, w, 3, w, b[0], b[1])
				wantTile := append(append([]float32(nil), want[:3*w]...), src[3*w:]...)
				kerntest.SameBits(t, fmt.Sprintf("%s tile 3x%d bounds=%v", k.Name, w, b), tile, wantTile)
			}
		}
	}
}

// TestPick2MatchesTwin runs each assembly tier's Pick2, through the kernel
// table, against pick2Go on lengths around the vector width, with src
// exactly as long as the picks need (2n-1), so that the vector part must
// leave the last value to the tail.
func TestPick2MatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		for _, n := range []int{1, 7, 8, 9, 16, 17, 56, 57} {
			src := kerntest.Rand(uint64(n), 2*n-1)
			want, got := make([]float32, n+1), make([]float32, n+1)
			pick2Go(want[:n], src)
			k.Pick2(got[:n], src)
			kerntest.SameBits(t, fmt.Sprintf("%s n=%d", k.Name, n), got, want)
		}
	}
}

// TestPixKernelsMatchTwin runs every pixel-tile kernel against its Go twin
// (PixGo) with scattered, repeated and decreasing offsets, pixels in any
// order, a row stride of C beyond its width, with and without accumulate,
// bias and clip (sums below, between and above the bounds, and NaN), one
// tile a call or three (the first fetching the next weights, or each
// fetching a few lines of them, pixSpread: none, fewer than its pairs of
// steps, more, from a line past the first), C in rows or in blocks of 8
// channels (pixBlk8, blocks a few values further apart than the tiles'
// pixels reach).
func TestPixKernelsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		spec := k.spec
		type pixCase struct {
			kern   PixKernel
			r, w   int
			twin   PixKernel
			panelW int
		}
		var cases []pixCase
		for ri, kern := range spec.Pix {
			cases = append(cases, pixCase{kern, ri + 1, spec.PixWidth, PixGo(ri+1, spec.PixWidth), spec.PixWidth})
		}
		for ri, kern := range spec.PixHalf {
			cases = append(cases, pixCase{kern, ri + 1, spec.PixWidth / 2, PixGoOf(ri+1, spec.PixWidth/2, spec.PixWidth), spec.PixWidth})
		}
		for _, pc := range cases {
			r, w, kern, twin := pc.r, pc.w, pc.kern, pc.twin
			for _, depth := range []int{0, 1, 2, 3, 9, 64} {
				for flags := range 48 {
					// flags&8: three tiles in one call, the first fetching;
					// flags&16: three, each fetching its lines (pixSpread);
					// flags&32: C in blocks of 8 channels
					tiles := 1 + 2*min(1, flags>>3&3)
					kf := flags&1 | (flags>>3&1)*pixPrefetch
					if flags&16 != 0 {
						q := (depth*5 + 3) % 13 // depth 2: none; 3 and 9: more than its pairs
						kf = flags&1 | pixSpread | q<<8 | depth%3<<20
					}
					ldc, size := w+3, r*tiles*(w+3)
					if flags&32 != 0 {
						kf |= pixBlk8
						ldc = 8*r*tiles + 5
						size = w/8*ldc + 8
					}
					wp := kerntest.Rand(uint64(depth), max(1, depth*pc.panelW))
					src := kerntest.Rand(uint64(depth+1), 600)
					src[37] = float32(math.NaN())
					bias, clip := pixEpilogueArgs(flags, uint64(depth+3), w)
					offs := make([]int32, max(1, depth))
					for p := range offs {
						offs[p] = int32((p * 37) % 500)
					}
					pix := make([]int32, r*tiles)
					for i := range pix {
						pix[i] = int32((i * 29) % 97)
					}
					got := kerntest.Rand(uint64(depth+2), size)
					want := append([]float32(nil), got...)
					kern(depth, &wp[0], &src[0], &pix[0], &offs[0], &got[0], ldc, kf, bias, clip, tiles)
					twin(depth, &wp[0], &src[0], &pix[0], &offs[0], &want[0], ldc, kf, bias, clip, tiles)
					// Columns beyond w (or values between and after the
					// blocks) are guards: untouched by both.
					kerntest.Check(t, fmt.Sprintf("%s pix %dx%d k=%d flags=%b", k.Name, r, w, depth, flags), got, want, 0)
				}
			}
		}
	}
}

// TestPixRowKernelsMatchTwin runs every row kernel against its Go twin
// (PixRowGo): window rows at scattered, repeated and decreasing offsets,
// no rows to many, a row stride of C beyond the vector, with and without
// accumulate, bias and clip (NaN in the input), one tile a call or three;
// and against the pixel-tile twin (PixGoOf) given the same steps.
func TestPixRowKernelsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", k.Name)
			continue
		}
		spec := k.spec
		w := spec.PixWidth / 2
		for si, kerns := range spec.PixRow {
			sw := si + 1
			for ri, kern := range kerns {
				r := ri + 1
				twin := PixRowGo(r, sw, w, spec.PixWidth)
				for _, rows := range []int{0, 1, 2, 5, 48} {
					for flags := range 16 {
						tiles := 1 + 2*(flags>>3)
						ldc := w + 3
						wp := kerntest.Rand(uint64(rows+r), max(1, 3*rows)*spec.PixWidth)
						src := kerntest.Rand(uint64(rows+1), 1200)
						src[37] = float32(math.NaN())
						bias, clip := pixEpilogueArgs(flags, uint64(rows+3), w)
						offs := make([]int32, max(1, 3*rows))
						for p := range offs {
							offs[p] = int32((p * 37) % 500)
						}
						got := kerntest.Rand(uint64(rows+2), r*tiles*ldc)
						want := append([]float32(nil), got...)
						kern(rows, &wp[0], &src[0], &offs[0], &got[0], ldc, flags&1, bias, clip, tiles)
						twin(rows, &wp[0], &src[0], &offs[0], &want[0], ldc, flags&1, bias, clip, tiles)
						// Columns beyond w are guards: untouched by both.
						kerntest.Check(t, fmt.Sprintf("%s row %d pixels stride %d rows=%d flags=%b", k.Name, r, sw, rows, flags), got, want, 0)
						// The pixel-tile twin with every step's offset and the
						// row's pixels spelled out sums the same, bit for bit.
						for p := range offs {
							offs[p] = offs[p-p%3] + int32(8*(p%3))
						}
						pix := make([]int32, r*tiles)
						for i := range pix {
							pix[i] = int32(i * sw * 8)
						}
						copy(got, want)
						kern(rows, &wp[0], &src[0], &offs[0], &got[0], ldc, flags&1, bias, clip, tiles)
						PixGoOf(r, w, spec.PixWidth)(3*rows, &wp[0], &src[0], &pix[0], &offs[0], &want[0], ldc, flags&1, bias, clip, tiles)
						kerntest.Check(t, fmt.Sprintf("%s row %d pixels stride %d rows=%d flags=%b against PixGoOf", k.Name, r, sw, rows, flags), got, want, 0)
					}
				}
			}
		}
	}
}

// BenchmarkPix runs the widest pixel-tile kernels on 64 steps, with input
// rows packed together and a 7×7, 9×9 or 14×14 plane apart, in GFLOP/s.
func BenchmarkPix(b *testing.B) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || len(k.spec.Pix) == 0 {
			continue
		}
		spec := k.spec
		r, w := len(spec.Pix), spec.PixWidth
		const depth = 64
		for _, stride := range []int{1, 49, 81, 196} {
			wp := kerntest.Rand(1, w*depth)
			src := kerntest.Rand(2, depth*stride+r)
			offs := make([]int32, depth)
			for p := range offs {
				offs[p] = int32(p * stride)
			}
			pix := make([]int32, r)
			for i := range pix {
				pix[i] = int32(i)
			}
			c := make([]float32, r*w)
			b.Run(fmt.Sprintf("%s/%dx%d/stride=%d", k.Name, r, w, stride), func(b *testing.B) {
				for range b.N {
					spec.Pix[r-1](depth, &wp[0], &src[0], &pix[0], &offs[0], &c[0], w, 0, nil, nil, 1)
				}
				b.ReportMetric(2*float64(r*w*depth)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestDwTapsMatchTwin runs every tier's depthwise window kernel against
// DwTapsGo bit for bit: 0 to 25 taps at scattered offsets, runs of every
// length the four-vector and one-vector steps meet.
func TestDwTapsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.DwTaps == nil {
			continue
		}
		lanes := k.spec.Lanes
		for _, taps := range []int{0, 1, 9, 25} {
			for nv := range 11 {
				n := nv * lanes
				off := make([]int32, max(1, taps))
				for i := range off {
					off[i] = int32((i * 53) % 301)
				}
				w := kerntest.Rand(uint64(taps), max(1, taps))
				base := kerntest.Rand(uint64(taps+1), 301+n+1)
				got := make([]float32, n+1)
				want := make([]float32, n+1)
				k.spec.DwTaps(&got[0], &base[0], &off[0], &w[0], taps, n, 0.25)
				DwTapsGo(&want[0], &base[0], &off[0], &w[0], taps, n, 0.25)
				// got[n] and want[n] are guards: untouched by both.
				kerntest.Check(t, fmt.Sprintf("%s dwtaps taps=%d n=%d", k.Name, taps, n), got, want, 0)
			}
		}
	}
}

// checkDwRows runs a depthwise row kernel of cw channels a pixel against
// its twin bit for bit: 0 to 25 taps, one row or three, 0 to 20 pixels
// (a kernel's wide steps, its four-pixel steps and its single ones), at
// each of steps (values a pixel), clip bounds at clipStep and none at the
// others, a NaN in the input.
func checkDwRows(t *testing.T, name string, cw int, kern, twin Dw8Kernel, steps []int, clipStep int) {
	t.Helper()
	for _, taps := range []int{0, 1, 9, 25} {
		for n := range 21 {
			for _, step := range steps {
				var clip *float32
				if step == clipStep {
					clip = &[]float32{-0.25, 0.5}[0]
				}
				off := make([]int32, max(1, taps))
				for i := range off {
					off[i] = int32((i * 37) % 29 * cw)
				}
				w := kerntest.Rand(uint64(taps), max(1, taps)*cw)
				x := kerntest.Rand(uint64(n), 20*slices.Max(steps)+29*cw+cw+2*11)
				x[2*cw+1] = float32(math.NaN())
				bias := kerntest.Rand(uint64(step), cw)
				// one row, or three rows 21·cw+3 outputs and 11 values of x apart
				for _, rows := range []int{1, 3} {
					ldo, ldx := 21*cw+3, 11
					got := make([]float32, (rows-1)*ldo+n*cw+1)
					want := make([]float32, (rows-1)*ldo+n*cw+1)
					kern(&got[0], &x[0], &off[0], &w[0], taps, n, step, &bias[0], clip, rows, ldo, ldx)
					twin(&want[0], &x[0], &off[0], &w[0], taps, n, step, &bias[0], clip, rows, ldo, ldx)
					kerntest.Check(t, fmt.Sprintf("%s taps=%d n=%d step=%d rows=%d", name, taps, n, step, rows), got, want, 0)
				}
			}
		}
	}
}

// TestDw16KernelMatchesTwin runs the 16-channel depthwise kernel against
// Dw16Go (checkDwRows): the eight-pixel steps at steps of 16, 32 and 64
// values, and a step none of the wide loops takes.
func TestDw16KernelMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) != nil && k.spec.Dw16 != nil {
			checkDwRows(t, k.Name+" dw16", 16, Dw8Kernel(k.spec.Dw16), Dw16Go, []int{16, 32, 64, 48}, 32)
		}
	}
}

// TestDw8KernelsMatchTwin runs the channel-blocked depthwise kernels
// against Dw8Go (checkDwRows: the eight-pixel steps of strides 1 and 2,
// and a stride none of the wide loops takes), and Gather8 and Scatter8
// against their loops, bit for bit.
func TestDw8KernelsMatchTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.Dw8 == nil {
			continue
		}
		spec := k.spec
		checkDwRows(t, k.Name+" dw8", 8, spec.Dw8, Dw8Go, []int{8, 16, 40}, 16)
		if spec.Gather8 == nil || spec.Scatter8 == nil {
			t.Fatalf("%s has Dw8 without Gather8 and Scatter8", k.Name)
		}
		for _, n := range []int{8, 16, 48} {
			const ld = 53
			src := kerntest.Rand(uint64(n), 8*ld)
			got := make([]float32, n*8)
			spec.Gather8(&got[0], &src[0], ld, n)
			want := make([]float32, n*8)
			for j := range n {
				for i := range 8 {
					want[j*8+i] = src[i*ld+j]
				}
			}
			kerntest.Check(t, fmt.Sprintf("%s gather8 n=%d", k.Name, n), got, want, 0)
			back := make([]float32, 8*ld)
			spec.Scatter8(&back[0], ld, &got[0], 8, n)
			for i := range 8 {
				for j := range ld {
					w := float32(0)
					if j < n {
						w = src[i*ld+j]
					}
					if back[i*ld+j] != w {
						t.Fatalf("%s scatter8 n=%d: [%d][%d] = %v, want %v", k.Name, n, i, j, back[i*ld+j], w)
					}
				}
			}
			// Into rows of w pixels ldd apart, the gaps untouched.
			if spec.Gather8Rows != nil {
				for _, w := range []int{7, 8, 14, 3} {
					ldd := (w + 2) * 8
					rows := make([]float32, CeilDiv(n, w)*ldd+8)
					want := make([]float32, len(rows))
					for i := range rows {
						rows[i], want[i] = -1, -1
					}
					spec.Gather8Rows(&rows[0], &src[0], ld, n, w, ldd)
					for j := range n {
						for i := range 8 {
							want[j/w*ldd+j%w*8+i] = src[i*ld+j]
						}
					}
					kerntest.Check(t, fmt.Sprintf("%s gather8rows n=%d w=%d", k.Name, n, w), rows, want, 0)
				}
			}
			// With a prologue's affine step, pixels ldd apart, against the
			// Go loop bit for bit (NaN, infinities, zeros of both signs).
			if spec.Gather8RowsAffine != nil {
				sp := append([]float32(nil), src...)
				sp[0], sp[ld+1], sp[2*ld+2] = float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1))
				sp[3*ld], sp[4*ld+5] = 0, -3
				scale, bias := kerntest.Rand(uint64(n+7), 8), kerntest.Rand(uint64(n+8), 8)
				scale[5], bias[5] = 1, float32(math.Copysign(0, -1))
				for relu := range 2 {
					const ldd = 27
					got := make([]float32, n*ldd)
					want := make([]float32, n*ldd)
					spec.Gather8RowsAffine(&got[0], &sp[0], ld, n, ldd, &scale[0], &bias[0], relu)
					gather8RowsAffineGo(want, ldd, sp, ld, 0, n, scale, bias, relu == 1)
					kerntest.SameBits(t, fmt.Sprintf("%s gather8rows affine n=%d relu=%d", k.Name, n, relu), got, want)
				}
			}
			// From pixels 16 apart (the pixel path's tiles), second half.
			wide := kerntest.Rand(uint64(n+1), n*16)
			spec.Scatter8(&back[0], ld, &wide[8], 16, n)
			for i := range 8 {
				for j := range n {
					if back[i*ld+j] != wide[j*16+8+i] {
						t.Fatalf("%s scatter8 n=%d lds=16: [%d][%d] = %v, want %v", k.Name, n, i, j, back[i*ld+j], wide[j*16+8+i])
					}
				}
			}
		}
	}
}

// gcd is the greatest common divisor of a and b (not both 0).
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// alignedFloats returns n float32 whose first sits on a boundary of
// lanes float32.
func alignedFloats(n, lanes int) []float32 {
	buf := make([]float32, n+lanes)
	off := 0
	for uintptr(unsafe.Pointer(&buf[off]))%uintptr(4*lanes) != 0 {
		off++
	}
	return buf[off : off+n]
}

// TestGather16Scatter16MatchTwin runs the 16-wide pixel-major moves of
// the tiers that have them (gather16Rows, with and without the prologue's
// affine step, and scatter16Epi with every combination of bias, residual
// and Relu) against their Go twins, bit for bit: widths around the
// kernels' 16-pixel steps (the rest in Go), strides beyond the widths,
// NaNs, infinities and zeros of both signs among the values, and nothing
// written outside the destination's rows.
func TestGather16Scatter16MatchTwin(t *testing.T) {
	special := []float32{float32(math.NaN()), math.Float32frombits(0xffc01234), float32(math.Inf(-1)),
		float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0, -3}
	spice := func(v []float32, seed int) {
		for i := seed % 5; i < len(v); i += 11 {
			v[i] = special[(i+seed)%len(special)]
		}
	}
	tested := 0
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.Gather16Rows == nil {
			continue
		}
		tested++
		bl := &blocked{BlockedSpec: *k.spec}
		for _, n := range []int{1, 15, 16, 17, 49, 64, 196} {
			lds := n + 3
			src := kerntest.Rand(uint64(n), 16*lds)
			spice(src, n)
			scale, bias := kerntest.Rand(uint64(n+7), 16), kerntest.Rand(uint64(n+8), 16)
			scale[3], bias[3] = 1, float32(math.Copysign(0, -1))
			const ldd = 21
			for mode := range 3 { // plain, affine, affine with Relu
				var sc, bi []float32
				if mode > 0 {
					sc, bi = scale, bias
				}
				got := kerntest.Rand(9, n*ldd)
				want := append([]float32(nil), got...)
				if !bl.gather16Rows(got, ldd, src, lds, n, sc, bi, mode == 2) {
					t.Fatalf("%s: gather16Rows refused", k.Name)
				}
				gather16RowsGo(want, ldd, src, lds, n, sc, bi, mode == 2)
				kerntest.SameBits(t, fmt.Sprintf("%s gather16 n=%d mode=%d", k.Name, n, mode), got, want)
			}
			// back from a tile of pixels 32 apart (PixWidth), the second 16 channels
			const ldt = 32
			tile := kerntest.Rand(uint64(n+2), n*ldt)
			spice(tile, n+1)
			ldo := n + 5
			resid := kerntest.Rand(uint64(n+3), 16*ldo)
			spice(resid, n+2)
			for mode := range 8 {
				var bi, z []float32
				if mode&1 != 0 {
					bi = bias
				}
				if mode&2 != 0 {
					z = resid
				}
				got := kerntest.Rand(10, 16*ldo)
				want := append([]float32(nil), got...)
				if !bl.scatter16Epi(got, ldo, tile[16:], ldt, n, bi, z, mode&4 != 0) {
					t.Fatalf("%s: scatter16Epi refused", k.Name)
				}
				scatter16EpiGo(want, ldo, tile[16:], ldt, n, bi, z, mode&4 != 0)
				kerntest.SameBits(t, fmt.Sprintf("%s scatter16 n=%d mode=%d", k.Name, n, mode), got, want)
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier with Gather16Rows on this machine")
	}
}

// BenchmarkPixelMajorMoves times the pixel-tile path's moves between
// planes and its pixel-major layout on a 1024-channel 14×14 layer (one
// thread, hot), 8 channels a step against 16: the copy of the input
// (gather8Rows against gather16Rows), and the tiles back into planes with
// a bias, residual and Relu (unpack, AffineRow and residualAct against
// scatter16Epi). Compare the two of each pair in one run.
func BenchmarkPixelMajorMoves(b *testing.B) {
	bl := &blocked{BlockedSpec: avx512Spec}
	if TierByName("avx512") == nil {
		b.Skip("no AVX-512 on this CPU")
	}
	const c, npix, nr = 1024, 196, 32
	ld := pixMajorLd(c)
	src := kerntest.Rand(1, c*npix)
	dst := make([]float32, npix*ld)
	ct := kerntest.Rand(2, npix*nr)
	y := make([]float32, nr*npix)
	z := kerntest.Rand(3, nr*npix)
	bias := kerntest.Rand(4, nr)
	relu := Activation{Kind: ActRelu}
	b.Run("copy/8", func(b *testing.B) {
		for b.Loop() {
			for c0 := 0; c0 < c; c0 += 8 {
				bl.gather8Rows(dst[c0:], ld, src[c0*npix:], npix, npix, 1)
			}
		}
	})
	b.Run("copy/16", func(b *testing.B) {
		for b.Loop() {
			for c0 := 0; c0 < c; c0 += 16 {
				bl.gather16Rows(dst[c0:], ld, src[c0*npix:], npix, npix, nil, nil, false)
			}
		}
	})
	b.Run("back/8+passes", func(b *testing.B) {
		for b.Loop() {
			for range c / nr {
				bl.unpack(y, npix, ct, nr, nr, npix)
				for j := range nr {
					AffineRow(AVX512, y[j*npix:(j+1)*npix], y[j*npix:(j+1)*npix], 1, bias[j], false)
				}
				residualAct(AVX512, y, z, relu)
			}
		}
	})
	b.Run("back/16", func(b *testing.B) {
		for b.Loop() {
			for range c / nr {
				for c0 := 0; c0 < nr; c0 += 16 {
					bl.scatter16Epi(y[c0*npix:], npix, ct[c0:], nr, npix, bias[c0:c0+16], z[c0*npix:], true)
				}
			}
		}
	})
}

// pixEpilogueArgs returns the bias (flags&2: w values from seed) and the
// clip bounds (flags&4) a pixel-kernel twin test passes, nil where the
// flags leave them out.
func pixEpilogueArgs(flags int, seed uint64, w int) (bias, clip *float32) {
	if flags&2 != 0 {
		bias = &kerntest.Rand(seed, w)[0]
	}
	if flags&4 != 0 {
		clip = &[]float32{-0.5, 0.75}[0]
	}
	return bias, clip
}

// TestOffsFewMatchesTwin runs each assembly tier's OffsFew kernels against
// OffsFewGo, bit for bit: 1 to 4 groups of 8 rows, 1 to 4 columns, depths
// of 0 to 19 steps at scattered offsets, with and without the old C added
// (NaNs, infinities and negative zeros among the values), and nothing
// written past a row's cols columns.
func TestOffsFewMatchesTwin(t *testing.T) {
	tested := 0
	for _, at := range asmTiers {
		if TierByName(at.Name) == nil || at.spec.OffsFew[0] == nil {
			continue
		}
		tested++
		for g := 1; g <= 4; g++ {
			twin := OffsFewGo(g, at.spec.MR)
			for _, k := range []int{0, 1, 2, 7, 19} {
				a := kerntest.Rand(uint64(g*k+1), max(1, g*k*at.spec.MR))
				b := kerntest.Rand(uint64(g+k), 4*k+64)
				for j := 3; j < len(b); j += 11 {
					b[j] = []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1))}[j%3]
				}
				boff := make([]int32, max(1, k))
				for p := range k {
					boff[p] = int32((p*7 + 3) % (4*k + 60))
				}
				for cols := 1; cols <= 4; cols++ {
					for _, flags := range []int{0, 1} {
						ldc := cols + 3
						got := kerntest.Rand(5, g*at.spec.MR*ldc+8)
						want := append([]float32(nil), got...)
						at.spec.OffsFew[g-1](k, &a[0], &b[0], &boff[0], &got[0], ldc, flags, cols)
						twin(k, &a[0], &b[0], &boff[0], &want[0], ldc, flags, cols)
						kerntest.SameBits(t, fmt.Sprintf("%s g=%d k=%d cols=%d flags=%d", at.Name, g, k, cols, flags), got, want)
					}
				}
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier with OffsFew on this machine")
	}
}

// BenchmarkWinogradBatch runs ResNet's 256 → 256 convolution at 14×14 on
// a batch of 8 with Winograd, whose images go through the stages in
// groups (winoGroup), on one and two workers, in µs an image.
func BenchmarkWinogradBatch(b *testing.B) {
	const n, c, hw = 8, 256, 14
	g := &ConvGeom{N: n, C: c, H: hw, W: hw, M: c, KH: 3, KW: 3, OH: hw, OW: hw,
		PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
	x, w, bias := kerntest.Rand(1, n*c*hw*hw), kerntest.Rand(2, c*c*9), kerntest.Rand(3, c)
	y := make([]float32, n*c*hw*hw)
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		tier := NewBlockedTier(*k.spec)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", k.Name, workers), func(b *testing.B) {
				env := testEnv(tier, workers)
				env.Scratch = make([]float32, workers*tier.ConvScratch(g))
				env.PackedW = tier.PackConv(g, w)
				for range b.N {
					tier.Conv(env, g, x, w, bias, y, nil)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/image")
			})
		}
	}
}

// TestWinogradGroups runs batches whose images go through Winograd's
// stages together (winoGroup) on each assembly tier with Winograd from one
// tile up, against the same convolution one image at a time, bit for bit
// (a tile's sums are the same whichever panel holds it): 9 tiles an
// image, whose transforms spill into the next image's columns (groups of
// 3, then 1), and 16 tiles of a 13×13 output stored through masks (groups
// of 2, then 1), with a residual and Relu; one and three workers. Their U
// is above winoGroupMinU.
func TestWinogradGroups(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		spec := *k.spec
		spec.WinogradMinCols = 1
		tier := NewBlockedTier(spec)
		for _, l := range []struct{ n, c, m, hw int }{{4, 96, 112, 12}, {5, 97, 120, 13}} {
			g := ConvGeom{N: l.n, C: l.c, H: l.hw, W: l.hw, M: l.m, KH: 3, KW: 3, OH: l.hw, OW: l.hw,
				PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
			wg := winoGeomOf(&g)
			if gi, _ := winoGroup(&g, &wg); gi < 2 || tier.PackConvKind(&g) != 1 {
				t.Fatalf("%s %v: groups of %d, layout %d (Winograd: 1)", k.Name, l, gi, tier.PackConvKind(&g))
			}
			chw, mhw := l.c*l.hw*l.hw, l.m*l.hw*l.hw
			x, w, b := kerntest.Rand(uint64(l.n), l.n*chw), kerntest.Rand(2, l.m*l.c*9), kerntest.Rand(3, l.m)
			z := kerntest.Rand(4, l.n*mhw)
			for _, workers := range []int{1, 3} {
				what := fmt.Sprintf("%s %v workers=%d", k.Name, l, workers)
				env := testEnv(tier, workers)
				env.PackedW = tier.PackConv(&g, w)
				got := make([]float32, l.n*mhw)
				tier.Conv(env, &g, x, w, b, got, &ConvFusion{Residual: z, Act: Activation{Kind: ActRelu}})
				g1 := g
				g1.N = 1
				for i := range l.n {
					want := make([]float32, mhw)
					tier.Conv(env, &g1, x[i*chw:(i+1)*chw], w, b, want, &ConvFusion{Residual: z[i*mhw : (i+1)*mhw], Act: Activation{Kind: ActRelu}})
					kerntest.SameBits(t, fmt.Sprintf("%s image %d", what, i), got[i*mhw:(i+1)*mhw], want)
				}
			}
		}
	}
}

// sharedSpawn is Spawn that says its workers share a cache or not.
type sharedSpawn struct {
	Spawn
	shared bool
}

// SharedCache reports s.shared.
func (s sharedSpawn) SharedCache() bool { return s.shared }

// TestWinogradPartsWhenShared checks that a Winograd layer of one image
// (DenseNet's 128 → 32, ResNet's 64 → 64, and odd ones of both kinds) is
// cut into parts exactly where its workers share a cache
// (kern.CacheSharer), and that both cuts give the same values bit for
// bit: 3×3 at 56×56, 30×30 and 27×27 (overhanging tiles), with a residual
// and Relu, and with none, on two and three workers.
func TestWinogradPartsWhenShared(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil {
			continue
		}
		tier := TierByName(k.Name)
		for _, l := range []struct{ c, m, hw int }{{128, 32, 56}, {70, 33, 27}, {64, 64, 56}, {40, 48, 30}} {
			g := ConvGeom{N: 1, C: l.c, H: l.hw, W: l.hw, M: l.m, KH: 3, KW: 3, OH: l.hw, OW: l.hw,
				PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
			if tier.PackConvKind(&g) != 1 {
				t.Fatalf("%s %v: not Winograd", k.Name, l)
			}
			wg := winoGeomOf(&g)
			for _, workers := range []int{2, 3} {
				if winoParts(&g, &wg, true, workers, false) != 1 || winoParts(&g, &wg, true, workers, true) < 2 {
					t.Fatalf("%s %v workers=%d: parts %d apart, %d shared", k.Name, l, workers,
						winoParts(&g, &wg, true, workers, false), winoParts(&g, &wg, true, workers, true))
				}
			}
			mhw := l.m * l.hw * l.hw
			x, w, b := kerntest.Rand(5, l.c*l.hw*l.hw), kerntest.Rand(6, l.m*l.c*9), kerntest.Rand(7, l.m)
			z := kerntest.Rand(8, mhw)
			for _, f := range []*ConvFusion{nil, {Residual: z, Act: Activation{Kind: ActRelu}}} {
				for _, workers := range []int{2, 3} {
					var out [2][]float32
					for i, shared := range []bool{false, true} {
						env := &Env{K: tier, Par: sharedSpawn{Spawn{Parts: workers}, shared}}
						env.PackedW = tier.PackConv(&g, w)
						out[i] = make([]float32, mhw)
						tier.Conv(env, &g, x, w, b, out[i], f)
					}
					kerntest.SameBits(t, fmt.Sprintf("%s %v workers=%d residual=%v", k.Name, l, workers, f != nil), out[1], out[0])
				}
			}
		}
	}
}
