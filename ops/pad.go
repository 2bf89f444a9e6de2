package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Pad.

func init() {
	Register("Pad", buildPad)
}

// padMode is how Pad fills the new elements: the modes with a device
// kernel are kern's (a PadDev's Mode), wrap the CPU's alone.
type padMode = kern.PadMode

const (
	padConstant = kern.PadConstant
	padReflect  = kern.PadReflect
	padEdge     = kern.PadEdge
	padWrap     = kern.PadEdge + 1 // not a valid kern.PadMode: no device kernel
)

// Pad extends (or, with negative pads, crops) each axis by pads[i] elements
// at the start and pads[i+rank] at the end. Opsets 2-10 take the pads and
// the fill value (float) as attributes; from opset 11 pads is input 1 (a
// constant int64 tensor) and the fill is the optional scalar input 2
// (default 0). From opset 18 the optional input 3, axes (a constant,
// negative axes counting back from the rank, none repeated), names the
// axes pads is for: then pads holds 2·len(axes) values, the other axes
// keep their size. Modes: constant, reflect (mirror without repeating the
// edge; each positive pad must be smaller than the axis), edge (repeat
// the edge element; the axis must not be empty) and, from opset 19, wrap
// (as if the axis were a ring; after cropping by the negative pads, which
// must leave an axis that is padded non-empty; pads longer than the axis
// wrap round again, as numpy's wrap).
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
	case "wrap":
		if n.Opset < 19 {
			return nil, n.Errorf("mode wrap needs opset 19, the node has %d", n.Opset)
		}
		mode = padWrap
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
			if len(in) > 4 {
				return nil, Step{}, n.Errorf("got %d inputs, want at most 4", len(in))
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
				if n.Opset < 18 {
					return nil, Step{}, n.Errorf("input 3 (axes) needs opset 18, the node has %d", n.Opset)
				}
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
		begin, end := make([]int, r), make([]int, r)
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
				case mode == padWrap && int64(d)+min(b, 0)+min(e, 0) <= 0:
					return nil, Step{}, n.Errorf("wrap padding of axis %d, empty after cropping by pads %v", i, pads)
				}
			}
			begin[i] = int(b)
			end[i] = int(e)
		}
		geom := padGeom{mode: mode, in: copyShape(x.Shape), out: shape, begin: begin, end: end, stride: stridesOf(x.Shape)}
		inLen, total := NumElems(x.Shape), NumElems(shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
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
				padCopy(env, &geom, out[0].I64, ins[0].I64, fill)
				return nil
			}
			fill := attrValue
			if cv != nil {
				fill = cv.F32[0]
			}
			padCopy(env, &geom, out[0].F32, ins[0].F32, fill)
			return nil
		}
		var dev *PadDev
		if cv := optValue(in, 2); x.DType == Float32 && mode.Valid() && (n.Opset < 11 || cv == nil || cv.Const != nil) {
			dev = &PadDev{In: copyShape(x.Shape), Out: copyShape(shape), Begin: begin,
				Mode: mode, Value: attrValue}
			if n.Opset >= 11 && cv != nil {
				dev.Value = cv.Const.F32[0]
			}
		}
		return []Value{{DType: x.DType, Shape: shape}}, Step{Run: run, Dev: devOrNil(dev)}, nil
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

// padGeom describes a planned Pad: per axis the input and output sizes,
// the (possibly negative) start and end pads and the input stride.
type padGeom struct {
	mode               padMode
	in, out            []int
	begin, end, stride []int
}

// padSource returns the input coordinate that output coordinate j reads
// along an axis of input size d padded by b at the start and e at the
// end, or -1 for the fill value. With i = j - b:
//
//	inside:   i if 0 <= i < d
//	constant: -1
//	reflect:  -i if i < 0; 2(d-1) - i if i >= d
//	edge:     clamp(i, 0, d-1)
//	wrap:     lo + ((i - lo) mod L), the kept run [lo, lo+L) being the
//	          axis cropped by the negative pads: lo = max(0, -b),
//	          L = d - max(0, -b) - max(0, -e)
//
// Prepare has checked that reflect pads are smaller than d, that edge
// axes are not empty and that wrapped runs are not, so the result lies
// in [0, d).
func padSource(mode padMode, d, b, e, j int) int {
	i := j - b
	if i >= 0 && i < d {
		return i
	}
	switch mode {
	case padReflect:
		if i < 0 {
			return -i
		}
		return 2*(d-1) - i
	case padEdge:
		return min(max(i, 0), d-1)
	case padWrap:
		lo := max(0, -b)
		L := d - lo - max(0, -e)
		m := (i - lo) % L
		if m < 0 {
			m += L
		}
		return lo + m
	}
	return -1
}

// padCopy fills dst (shape g.out) from src (shape g.in):
//
//	dst[j0,...,jk] = src[sum_a padSource(a, ja)*stride[a]]
//
// or the fill value where any padSource is -1. Along the last axis the
// inside run is one copy; only the padded ends are mapped element by
// element.
func padCopy[T kern.Numeric](env *kern.Env, g *padGeom, dst, src []T, fill T) {
	r := len(g.out)
	if r == 0 {
		copy(dst, src)
		return
	}
	inner := g.out[r-1]
	if inner == 0 || len(dst) == 0 {
		return
	}
	rows := len(dst) / inner
	forChunksOf(env, rows, max(1, elemGrain/inner), padArgs[T]{g, dst, src, fill})
}

// padArgs are padCopy's operands.
type padArgs[T kern.Numeric] struct {
	g        *padGeom
	dst, src []T
	fill     T
}

// Range fills rows [rlo, rhi) of the output viewed as [rows, inner].
func (a *padArgs[T]) Range(rlo, rhi int) {
	g, dst, src, fill := a.g, a.dst, a.src, a.fill
	r := len(g.out)
	inner := g.out[r-1]
	d, b, e := g.in[r-1], g.begin[r-1], g.end[r-1]
	// Output columns [lo, hi) read input columns [lo-b, hi-b) in order.
	lo, hi := max(0, b), min(inner, b+d)
	outer := g.out[:r-1]
	var cb [maxRank]int
	coord := coordBuf(cb[:], len(outer))
	for row := rlo; row < rhi; row++ {
		unravel(row, outer, coord)
		out := dst[row*inner : (row+1)*inner]
		base, inside := 0, true
		for a, c := range coord {
			m := padSource(g.mode, g.in[a], g.begin[a], g.end[a], c)
			if m < 0 {
				inside = false
				break
			}
			base += m * g.stride[a]
		}
		if !inside {
			// out[j] = fill
			for j := range out {
				out[j] = fill
			}
			continue
		}
		if lo < hi {
			padEnds(out, src, base, g.mode, d, b, e, 0, lo, fill)
			copy(out[lo:hi], src[base+lo-b:base+hi-b])
			padEnds(out, src, base, g.mode, d, b, e, hi, inner, fill)
		} else {
			padEnds(out, src, base, g.mode, d, b, e, 0, inner, fill)
		}
	}
}

// padEnds fills out[j0:j1] of one last-axis row whose input row starts at
// src[base]:
//
//	out[j] = src[base + padSource(j)], or fill where that is -1
func padEnds[T kern.Numeric](out, src []T, base int, mode padMode, d, b, e, j0, j1 int, fill T) {
	for j := j0; j < j1; j++ {
		if m := padSource(mode, d, b, e, j); m >= 0 {
			out[j] = src[base+m]
		} else {
			out[j] = fill
		}
	}
}
