package bnrun

// Prepare checks input shapes (one per input, in order) against the
// model's declarations and memory limits, and makes the plan for them, so
// that a caller learns before allocating its inputs whether the model can
// run at these shapes, and the first Run at them is as quick as later
// ones. A shape over a limit gives an error that matches ErrMemoryLimit
// and names the input and its size.
func (m *Model) Prepare(shapes ...[]int) error {
	if err := m.prog.CheckInputShapes(shapes); err != nil {
		return err
	}
	_, err := m.prog.PlanFor(shapes)
	return err
}
