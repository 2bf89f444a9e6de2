package kern

// residualInPlace is the blocked tiers' Tier.ConvResidualInPlace: the
// paths whose kernels add the residual in the epilogue of the tile they
// store, reading each value of it just before they write the value of y
// in its place, and never write y before that:
//
//   - Winograd where the output is stored tile by tile with the whole
//     epilogue (a Relu or no activation: winoFused): stage 3 reads a
//     tile's residual and stores it, one output channel a unit (the
//     image groups and the parts as well);
//   - the in-place products where they write the output directly (a
//     compact product, or rows of panels) with the whole depth in one
//     block (a product over several blocks writes its partial sums into
//     y first), every panel on an offsets kernel that takes the residual
//     (a full one, pieces of narrower ones, or a narrow one as wide as a
//     kernel) and every group of rows whole (MR of them) or, on full
//     panels only, on a last-rows kernel.
//
// Every other path (pixel tiles, depthwise, the im2col tiles, Gemv) adds
// the residual in a pass of its own or through a buffer and reports
// false.
func (bl *blocked) residualInPlace(g *ConvGeom, pre bool, act Activation) bool {
	switch bl.pathOf(g, pre) {
	case pathWinograd:
		return winoFused(&ConvFusion{Act: act})
	case pathInPlace:
		pw := bl.Widths[0]
		ph := phasesOf(g)
		compact := ph.wq == g.OW
		rowPanels := !compact && (g.OW%pw == 0 || g.OW >= 2*pw)
		k := g.C / g.Group * g.KH * g.KW
		if !compact && !rowPanels || bl.kBlock(k) < k {
			return false
		}
		// the narrow panel's width, if any
		w := g.OH * g.OW % pw
		if rowPanels {
			w = g.OW % pw
		}
		if w == 0 {
			// full panels only: whole groups of rows, or the last rows
			// on their kernels
			return g.M/g.Group%bl.MR == 0 || len(bl.OffsRows) > 0
		}
		if g.M/g.Group%bl.MR != 0 {
			return false
		}
		// A narrow panel runs in pieces in place (not where the panels
		// are packed or take the prologue), else gathered for the kernel
		// as wide as it, which stores into y with the residual only where
		// it is exactly that wide.
		pack := bl.inPlacePack(g) || pre && bl.PackPanelAffine != nil && isPointwise(g)
		if !pack && bl.offsPieces(w) {
			return true
		}
		_, kw := bl.kernFor(w)
		return kw == w
	}
	return false
}
