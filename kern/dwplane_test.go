package kern

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestDwPlaneMatchesDirect checks the twin itself against the plain
// depthwise loops (Reference tier's convolution) for the geometries the
// path takes, bias and padding included.
func TestDwPlaneMatchesDirect(t *testing.T) {
	for i, c := range []struct{ c, h, w, k, s, p int }{
		{5, 7, 7, 3, 1, 1}, {3, 14, 13, 3, 2, 1}, {4, 9, 20, 5, 1, 2}, {2, 11, 17, 5, 2, 2}, {3, 33, 5, 3, 1, 0},
	} {
		g := &ConvGeom{N: 2, C: c.c, H: c.h, W: c.w, M: c.c, KH: c.k, KW: c.k, SH: c.s, SW: c.s, DH: 1, DW: 1,
			PadT: c.p, PadL: c.p, PadB: c.p, PadR: c.p, Group: c.c}
		g.OH = WindowOut(c.h, c.k, c.p, c.p, c.s, 1, false)
		g.OW = WindowOut(c.w, c.k, c.p, c.p, c.s, 1, false)
		x := kerntest.Rand(uint64(i), g.N*c.c*c.h*c.w)
		w := kerntest.Rand(uint64(i)+1, c.c*c.k*c.k)
		b := kerntest.Rand(uint64(i)+2, c.c)
		want := make([]float32, g.N*c.c*g.OH*g.OW)
		Reference.Conv(nil, g, x, w, b, want, nil)
		got := make([]float32, len(want))
		bl := &blocked{BlockedSpec: BlockedSpec{DwPlane: func(kh, kw, s int) DwPlaneKernel { return DwPlaneGo(kh, kw, s) }}}
		bl.convDwPlane(nil, g, x, w, b, got, nil)
		kerntest.Check(t, fmt.Sprintf("case %d", i), got, want, 1e-5)
	}
}
