package kern

import "testing"

// TestWindowOut checks a window's output length by placing the windows:
// floor counts the full ones; ceil adds a partial last one when the full
// ones leave values uncovered, then drops the last window when it starts
// in the end padding.
func TestWindowOut(t *testing.T) {
	for in := 1; in <= 9; in++ {
		for k := 1; k <= 4; k++ {
			for p0 := range 3 {
				for p1 := range 3 {
					for s := 1; s <= 3; s++ {
						for d := 1; d <= 2; d++ {
							dk, padded := (k-1)*d+1, in+p0+p1
							floor, last := 0, -1 // full windows, the last's start
							for st := 0; st+dk <= padded; st += s {
								floor, last = floor+1, st
							}
							ceil := floor
							if floor > 0 && last+dk < padded {
								ceil, last = ceil+1, last+s
							}
							if floor > 0 && last >= in+p0 {
								ceil--
							}
							if got := WindowOut(in, k, p0, p1, s, d, false); got != floor {
								t.Errorf("WindowOut(%d, %d, %d, %d, %d, %d, false) = %d, want %d", in, k, p0, p1, s, d, got, floor)
							}
							if got := WindowOut(in, k, p0, p1, s, d, true); got != ceil {
								t.Errorf("WindowOut(%d, %d, %d, %d, %d, %d, true) = %d, want %d", in, k, p0, p1, s, d, got, ceil)
							}
						}
					}
				}
			}
		}
	}
}

// TestWindowOutCases checks output sizes against hand-computed ones.
func TestWindowOutCases(t *testing.T) {
	for _, c := range []struct {
		in, k, p0, p1, s, d int
		ceil                bool
		want                int
	}{
		{7, 3, 1, 1, 1, 1, false, 7},
		{7, 3, 1, 1, 2, 1, false, 4},
		{8, 3, 0, 0, 2, 1, false, 3},
		{8, 3, 0, 0, 2, 1, true, 4},
		{112, 3, 1, 1, 2, 1, true, 57}, // the last window starts at 111 (with the padding, 112 < 113): kept
		{6, 2, 0, 1, 2, 1, true, 3},    // ceil gives 4, but window 3 would start at 6, in the end padding
		{10, 3, 0, 0, 1, 2, false, 6},
		{2, 5, 1, 1, 1, 1, false, 0}, // a window larger than the padded input
		{7, 3, 0, 0, 0, 0, false, 5}, // stride and dilation 0 count as 1
	} {
		if got := WindowOut(c.in, c.k, c.p0, c.p1, c.s, c.d, c.ceil); got != c.want {
			t.Errorf("%+v: got %d, want %d", c, got, c.want)
		}
	}
}
