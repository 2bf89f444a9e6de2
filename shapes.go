package bnrun

import (
	"fmt"
	"strconv"
	"strings"
)

// DynamicDim is one dimension of an input that the model leaves open: a
// symbolic one ("batch", "height") or one the file gives no size at all.
type DynamicDim struct {
	Input string // the input's name
	Axis  int    // the dim's position in the input's shape
	Name  string // the symbolic name, "" when the file gives none
}

// Key names the dim for ShapesWith: its symbolic name, or "INPUT:AXIS"
// when it has none.
func (d DynamicDim) Key() string {
	if d.Name != "" {
		return d.Name
	}
	return d.Input + ":" + strconv.Itoa(d.Axis)
}

// String formats the dim as its key and where it is: "height (x:2)".
func (d DynamicDim) String() string {
	at := d.Input + ":" + strconv.Itoa(d.Axis)
	if d.Name == "" {
		return at
	}
	return d.Name + " (" + at + ")"
}

// DynamicDims lists the dynamic dims of the model's inputs, input by
// input and axis by axis. A symbolic name used by several inputs appears
// once per use.
func (m *Model) DynamicDims() []DynamicDim {
	var out []DynamicDim
	for _, in := range m.inputs {
		for j, d := range in.Shape {
			if d < 0 {
				out = append(out, DynamicDim{Input: in.Name, Axis: j, Name: in.DimNames[j]})
			}
		}
	}
	return out
}

// ShapesWith returns one shape per input (in order) with the dynamic dims
// set: a dim whose key (see DynamicDim.Key: its symbolic name, or
// "INPUT:AXIS"; a named dim may also be given by "INPUT:AXIS") is in dims
// takes that size; one that is not takes batch when it is the first axis
// of an input (or shares its name with such a dim), the batch axis by
// convention; any other is an error, rather than a guess: a model that
// takes [N,3,H,W] has no sensible default for H and W. A key that names
// no dynamic dim, a size below 1, or an input without a declared shape is
// an error too. The errors match ErrInputShape.
func (m *Model) ShapesWith(dims map[string]int, batch int) ([][]int, error) {
	dyn := m.DynamicDims()
	for k, v := range dims {
		found := false
		for _, d := range dyn {
			if d.Key() == k || d.Input+":"+strconv.Itoa(d.Axis) == k {
				found = true
			}
		}
		if !found {
			return nil, &InputError{Kind: ErrInputShape, Detail: fmt.Sprintf("the model has no dynamic dim %q; %s", k, dynamicDimsString(dyn))}
		}
		if v < 1 {
			return nil, &InputError{Kind: ErrInputShape, Detail: fmt.Sprintf("dim %s = %d: a size must be at least 1", k, v)}
		}
	}
	if batch < 1 {
		return nil, &InputError{Kind: ErrInputShape, Detail: fmt.Sprintf("batch %d: a size must be at least 1", batch)}
	}
	// Symbolic names that are some input's first axis default to batch.
	batchNames := map[string]bool{}
	for _, d := range dyn {
		if d.Axis == 0 && d.Name != "" {
			batchNames[d.Name] = true
		}
	}
	shapes := make([][]int, len(m.inputs))
	for i, in := range m.inputs {
		if in.Shape == nil {
			return nil, &InputError{Input: in.Name, Kind: ErrInputShape, Detail: "no declared shape"}
		}
		s := make([]int, len(in.Shape))
		for j, d := range in.Shape {
			if d >= 0 {
				s[j] = d
				continue
			}
			dd := DynamicDim{Input: in.Name, Axis: j, Name: in.DimNames[j]}
			at := in.Name + ":" + strconv.Itoa(j)
			switch v, ok := dims[at]; {
			case ok:
				s[j] = v
			case dd.Name != "" && dims[dd.Name] > 0:
				s[j] = dims[dd.Name]
			case j == 0 || batchNames[dd.Name]:
				s[j] = batch
			default:
				return nil, &InputError{Input: in.Name, Kind: ErrInputShape,
					Detail: fmt.Sprintf("dim %s is dynamic and no size was given for it (%s)", dd, dynamicDimsString(dyn))}
			}
		}
		shapes[i] = s
	}
	return shapes, nil
}

// dynamicDimsString lists dims for an error message.
func dynamicDimsString(dyn []DynamicDim) string {
	if len(dyn) == 0 {
		return "it has none"
	}
	parts := make([]string, len(dyn))
	for i, d := range dyn {
		parts[i] = d.String()
	}
	return "its dynamic dims: " + strings.Join(parts, ", ")
}
