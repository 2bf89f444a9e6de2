package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// window holds the sliding-window attributes that Conv, MaxPool and
// AveragePool share: auto_pad, kernel_shape, pads, strides, dilations and
// ceil_mode. Absent list attributes are nil.
type window struct {
	autoPad   string
	kernel    []int64
	pads      []int64
	strides   []int64
	dilations []int64
	ceil      bool
}

// parseWindow reads and checks the window attributes of n. Whether a list's
// length fits the input's rank is checked later, by resolve.
func parseWindow(n *Node) (*window, error) {
	w := &window{}
	var err error
	if w.autoPad, err = n.String("auto_pad", "NOTSET"); err != nil {
		return nil, err
	}
	switch w.autoPad {
	case "":
		w.autoPad = "NOTSET"
	case "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID":
	default:
		return nil, n.Errorf("auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", w.autoPad)
	}
	lists := []struct {
		name string
		dst  *[]int64
		min  int64
	}{
		{"kernel_shape", &w.kernel, 1},
		{"pads", &w.pads, 0},
		{"strides", &w.strides, 1},
		{"dilations", &w.dilations, 1},
	}
	for _, l := range lists {
		if *l.dst, err = n.Ints(l.name, nil); err != nil {
			return nil, err
		}
		for _, v := range *l.dst {
			if v < l.min || v > 1<<30 {
				return nil, n.Errorf("%s %v: each value must be in [%d, 2^30]", l.name, *l.dst, l.min)
			}
		}
	}
	if w.autoPad != "NOTSET" {
		for _, p := range w.pads {
			if p != 0 {
				return nil, n.Errorf("pads %v cannot be used with auto_pad %s", w.pads, w.autoPad)
			}
		}
	}
	ceil, err := n.Int("ceil_mode", 0)
	if err != nil {
		return nil, err
	}
	if ceil != 0 && ceil != 1 {
		return nil, n.Errorf("ceil_mode %d is not 0 or 1", ceil)
	}
	w.ceil = ceil == 1
	return w, nil
}

// span is a window's geometry along one spatial axis.
type span struct {
	in, out    int // input and output sizes
	k, s, d    int // kernel size, stride, dilation
	pad0, pad1 int // padding at the start and at the end
}

// resolve computes the window geometry for spatial input sizes in and
// kernel sizes k (from the weights, or from kernel_shape for pools),
// checking the attribute lengths against len(in).
func (w *window) resolve(n *Node, in, k []int) ([]span, error) {
	r := len(in)
	check := func(name string, v []int64, want int) error {
		if v != nil && len(v) != want {
			return n.Errorf("%s has %d values, want %d for %d spatial axes", name, len(v), want, r)
		}
		return nil
	}
	if err := check("strides", w.strides, r); err != nil {
		return nil, err
	}
	if err := check("dilations", w.dilations, r); err != nil {
		return nil, err
	}
	if err := check("pads", w.pads, 2*r); err != nil {
		return nil, err
	}
	sp := make([]span, r)
	for i := range r {
		a := span{in: in[i], k: k[i], s: 1, d: 1}
		if w.strides != nil {
			a.s = int(w.strides[i])
		}
		if w.dilations != nil {
			a.d = int(w.dilations[i])
		}
		dk := (a.k-1)*a.d + 1
		switch w.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			// out = ceil(in / stride); the padding that makes it so is
			// split evenly, the odd one at the end (UPPER) or start (LOWER).
			a.out = kern.CeilDiv(a.in, a.s)
			total := max(0, (a.out-1)*a.s+dk-a.in)
			a.pad0 = total / 2
			if w.autoPad == "SAME_LOWER" {
				a.pad0 = total - total/2
			}
			a.pad1 = total - a.pad0
			sp[i] = a
			continue
		case "NOTSET":
			if w.pads != nil {
				a.pad0, a.pad1 = int(w.pads[i]), int(w.pads[i+r])
			}
		}
		ext := a.in + a.pad0 + a.pad1 - dk
		if ext < 0 {
			return nil, n.Errorf("window of extent %d is larger than the padded input %d on spatial axis %d",
				dk, a.in+a.pad0+a.pad1, i)
		}
		// out = floor((in + pads - dk) / stride) + 1, or with ceil_mode
		// rounded up, less a last window that would start in the end
		// padding
		a.out = kern.WindowOut(a.in, a.k, a.pad0, a.pad1, a.s, a.d, w.ceil)
		sp[i] = a
	}
	return sp, nil
}

// spatialRank checks that x (described by v) is N×C×D1[×D2[×D3]] and
// returns the number of spatial axes, 1, 2 or 3.
func spatialRank(n *Node, v *Value, what string) (int, error) {
	if v == nil {
		return 0, n.Errorf("input %s is missing", what)
	}
	if v.DType != Float32 {
		return 0, n.Errorf("input %s has type %s, want float32", what, v.DType)
	}
	switch len(v.Shape) {
	case 3, 4, 5:
		return len(v.Shape) - 2, nil
	}
	return 0, n.Errorf("input %s has shape %s, want rank 3 (1-D), 4 (2-D) or 5 (3-D)", what, ShapeString(v.Shape))
}

// outputCount is the number of outputs Prepare must describe.
func outputCount(n *Node) int { return max(1, len(n.Outputs)) }

// oneOutput describes the outputs of an operator with a single output v,
// rejecting any further output the node asks for.
func oneOutput(n *Node, v Value) ([]Value, error) {
	outs := make([]Value, outputCount(n))
	for i := range outs {
		if i > 0 && hasOutput(n, i) {
			return nil, n.Errorf("%s has one output, got %d", n.OpType, len(n.Outputs))
		}
		outs[i] = v
	}
	return outs, nil
}

// hasOutput reports whether output i of n is requested.
func hasOutput(n *Node, i int) bool { return i < len(n.Outputs) && n.Outputs[i] != "" }

// checkLen returns an error when tensor t does not hold want float32 values.
func checkLen(t *Tensor, what string, want int) error {
	if t == nil || len(t.F32) != want {
		got := 0
		if t != nil {
			got = len(t.F32)
		}
		return fmt.Errorf("%s holds %d float32 values, want %d", what, got, want)
	}
	return nil
}
