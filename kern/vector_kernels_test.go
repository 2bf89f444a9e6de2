package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// sigmoidCases are inputs across sigmoid's range: a dense sweep of
// [-90, 90], the clamps' edges, zeros, infinities and tiny values.
func sigmoidCases() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), -88, 87, -87.5, 86.9, 88, -89, 1e-30, -1e-30,
		float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, 0.5, -0.5, 15, -15, 16.6, -16.6}
	for i := -90000; i <= 90000; i += 7 {
		xs = append(xs, float32(i)/1000)
	}
	return xs
}

// ulpsApart returns how many float32 values lie between a and b (both
// finite, of one sign).
func ulpsApart(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

// TestSigmoidFastAccuracy bounds sigmoidFast's error against the sigmoid
// in float64 rounded once: 3 units in the last place where the result is
// a normal number (sigmoid(x) ≥ 1.2e-38), and at most 6e-39 absolute
// below, where the clamp at x = -88 holds it at sigmoid(-88).
func TestSigmoidFastAccuracy(t *testing.T) {
	xs := sigmoidCases()
	got, want := make([]float32, len(xs)), make([]float32, len(xs))
	sigmoidFast(got, xs)
	SigmoidF32(want, xs)
	var worst int64
	for i, x := range xs {
		if want[i] >= 0x1p-126 {
			u := ulpsApart(got[i], want[i])
			worst = max(worst, u)
			if u > 3 {
				t.Fatalf("sigmoid(%v) = %v, want %v (%d ulps)", x, got[i], want[i], u)
			}
		} else if math.Abs(float64(got[i]-want[i])) > 6.1e-39 {
			t.Fatalf("sigmoid(%v) = %v, want %v", x, got[i], want[i])
		}
	}
	t.Logf("largest error %d ulps over %d values", worst, len(xs))
	nan := []float32{float32(math.NaN())}
	sigmoidFast(nan, nan)
	if nan[0] == nan[0] {
		t.Fatalf("sigmoid(NaN) = %v", nan[0])
	}
}

// TestSigmoidTiersMatchTwin runs each tier's Sigmoid kernel against
// sigmoidFast, bit for bit (a NaN for a NaN), on lengths with tails.
func TestSigmoidTiersMatchTwin(t *testing.T) {
	xs := append(sigmoidCases(), float32(math.NaN()), math.Float32frombits(0xffc00123))
	for _, k := range testTiers() {
		if k.Sigmoid == nil {
			continue
		}
		for _, n := range []int{1, 7, 8, 9, 31, 100, len(xs)} {
			src := xs[len(xs)-n:]
			got, want := make([]float32, n), make([]float32, n)
			k.Sigmoid(got, src)
			sigmoidFast(want, src)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && (got[i] == got[i] || want[i] == want[i]) {
					t.Fatalf("%s n=%d: sigmoid(%v) = %v, twin %v", k.Name, n, src[i], got[i], want[i])
				}
			}
		}
	}
}

// TestSigmoidTileMatchesTwin runs each tier's SigmoidTile, Sigmoid and
// Silu in place, on tiles with row tails and a row stride beyond the
// width, against the Go twins row by row; the columns past n are guards.
func TestSigmoidTileMatchesTwin(t *testing.T) {
	for _, k := range testTiers() {
		if k.SigmoidTile == nil {
			continue
		}
		for _, silu := range []bool{false, true} {
			for _, sh := range []struct{ rows, n int }{{1, 8}, {6, 16}, {3, 13}, {5, 7}, {2, 40}, {2, 112}} {
				ldc := sh.n + 3
				c := kerntest.Rand(uint64(sh.rows*ldc), sh.rows*ldc)
				for i := range c {
					c[i] *= 20
				}
				want := append([]float32(nil), c...)
				k.SigmoidTile(c, ldc, sh.rows, sh.n, silu)
				for r := range sh.rows {
					row := want[r*ldc : r*ldc+sh.n]
					if silu {
						siluFast(row, row)
					} else {
						sigmoidFast(row, row)
					}
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s silu=%v %dx%d: [%d] = %v, want %v", k.Name, silu, sh.rows, sh.n, i, c[i], want[i])
					}
				}
			}
		}
	}
}

// TestReluTiersMatchBuiltin runs each tier's Relu (its Clip kernel with
// bounds 0 and +Inf) against max(v, 0), bit for bit: NaN payloads, signed
// zeros, infinities, lengths with tails.
func TestReluTiersMatchBuiltin(t *testing.T) {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc12345), 1e-45, -1e-45, 3.5, -2.25}
	for i := range 29 {
		xs = append(xs, float32(i-14)/3)
	}
	for _, k := range testTiers() {
		if k.Relu == nil {
			continue
		}
		for _, n := range []int{1, 8, 13, len(xs)} {
			got, want := make([]float32, n), make([]float32, n)
			k.Relu(got, xs[:n])
			ReluF32(want, xs[:n])
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: relu(%v) = %#x, want %#x", k.Name, xs[i], math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
	}
}

// TestMulTiersMatchGo runs each tier's Mul against the Go loop, bit for
// bit, for both operands as rows and either one broadcast, with NaN
// payloads in both operands and lengths with tails.
func TestMulTiersMatchGo(t *testing.T) {
	const n = 45
	a := kerntest.Rand(1, n)
	b := kerntest.Rand(2, n)
	a[3], b[3] = math.Float32frombits(0x7fc00011), math.Float32frombits(0xffc00022)
	a[9], b[17] = float32(math.Inf(1)), 0
	b[0] = math.Float32frombits(0xffc00033)
	for _, k := range testTiers() {
		if k.Mul == nil {
			continue
		}
		for _, st := range [][2]int{{1, 1}, {1, 0}, {0, 1}} {
			for _, m := range []int{1, 8, 16, 21, n} {
				got, want := make([]float32, m), make([]float32, m)
				k.Mul(got, a, st[0], b, st[1])
				mulGo(want, a, st[0], b, st[1])
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s strides %v n=%d: [%d] = %#x, want %#x", k.Name, st, m, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// TestColSumMatchesGo runs each tier's ColSum (the vector kernels, their
// Go tails) against the portable sums, bit for bit: 1 to 5 and 49 rows,
// widths with and without a tail up to four vectors and a half past the
// kernels' blocks, rows further apart than they are wide, NaNs of two
// payloads meeting in one column (the left one wins, quieted), ±Inf and
// -0; nothing past the width written.
func TestColSumMatchesGo(t *testing.T) {
	const ld = 83
	src := kerntest.Rand(1, 49*ld)
	src[3], src[ld+3] = math.Float32frombits(0x7fc00011), math.Float32frombits(0xffc00022)
	src[2*ld+5], src[ld+40] = float32(math.Inf(1)), float32(math.Inf(-1))
	src[7], src[ld+7] = float32(math.Copysign(0, -1)), float32(math.Copysign(0, -1))
	src[20] = math.Float32frombits(0x7f800123) // a signalling NaN, quieted by the first sum
	tested := 0
	for _, k := range testTiers() {
		if k.ColSum == nil {
			continue
		}
		tested++
		for _, rows := range []int{1, 2, 3, 5, 49} {
			for _, n := range []int{0, 1, 7, 8, 16, 17, 33, 64, 72, ld} {
				got, want := make([]float32, n+1), make([]float32, n+1)
				got[n], want[n] = 42, 42
				k.ColSum(got[:n], src, ld, rows)
				colSumGo(want[:n], src, ld, rows)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s rows=%d n=%d: [%d] = %#x, want %#x", k.Name, rows, n, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
	if tested == 0 {
		t.Fatal("no tier has ColSum")
	}
}

// TestHardMatchesTwin runs each tier's HardSigmoid and HardSwish kernels,
// on rows (Hard) and in place on tiles (HardTile), against the Go twins
// HardSigmoidF32 and HardSwishF32, bit for bit: values below, inside and
// above the linear part, ±0, ±Inf, NaN, lengths with tails, a beta of -0
// (which the vector kernels leave to the twins); the tiles' padding must
// stay as it was.
func TestHardMatchesTwin(t *testing.T) {
	acts := []Activation{{Kind: ActHardSwish}, {Kind: ActHardSigmoid, Alpha: 0.2, Beta: 0.5},
		{Kind: ActHardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}, {Kind: ActHardSigmoid, Alpha: -0.3, Beta: float32(math.Copysign(0, -1))},
		{Kind: ActHardSigmoid, Alpha: 2, Beta: 0}}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -3, 3, -2.5, 2.5, 1e-30, -1e-30}
	twin := func(a Activation, dst, src []float32) {
		if a.Kind == ActHardSwish {
			HardSwishF32(dst, src)
		} else {
			HardSigmoidF32(dst, src, a.Alpha, a.Beta)
		}
	}
	tested := 0
	for _, k := range testTiers() {
		if k.Hard == nil {
			continue
		}
		tested++
		for _, a := range acts {
			for _, n := range []int{1, 7, 8, 16, 31, 32, 33, 100} {
				src := kerntest.Rand(uint64(n), n)
				for i := range src {
					src[i] *= 8
				}
				copy(src, special)
				got, want := make([]float32, n), make([]float32, n)
				k.Hard(got, src, a)
				twin(a, want, src)
				kerntest.SameBits(t, fmt.Sprintf("%s %v Hard n=%d", k.Name, a, n), got, want)
			}
			for _, sh := range []struct{ rows, n int }{{1, 8}, {6, 16}, {3, 13}, {5, 7}, {2, 40}, {2, 112}} {
				ldc := sh.n + 3
				c := kerntest.Rand(uint64(sh.rows*ldc), sh.rows*ldc)
				for i := range c {
					c[i] *= 8
				}
				copy(c, special)
				want := append([]float32(nil), c...)
				k.HardTile(c, ldc, sh.rows, sh.n, a)
				for r := range sh.rows {
					row := want[r*ldc : r*ldc+sh.n]
					twin(a, row, row)
				}
				kerntest.SameBits(t, fmt.Sprintf("%s %v HardTile %dx%d", k.Name, a, sh.rows, sh.n), c, want)
			}
		}
	}
	if tested == 0 {
		t.Fatal("no tier has Hard kernels")
	}
}

// TestAvgPool2s2RowsMatchesTwin runs each tier's AvgPool2s2Rows against
// AvgPool2s2RowsGo, bit for bit: rows of 1 to 40 outputs (the masked last
// step of every width), input and output rows longer than they need
// (whose extra values must be neither read into a result nor written).
func TestAvgPool2s2RowsMatchesTwin(t *testing.T) {
	tested := 0
	for _, k := range testTiers() {
		if k.AvgPool2s2Rows == nil {
			continue
		}
		tested++
		for n := 1; n <= 40; n++ {
			for _, rows := range []int{1, 3} {
				lds, ldd := 2*n+n%3, n+n%2
				src := kerntest.Rand(uint64(n*rows), 2*rows*lds)
				for i := 0; i < len(src); i += 5 {
					src[i] = []float32{float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 1e38, -1e38}[i/5%4]
				}
				got := kerntest.Rand(9, rows*ldd)
				want := append([]float32(nil), got...)
				k.AvgPool2s2Rows(got, ldd, src, lds, rows, n, 4)
				AvgPool2s2RowsGo(want, ldd, src, lds, rows, n, 4)
				kerntest.SameBits(t, fmt.Sprintf("%s n=%d rows=%d", k.Name, n, rows), got, want)
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier with AvgPool2s2Rows on this machine")
	}
}

// TestMaxPool3s2MatchesGo runs each tier's MaxPool3s2 against
// MaxPool3s2Go, bit for bit, on rows of 8 to 72 windows (the last step of
// 8 after none or several of 16, and the steps that carry the maximum of
// a column to the next): values with NaNs of several payloads and signs,
// infinities and zeros of both signs, in rows exactly 2n+1 long at the
// end of their slices (nothing past them may be read) and a destination
// longer than n (nothing past n written).
func TestMaxPool3s2MatchesGo(t *testing.T) {
	specials := []float32{
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00abc), math.Float32frombits(0x7f800123),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, -1e38,
	}
	tested := 0
	for _, k := range testTiers() {
		if k.MaxPool3s2 == nil {
			continue
		}
		tested++
		for n := 8; n <= 72; n += 8 {
			var rows [3][]float32
			for i := range rows {
				r := kerntest.Rand(uint64(n*3+i), 2*n+1)
				for j := i; j < len(r); j += 7 + i {
					r[j] = specials[(j+n)%len(specials)]
				}
				rows[i] = r[: 2*n+1 : 2*n+1]
			}
			got := kerntest.Rand(7, n+3)
			want := append([]float32(nil), got...)
			k.MaxPool3s2(got[:n], rows[0], rows[1], rows[2])
			MaxPool3s2Go(want[:n], rows[0], rows[1], rows[2])
			kerntest.SameBits(t, fmt.Sprintf("%s n=%d", k.Name, n), got, want)
		}
	}
	if tested == 0 {
		t.Skip("no tier with MaxPool3s2 on this machine")
	}
}

// TestMaxPool3s2RowsMatchesTwin runs each tier's MaxPool3s2Rows against
// MaxPool3s2RowsGo, bit for bit: rows of 1 to 40 windows (the masked last
// step of every width after none, one or two whole steps), one row and
// several, NaNs of several payloads and signs, infinities and zeros of
// both signs, input rows longer than the windows read (values past 2n in
// a row must not reach a result), the input ending at the last value read
// and output rows longer than n (nothing past n written).
func TestMaxPool3s2RowsMatchesTwin(t *testing.T) {
	specials := []float32{
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00abc), math.Float32frombits(0x7f800123),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, -1e38,
	}
	tested := 0
	for _, k := range testTiers() {
		if k.MaxPool3s2Rows == nil {
			continue
		}
		tested++
		for n := 1; n <= 40; n++ {
			for _, rows := range []int{1, 2, 5} {
				lds, ldd := 2*n+1+n%3, n+n%2
				src := kerntest.Rand(uint64(n*rows), 2*rows*lds+2*n+1)
				for j := n % 5; j < len(src); j += 7 {
					src[j] = specials[(j+n)%len(specials)]
				}
				for r := 0; r <= 2*rows; r++ {
					// past the windows' columns: huge, so that a read would show
					for c := 2*n + 1; c < lds && r*lds+c < len(src); c++ {
						src[r*lds+c] = float32(math.Inf(1))
					}
				}
				got := kerntest.Rand(9, rows*ldd)
				want := append([]float32(nil), got...)
				k.MaxPool3s2Rows(got, ldd, src, lds, rows, n)
				MaxPool3s2RowsGo(want, ldd, src, lds, rows, n)
				kerntest.SameBits(t, fmt.Sprintf("%s n=%d rows=%d", k.Name, n, rows), got, want)
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier with MaxPool3s2Rows on this machine")
	}
}

// TestPadRowsMatchesTwin runs each tier's PadRows against PadRowsGo, bit
// for bit: rows of 0 to 40 values (the masked last vector of every width
// after none, one or two whole ones) between 0 to 3 zeros on the left and
// rows 0 to 18 values longer, one row and several, source rows further
// apart than the values read, NaNs and negative zeros copied as they are,
// and nothing written past the last row (whatever was in dst before
// overwritten, zeros included).
func TestPadRowsMatchesTwin(t *testing.T) {
	tested := 0
	for _, k := range testTiers() {
		if k.PadRows == nil {
			continue
		}
		tested++
		for n := 0; n <= 40; n++ {
			for padL := range 4 {
				for _, extra := range []int{0, 1, 2, 17, 18} {
					for _, rows := range []int{1, 2, 5} {
						ldd, lds := padL+n+extra, n+n%3
						src := kerntest.Rand(uint64(n*rows+padL), max(1, rows*lds))
						for j := n % 4; j < len(src); j += 9 {
							src[j] = []float32{float32(math.NaN()), float32(math.Copysign(0, -1))}[j%2]
						}
						got := kerntest.Rand(7, rows*ldd+16)
						want := append([]float32(nil), got...)
						k.PadRows(got, ldd, src, lds, rows, n, padL)
						PadRowsGo(want, ldd, src, lds, rows, n, padL)
						kerntest.SameBits(t, fmt.Sprintf("%s n=%d padL=%d ldd=%d rows=%d", k.Name, n, padL, ldd, rows), got, want)
					}
				}
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier with PadRows on this machine")
	}
}
