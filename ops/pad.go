package ops

import "fmt"

// Pad.

func init() {
	Register("Pad", buildPad)
}

// padMode is how Pad fills the new elements.
type padMode uint8

const (
	padConstant padMode = iota
	padReflect
	padEdge
)

// Pad extends (or, with negative pads, crops) each axis by pads[i] elements
// at the start and pads[i+rank] at the end. Opsets 2-10 take the pads and
// the fill value (float) as attributes; from opset 11 pads is input 1 (a
// constant int64 tensor) and the fill is the optional scalar input 2
// (default 0). Opset 18's optional axes input (input 3, constant) is also
// accepted. Modes: constant, reflect (mirror without repeating the edge;
// each positive pad must be smaller than the axis), edge (repeat the edge
// element; the axis must not be empty).
func buildPad(n *Node) (Kernel, error) {
	modeName, err := n.String("mode", "constant")
	if err != nil {
		return nil, err
	}
	var mode padMode
	switch modeName {
	case "constant":
		mode = padConstant
	case "reflect":
		mode = padReflect
	case "edge":
		mode = padEdge
	default:
		return nil, n.Errorf("unsupported mode %q", modeName)
	}
	var attrPads []int64
	var attrValue float32
	if n.Opset < 11 {
		name := "pads"
		if n.Opset < 2 && !n.Has("pads") {
			name = "paddings"
		}
		if !n.Has(name) {
			return nil, n.Errorf("%s attribute is required before opset 11", name)
		}
		if attrPads, err = n.Ints(name, nil); err != nil {
			return nil, err
		}
		if attrValue, err = n.Float("value", 0); err != nil {
			return nil, err
		}
	} else if n.Has("pads") || n.Has("value") {
		return nil, n.Errorf("pads and value are inputs from opset 11, not attributes")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		r := len(x.Shape)
		pads := attrPads
		if n.Opset < 11 {
			if err := needDType(n, x, "data", Float32); err != nil {
				return nil, Step{}, err
			}
			if len(in) > 1 {
				return nil, Step{}, n.Errorf("takes one input before opset 11, got %d", len(in))
			}
		} else {
			if err := needDType(n, x, "data", Float32, Int64); err != nil {
				return nil, Step{}, err
			}
			if err := needInputs(n, in, 2); err != nil {
				return nil, Step{}, err
			}
			if pads, err = constInt64s(n, in[1], "pads"); err != nil {
				return nil, Step{}, err
			}
			if cv := optValue(in, 2); cv != nil {
				if cv.DType != x.DType || NumElems(cv.Shape) != 1 {
					return nil, Step{}, n.Errorf("constant_value must be a scalar of the data's type %s", x.DType)
				}
			}
			if av := optValue(in, 3); av != nil {
				axes, err := constInt64s(n, av, "axes")
				if err != nil {
					return nil, Step{}, err
				}
				if pads, err = padsForAxes(n, pads, axes, r); err != nil {
					return nil, Step{}, err
				}
			}
		}
		if len(pads) != 2*r {
			return nil, Step{}, n.Errorf("pads %v has %d entries for rank %d, want %d", pads, len(pads), r, 2*r)
		}
		shape := make([]int, r)
		maps := make([][]int, r)
		for i, d := range x.Shape {
			b, e := pads[i], pads[i+r]
			o := int64(d) + b + e
			if o < 0 {
				return nil, Step{}, n.Errorf("pads %v make axis %d of %s negative", pads, i, ShapeString(x.Shape))
			}
			shape[i] = int(o)
			if o > 0 && (b > 0 || e > 0) {
				switch {
				case mode == padReflect && (b >= int64(d) || e >= int64(d)):
					return nil, Step{}, n.Errorf("reflect pads %v need each pad smaller than axis %d's size %d", pads, i, d)
				case mode == padEdge && d == 0:
					return nil, Step{}, n.Errorf("edge padding of empty axis %d", i)
				}
			}
			maps[i] = padIndexMap(mode, d, int(b), int(o))
		}
		inLen, total := NumElems(x.Shape), NumElems(shape)
		inStrides := stridesOf(x.Shape)
		run := func(env *Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) ||
				ins[0].DType != out[0].DType || ins[0].Len() != inLen || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			cv := optTensor(ins, 2)
			if n.Opset < 11 {
				cv = nil
			}
			if cv != nil && (cv.DType != out[0].DType || cv.Len() != 1) {
				return fmt.Errorf("constant_value must be a scalar of the data's type")
			}
			if out[0].DType == Int64 {
				var fill int64
				if cv != nil {
					fill = cv.I64[0]
				}
				padCopy(env, out[0].I64, ins[0].I64, shape, inStrides, maps, fill)
				return nil
			}
			fill := attrValue
			if cv != nil {
				fill = cv.F32[0]
			}
			padCopy(env, out[0].F32, ins[0].F32, shape, inStrides, maps, fill)
			return nil
		}
		return []Value{{DType: x.DType, Shape: shape}}, Step{Run: run}, nil
	}), nil
}

// padsForAxes expands opset 18 pads given for a subset of axes to pads for
// every axis (zero elsewhere).
func padsForAxes(n *Node, pads, axes []int64, r int) ([]int64, error) {
	if len(pads) != 2*len(axes) {
		return nil, n.Errorf("pads %v has %d entries for %d axes", pads, len(pads), len(axes))
	}
	norm, err := axesIn(n, "axis", axes, r)
	if err != nil {
		return nil, err
	}
	full := make([]int64, 2*r)
	for i, a := range norm {
		full[a] = pads[i]
		full[a+r] = pads[i+len(axes)]
	}
	return full, nil
}

// padIndexMap returns, for each output coordinate along an axis of input
// size d padded by b at the start to size o, the input coordinate it reads
// (-1 for the fill value). With i = j - b:
//
//	constant: i if 0 <= i < d, else -1
//	reflect:  -i if i < 0; 2(d-1) - i if i >= d
//	edge:     clamp(i, 0, d-1)
func padIndexMap(mode padMode, d, b, o int) []int {
	m := make([]int, o)
	for j := range m {
		i := j - b
		if i >= 0 && i < d {
			m[j] = i
			continue
		}
		switch mode {
		case padConstant:
			m[j] = -1
		case padReflect:
			if i < 0 {
				i = -i
			} else {
				i = 2*(d-1) - i
			}
			m[j] = i
		case padEdge:
			m[j] = min(max(i, 0), d-1)
		}
	}
	return m
}

// padCopy fills dst (of the given shape) from src through the per-axis
// index maps: dst[j0,...,jk] = src[sum maps[a][ja]*stride[a]], or fill when
// any map entry is -1.
func padCopy[T numeric](env *Env, dst, src []T, shape, stride []int, maps [][]int, fill T) {
	r := len(shape)
	if r == 0 {
		copy(dst, src)
		return
	}
	inner := shape[r-1]
	if inner == 0 {
		return
	}
	last, ls := maps[r-1], stride[r-1]
	outer := shape[:r-1]
	rows := len(dst) / inner
	forChunks(env, rows, max(1, elemGrain/inner), func(lo, hi int) {
		coord := make([]int, len(outer))
		for row := lo; row < hi; row++ {
			unravel(row, outer, coord)
			d := dst[row*inner : (row+1)*inner]
			base, inside := 0, true
			for a, c := range coord {
				m := maps[a][c]
				if m < 0 {
					inside = false
					break
				}
				base += m * stride[a]
			}
			if !inside {
				for i := range d {
					d[i] = fill
				}
				continue
			}
			for i, m := range last {
				if m < 0 {
					d[i] = fill
				} else {
					d[i] = src[base+m*ls]
				}
			}
		}
	})
}
