package kern

import "github.com/bnrun/bnrun/internal/hugepage"

// groupRows returns group grp's rows of a convolution's weights w, n
// values a group: w[grp·n : (grp+1)·n], or nil when w is nil. A Conv given
// its weights packed (Env.PackedW) may be given no plain ones (see
// Tier.PackConv); its product then reads A from the pack alone.
func groupRows(w []float32, grp, n int) []float32 {
	if w == nil {
		return nil
	}
	return w[grp*n : (grp+1)*n]
}

// packConvMoves is the blocked tiers' Tier.PackConvMoves: every layout of
// packConv (see packConvKind) but Winograd's transformed weights (1) only
// moves values.
func packConvMoves(kind int) bool { return kind != 1 }

// keptFloats returns the zeroed memory of a pack that is made once and
// kept as long as the model (what a tier's PackConv, PackGemm and
// PackDwBlock return): large-page memory where the system gives it (see
// package hugepage), so that the weights a Run reads, layer after layer,
// take a few TLB entries instead of one per 4 KiB. Nothing made per call
// may take it: its chunks are never reused.
func keptFloats(n int) []float32 { return hugepage.Floats(n) }
