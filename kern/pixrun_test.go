package kern

import (
	"fmt"
	"testing"
)

// TestPixRunFetches checks which lines of the next panel pixRun's calls
// ask the kernels to fetch: with flags&pixPrefetch, every line of the next
// k steps exactly once, in order, each tile at most a line per pair of its
// steps (pixSpread), or all by the first call's first tile where a tile
// would have more (pixPrefetch on the first call alone); without it, none.
// A start line the caller gives (flags>>20) moves the tiles' fetches on by
// as many lines, and never reaches a kernel that fetches all.
// The kernels are stand-ins that record the flags and tiles of each call.
func TestPixRunFetches(t *testing.T) {
	type call struct{ flags, tiles int }
	var calls []call
	rec := func(k int, w, src *float32, pix, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int) {
		calls = append(calls, call{flags, tiles})
	}
	kerns := []PixKernel{rec, rec, rec, rec, rec, rec, rec, rec}
	var w, src [1]float32
	var boff [1]int32
	for _, wld := range []int{16, 32} {
		for _, k := range []int{1, 2, 3, 9, 64, 100, 256, 1024, 2048, 4096} {
			for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 49, 63, 196, 784} {
				for _, pf := range []bool{false, true} {
					for _, from := range []int{0, 1000} {
						name := fmt.Sprintf("wld %d k %d pixels %d fetch %v from %d", wld, k, n, pf, from)
						calls = calls[:0]
						pix := make([]int32, n)
						c := make([]float32, n)
						fl := 1 | from<<20
						if pf {
							fl |= pixPrefetch
						}
						pixRun(kerns, k, wld, &w[0], &src[0], pix, &boff[0], c, 1, fl, nil, nil)
						lines := CeilDiv(k*wld, 16)
						next, tiles, firstAll := from, 0, 0
						for i, cl := range calls {
							if cl.flags&1 == 0 {
								t.Fatalf("%s: call %d lost flags&1", name, i)
							}
							tiles += cl.tiles
							switch {
							case cl.flags&pixSpread != 0:
								q := cl.flags >> 8 & 0xfff
								if start := cl.flags >> 20; start != next {
									t.Fatalf("%s: call %d fetches from line %d, want %d", name, i, start, next)
								}
								if q > k/2 {
									t.Fatalf("%s: %d lines a tile of %d steps", name, q, k)
								}
								next += q * cl.tiles
							case cl.flags&pixPrefetch != 0:
								if i != 0 {
									t.Fatalf("%s: call %d fetches all", name, i)
								}
								if cl.flags>>20 != 0 {
									t.Fatalf("%s: call %d fetches all, given line %d", name, i, cl.flags>>20)
								}
								firstAll++
							case cl.flags>>2 != 0:
								t.Fatalf("%s: call %d flags %#x", name, i, cl.flags)
							}
						}
						if tiles != CeilDiv(n, len(kerns)) {
							t.Fatalf("%s: %d tiles", name, tiles)
						}
						next -= from
						switch {
						case !pf && (next > 0 || firstAll > 0):
							t.Fatalf("%s: fetches without flags&pixPrefetch", name)
						case pf && firstAll == 0 && (next < lines || next-lines >= tiles):
							t.Fatalf("%s: fetches %d lines of %d", name, next, lines)
						case pf && firstAll > 0 && (next > 0 || tiles > 1 && CeilDiv(lines, tiles) <= k/2):
							t.Fatalf("%s: the first tile fetches all, where tiles could share them", name)
						}
					}
				}
			}
		}
	}
}

// TestSplitKNextRun checks that a split-K run's last depth block points
// its fetches at the same run of the next panel: from the end of step c1
// of panel jb, splitKNextRun's lines reach step c0 of panel jb+1.
func TestSplitKNextRun(t *testing.T) {
	for _, nr := range []int{16, 32} {
		for _, c := range []int{64, 1024, 2048} {
			for _, runs := range []int{2, 3, 4} {
				for r := range runs {
					c0, c1 := r*c/runs/8*8, (r+1)*c/runs/8*8
					if r == runs-1 {
						c1 = c
					}
					end := c1 * nr                               // values from panel jb's start
					got := end + 16*splitKNextRun(c, c0, c1, nr) // 16 values a line
					if want := c*nr + c0*nr; got != want {
						t.Fatalf("nr %d C %d run [%d,%d): fetches from value %d, want %d", nr, c, c0, c1, got, want)
					}
				}
			}
		}
	}
}
