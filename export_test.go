package bnrun

// WithKeptWeights makes Open keep every weight as the graph has it, none
// held by the kernels that pack them (runtime.Options.HoldWeights off):
// what tests compare a model whose plain weights were let go with.
func WithKeptWeights() Option {
	return func(c *config) error { c.keepWeights = true; return nil }
}

// HeldWeightBytes returns the bytes of the weights m's kernels hold: as the
// graph has them, and packed (runtime.Program.HeldWeightBytes).
func HeldWeightBytes(m *Model) (plain, packed int64) { return m.prog.HeldWeightBytes() }
