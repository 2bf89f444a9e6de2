package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Resize", buildResize)
	Register("Upsample", buildUpsample)
}

// resizeMode is how Resize samples along an axis.
type resizeMode uint8

const (
	resizeNearest resizeMode = iota
	resizeLinear
	resizeCubic
)

// resizeAttrs are a Resize's (or Upsample's) attributes.
type resizeAttrs struct {
	mode resizeMode
	// coord is the coordinate transformation mode; nearest the rounding
	// of nearest mode ("simple" for opset 10 and Upsample: floor when
	// enlarging, ceil when shrinking).
	coord, nearest  string
	cubicA          float64
	excludeOutside  bool
	extrapolation   float32
	attrScales      []float32 // Upsample-7's scales
	roiIn, scalesIn int       // input positions, -1 for none
	sizesIn         int
	need, nInputs   int // inputs required, and at most
	// opset 18: antialias (linear and cubic filters stretched by 1/scale
	// when shrinking), the axes that scales, sizes and roi are for (nil:
	// every axis), and keep_aspect_ratio_policy (stretch, not_larger or
	// not_smaller) for sizes
	antialias bool
	axes      []int64
	keep      string
}

// buildResize binds Resize (opsets 10, 11, 13, 18 and 19) on float32 data:
//
//	y[i_0, ..., i_{r-1}] = Σ w_0(i_0, j_0)·...·w_{r-1}(i_{r-1}, j_{r-1})·x[j_0, ..., j_{r-1}]
//
// separable per axis. Along an axis of input length n and scale s (given,
// or sizes[d]/n), output index i has the input coordinate c(i) of the
// coordinate transformation mode (L = s·n, as a real number; m the
// output's length, an integer):
//
//	half_pixel (default)    (i + 1/2)/s - 1/2
//	half_pixel_symmetric    n/2·(1 - m/L) + (i + 1/2)/s - 1/2 (from opset 19)
//	pytorch_half_pixel      (i + 1/2)/s - 1/2, or -1/2 when L = 1
//	align_corners           i·(n - 1)/(L - 1), or 0 when L = 1
//	asymmetric              i/s (the only mode at opset 10)
//	tf_half_pixel_for_nearest (i + 1/2)/s
//	tf_crop_and_resize      roi_start·(n-1) + i·(roi_end - roi_start)·(n-1)/(L-1); outside [0, n-1]
//	                        the value extrapolation_value
//
// and takes, with b = ceil(c) - 1 and t = c - b in (0, 1], input indexes
// clamped to [0, n-1] (the edge repeated):
//
//	nearest  index b+1 when t > 1/2 (round_prefer_floor, default), t ≥ 1/2
//	         (round_prefer_ceil), never (floor), always (ceil); at opset 10
//	         floor(c) when enlarging, ceil(c) when shrinking
//	linear   (1-t)·x[b] + t·x[b+1]
//	cubic    Keys' kernel with a = cubic_coeff_a (-0.75) on x[b-1..b+2]
//
// From opset 18, antialias=1 stretches the linear and cubic filters by
// 1/s' (s' = min(s, 1)), so that shrinking averages every input the
// stretched filter covers: with p running over the integers with
// |p - t|·s' < 1 (linear: the triangle max(0, 1 - |p - t|·s')) or < 2
// (cubic: Keys' kernel of |p - t|·s'), the weights of x[b+p] are those
// values divided by their sum, as ONNX's reference computes them (which
// normalises the cubic weights of an unstretched filter too). With
// exclude_outside=1 the linear and cubic weights of indexes outside
// [0, n-1] are zeroed and the rest renormalised (nothing changes for
// plain linear, whose clamped edge taps give the same value).
//
// The weights are computed in float64, each output of an axis's pass
// summed in float64 and rounded once. Exactly one of scales and sizes is
// given, as constants known at plan time; the output's length along an
// axis is floor(n·s) for a scale. From opset 18 the attribute axes names
// the axes that scales, sizes and roi are for (the others keep their
// size), and keep_aspect_ratio_policy reads sizes: stretch (default) as
// they are, not_larger and not_smaller with one scale s, the least or the
// greatest of sizes[d]/n_d over those axes, making each
// floor(s·n_d + 1/2) long. Axes are resampled from the last to the first,
// the axes left as they are skipped. Attributes of a later opset than the
// node's are refused.
func buildResize(n *Node) (Kernel, error) {
	a, err := parseResize(n, n.Opset < 11)
	if err != nil {
		return nil, err
	}
	if err := a.parseResize18(n); err != nil {
		return nil, err
	}
	switch {
	case n.Opset < 11:
		a.scalesIn, a.roiIn, a.sizesIn, a.need, a.nInputs = 1, -1, -1, 2, 2
	case n.Opset < 13:
		// roi and scales are required inputs, possibly empty
		a.roiIn, a.scalesIn, a.sizesIn, a.need, a.nInputs = 1, 2, 3, 3, 4
	default:
		a.roiIn, a.scalesIn, a.sizesIn, a.need, a.nInputs = 1, 2, 3, 1, 4
	}
	return resizeKernel(n, a), nil
}

// buildUpsample binds Upsample (opsets 7 and 9), Resize-10's semantics:
// mode nearest or linear, asymmetric coordinates, the scales an attribute
// (opset 7) or a constant input (opset 9).
func buildUpsample(n *Node) (Kernel, error) {
	a, err := parseResize(n, true)
	if err != nil {
		return nil, err
	}
	a.roiIn, a.sizesIn = -1, -1
	if n.Opset < 9 {
		a.attrScales, err = n.Floats("scales", nil)
		if err != nil {
			return nil, err
		}
		if a.attrScales == nil {
			return nil, n.Errorf("attribute scales is required")
		}
		a.scalesIn, a.need, a.nInputs = -1, 1, 1
	} else {
		a.scalesIn, a.need, a.nInputs = 1, 2, 2
	}
	if a.mode == resizeCubic {
		return nil, n.Errorf("mode cubic is not an Upsample mode")
	}
	return resizeKernel(n, a), nil
}

// parseResize reads the attributes; old is Resize-10 and Upsample, whose
// only coordinates are asymmetric and whose nearest rounding is "simple".
func parseResize(n *Node, old bool) (resizeAttrs, error) {
	var a resizeAttrs
	mode, err := n.String("mode", "nearest")
	if err != nil {
		return a, err
	}
	switch mode {
	case "nearest":
		a.mode = resizeNearest
	case "linear", "bilinear":
		a.mode = resizeLinear
	case "cubic":
		a.mode = resizeCubic
	default:
		return a, n.Errorf("unknown mode %q", mode)
	}
	if old {
		a.coord, a.nearest = "asymmetric", "simple"
		return a, nil
	}
	if a.coord, err = n.String("coordinate_transformation_mode", "half_pixel"); err != nil {
		return a, err
	}
	switch a.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize":
	case "half_pixel_symmetric":
		if n.Opset < 19 {
			return a, n.Errorf("coordinate_transformation_mode half_pixel_symmetric needs opset 19, the node has %d", n.Opset)
		}
	default:
		return a, n.Errorf("unknown coordinate_transformation_mode %q", a.coord)
	}
	if a.nearest, err = n.String("nearest_mode", "round_prefer_floor"); err != nil {
		return a, err
	}
	switch a.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return a, n.Errorf("unknown nearest_mode %q", a.nearest)
	}
	ca, err := n.Float("cubic_coeff_a", -0.75)
	if err != nil {
		return a, err
	}
	a.cubicA = float64(ca)
	ex, err := n.Int("exclude_outside", 0)
	if err != nil {
		return a, err
	}
	a.excludeOutside = ex != 0
	if a.extrapolation, err = n.Float("extrapolation_value", 0); err != nil {
		return a, err
	}
	return a, nil
}

// parseResize18 reads the attributes opset 18 adds to Resize: antialias,
// axes and keep_aspect_ratio_policy. A node of an earlier opset may not
// carry them.
func (a *resizeAttrs) parseResize18(n *Node) error {
	if n.Opset < 18 {
		for _, name := range []string{"antialias", "axes", "keep_aspect_ratio_policy"} {
			if n.Has(name) {
				return n.Errorf("attribute %s needs opset 18, the node has %d", name, n.Opset)
			}
		}
		a.keep = "stretch"
		return nil
	}
	aa, err := n.Int("antialias", 0)
	if err != nil {
		return err
	}
	if aa != 0 && aa != 1 {
		return n.Errorf("antialias %d is not 0 or 1", aa)
	}
	a.antialias = aa == 1 && a.mode != resizeNearest // nearest has no filter to stretch
	if a.axes, err = n.Ints("axes", nil); err != nil {
		return err
	}
	if n.Has("axes") && len(a.axes) == 0 {
		return n.Errorf("axes is empty")
	}
	if a.keep, err = n.String("keep_aspect_ratio_policy", "stretch"); err != nil {
		return err
	}
	switch a.keep {
	case "stretch", "not_larger", "not_smaller":
	default:
		return n.Errorf("unknown keep_aspect_ratio_policy %q", a.keep)
	}
	return nil
}

// resizeKernel is the Prepare of Resize and Upsample.
func resizeKernel(n *Node, a resizeAttrs) Kernel {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, a.need); err != nil {
			return nil, Step{}, err
		}
		if len(in) > a.nInputs {
			return nil, Step{}, n.Errorf("got %d inputs, want at most %d", len(in), a.nInputs)
		}
		x := in[0]
		if err := needDType(n, x, "X", Float32); err != nil {
			return nil, Step{}, err
		}
		r := len(x.Shape)
		scales, sizes, roi, sel, err := a.params(n, in, r, x.Shape)
		if err != nil {
			return nil, Step{}, err
		}
		p, err := planResize(n, a, x.Shape, scales, sizes, roi, sel)
		if err != nil {
			return nil, Step{}, err
		}
		inLen, outLen := NumElems(x.Shape), NumElems(p.out)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins[:1], 1) || !checkRunTensors(out, 1) || ins[0].Len() != inLen ||
				out[0].Len() != outLen || out[0].DType != Float32 {
				return fmt.Errorf("tensors do not match the plan")
			}
			p.run(env, out[0].F32, ins[0].F32)
			return nil
		}
		return []Value{{DType: Float32, Shape: p.out}}, Step{Run: run, Scratch: p.scratch, Dev: p.dev()}, nil
	})
}

// dev describes the plan for a device: its passes with their taps.
func (p *resizePlan) dev() *ResizeDev {
	d := &ResizeDev{In: p.in, Out: p.out, Extrap: p.extrap, Axes: make([]ResizeAxisDev, len(p.axes))}
	for i := range p.axes {
		ax := &p.axes[i]
		d.Axes[i] = ResizeAxisDev{Axis: ax.axis, K: ax.k, InLen: ax.in, OutLen: ax.out, Outer: ax.outer, Inner: ax.inner,
			Idx: ax.idx, W: ax.w, Ext: ax.ext}
	}
	return d
}

// params returns the constant scales, sizes and roi of the inputs (nil
// when absent or empty), checked against the rank r, or against the
// number of axes the axes attribute names; those given for some axes are
// expanded to every axis of shape (scale 1, the input's size, roi 0 to 1
// for the others). sel marks the axes they were given for.
func (a *resizeAttrs) params(n *Node, in []*Value, r int, shape []int) (scales []float32, sizes []int64, roi []float32, sel []bool, err error) {
	get := func(i int) *Value {
		if i < 0 {
			return nil
		}
		if v := optValue(in, i); v != nil && NumElems(v.Shape) > 0 {
			return v
		}
		return nil
	}
	scales = a.attrScales
	if v := get(a.scalesIn); v != nil {
		if scales, err = constFloat32s(n, v, "scales"); err != nil {
			return
		}
	}
	if v := get(a.sizesIn); v != nil {
		if sizes, err = constInt64s(n, v, "sizes"); err != nil {
			return
		}
	}
	axes := make([]int, r)
	for d := range axes {
		axes[d] = d
	}
	what := fmt.Sprintf("X of rank %d", r)
	if a.axes != nil {
		if axes, err = axesIn(n, "axes", a.axes, r); err != nil {
			return
		}
		what = fmt.Sprintf("%d axes", len(axes))
	}
	k := len(axes)
	if v := get(a.roiIn); v != nil && a.coord == "tf_crop_and_resize" {
		if roi, err = constFloat32s(n, v, "roi"); err != nil {
			return
		}
		if len(roi) != 2*k {
			err = n.Errorf("roi has %d values, want %d for %s", len(roi), 2*k, what)
			return
		}
	}
	switch {
	case (scales == nil) == (sizes == nil):
		err = n.Errorf("exactly one of scales and sizes must be given")
	case scales != nil && len(scales) != k:
		err = n.Errorf("scales has %d values for %s", len(scales), what)
	case sizes != nil && len(sizes) != k:
		err = n.Errorf("sizes has %d values for %s", len(sizes), what)
	case a.coord == "tf_crop_and_resize" && roi == nil:
		err = n.Errorf("coordinate_transformation_mode tf_crop_and_resize needs roi")
	}
	if err != nil {
		return
	}
	sel = make([]bool, r)
	for _, d := range axes {
		sel[d] = true
	}
	if a.axes == nil {
		return
	}
	// expand to every axis
	if scales != nil {
		full := make([]float32, r)
		for d := range full {
			full[d] = 1
		}
		for i, d := range axes {
			full[d] = scales[i]
		}
		scales = full
	}
	if sizes != nil {
		full := make([]int64, r)
		for d := range full {
			full[d] = int64(shape[d])
		}
		for i, d := range axes {
			full[d] = sizes[i]
		}
		sizes = full
	}
	if roi != nil {
		full := make([]float32, 2*r)
		for d := range r {
			full[r+d] = 1
		}
		for i, d := range axes {
			full[d], full[r+d] = roi[i], roi[k+i]
		}
		roi = full
	}
	return
}

// constFloat32s returns the contents of a float32 input known at plan
// time (a 1-D tensor).
func constFloat32s(n *Node, v *Value, what string) ([]float32, error) {
	if v.DType != Float32 {
		return nil, n.Errorf("%s has type %s, want float32", what, v.DType)
	}
	if v.Const == nil {
		return nil, n.Errorf("%s must be a constant known at plan time (it determines the output shape)", what)
	}
	if v.Const.DType != Float32 || len(v.Const.F32) != NumElems(v.Const.Shape) || len(v.Const.Shape) > 1 {
		return nil, n.Errorf("%s must be a 1-D float32 constant, got shape %s", what, ShapeString(v.Const.Shape))
	}
	return v.Const.F32, nil
}

// resizeAxis is the resampling of one axis: output index i reads taps
// idx[i·k : (i+1)·k] with weights w[i·k : (i+1)·k] (k taps an output);
// ext[i], when set, makes output i the extrapolation value.
type resizeAxis struct {
	axis, k, in, out int
	outer, inner     int // the pass's tensor: outer × (in or out) × inner
	idx              []int
	w                []float64
	ext              []bool
	copyOnly         bool // every output one tap of weight 1: a gather
}

// resizePlan is a Resize bound to an input shape.
type resizePlan struct {
	in, out []int
	axes    []resizeAxis // from the last axis to the first
	extrap  float32
	scratch int // float32 scratch: two intermediate tensors
}

// planResize computes the output shape and each changed axis's taps; sel
// marks the axes scales or sizes were given for (keep_aspect_ratio_policy
// reads those).
func planResize(n *Node, a resizeAttrs, shape []int, scales []float32, sizes []int64, roi []float32, sel []bool) (*resizePlan, error) {
	r := len(shape)
	p := &resizePlan{in: copyShape(shape), out: make([]int, r), extrap: a.extrapolation}
	scale := make([]float64, r)
	if sizes != nil && a.keep != "" && a.keep != "stretch" {
		if err := keepAspect(n, a.keep, shape, sizes, sel, p.out, scale); err != nil {
			return nil, err
		}
	}
	for d := range r {
		if scale[d] != 0 {
			continue // set by keepAspect
		}
		nd := shape[d]
		if sizes != nil {
			if sizes[d] < 0 || sizes[d] > math.MaxInt32 {
				return nil, n.Errorf("sizes[%d] = %d is out of range", d, sizes[d])
			}
			p.out[d] = int(sizes[d])
			if nd == 0 {
				if sizes[d] != 0 {
					return nil, n.Errorf("axis %d is empty but sizes[%d] = %d", d, d, sizes[d])
				}
				scale[d] = 1
				continue
			}
			scale[d] = float64(sizes[d]) / float64(nd)
		} else {
			s := float64(scales[d])
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, n.Errorf("scales[%d] = %v must be positive", d, scales[d])
			}
			o := math.Floor(float64(nd) * s)
			if o > math.MaxInt32 {
				return nil, n.Errorf("scales[%d] = %v makes axis %d %g long", d, scales[d], d, o)
			}
			p.out[d], scale[d] = int(o), s
		}
	}
	if int64(NumElems(p.out)) > math.MaxInt32 {
		return nil, n.Errorf("the output %s is too large", ShapeString(p.out))
	}
	// intermediate tensors: the input with axes [d, r) resized
	cur := copyShape(shape)
	maxLen := 0
	for d := r - 1; d >= 0; d-- {
		var ra, rb float64
		if roi != nil {
			ra, rb = float64(roi[d]), float64(roi[r+d])
		}
		ax, err := a.axisTaps(n, d, shape[d], p.out[d], scale[d], ra, rb)
		if err != nil {
			return nil, err
		}
		if ax == nil {
			continue // left as it is
		}
		ax.outer, ax.inner = NumElems(cur[:d]), NumElems(cur[d+1:])
		cur[d] = p.out[d]
		maxLen = max(maxLen, NumElems(cur))
		p.axes = append(p.axes, *ax)
	}
	if len(p.axes) > 1 {
		p.scratch = 2 * maxLen
	}
	return p, nil
}

// keepAspect sets out and scale for keep_aspect_ratio_policy not_larger
// or not_smaller: over the axes sel marks, one scale s, the least or the
// greatest of sizes[d]/shape[d], and out[d] = floor(s·shape[d] + 1/2)
// (round half up); the other axes keep their size at scale 1.
func keepAspect(n *Node, policy string, shape []int, sizes []int64, sel []bool, out []int, scale []float64) error {
	s, first := 0.0, true
	for d, on := range sel {
		if !on {
			continue
		}
		if sizes[d] < 0 || sizes[d] > math.MaxInt32 {
			return n.Errorf("sizes[%d] = %d is out of range", d, sizes[d])
		}
		if shape[d] == 0 {
			return n.Errorf("keep_aspect_ratio_policy %s cannot scale empty axis %d", policy, d)
		}
		q := float64(sizes[d]) / float64(shape[d])
		if first || (policy == "not_larger" && q < s) || (policy == "not_smaller" && q > s) {
			s, first = q, false
		}
	}
	for d, on := range sel {
		if !on {
			out[d], scale[d] = shape[d], 1
			continue
		}
		o := math.Floor(s*float64(shape[d]) + 0.5)
		if o > math.MaxInt32 {
			return n.Errorf("keep_aspect_ratio_policy %s makes axis %d %g long", policy, d, o)
		}
		if o == 0 || s == 0 {
			// an empty output axis: its scale only has to be positive
			out[d], scale[d] = 0, max(s, math.SmallestNonzeroFloat64)
			continue
		}
		out[d], scale[d] = int(o), s
	}
	return nil
}

// maxFilterTaps bounds an antialiasing filter's taps per output.
const maxFilterTaps = 1 << 24

// filterTaps returns the number of taps of each output: 1 for nearest, 2
// for linear, 4 for cubic, and with antialias 2 - 2·start, start =
// floor(-1/s') + 1 for linear and floor(-2/s') + 1 for cubic, s' =
// min(s, 1).
func (a *resizeAttrs) filterTaps(s float64) (k int, start float64) {
	switch a.mode {
	case resizeLinear:
		if a.antialias {
			start = math.Floor(-1/min(s, 1)) + 1
			return int(2 - 2*start), start
		}
		return 2, 0
	case resizeCubic:
		if a.antialias {
			start = math.Floor(-2/min(s, 1)) + 1
			return int(2 - 2*start), start
		}
		return 4, -1
	}
	return 1, 0
}

// axisTaps returns the taps of axis d resized from n to out values at
// scale s (roi ra to rb for tf_crop_and_resize), or nil when the axis is
// left as it is (every output its own input, weight 1).
func (a *resizeAttrs) axisTaps(nd *Node, d, n, out int, s, ra, rb float64) (*resizeAxis, error) {
	if a.antialias && out > 0 && n > 0 && 1/min(s, 1) > maxFilterTaps/4 {
		return nil, nd.Errorf("scale %g of axis %d makes the antialiasing filter over %d taps wide", s, d, maxFilterTaps)
	}
	k, _ := a.filterTaps(s)
	if out > 0 && n > 0 && int64(k)*int64(out) > math.MaxInt32 {
		return nil, nd.Errorf("axis %d: %d outputs of %d taps each are too many", d, out, k)
	}
	ax := &resizeAxis{axis: d, k: k, in: n, out: out, ext: make([]bool, out)}
	if n == 0 || out == 0 {
		ax.copyOnly = true
		return ax, nil
	}
	ax.idx, ax.w = make([]int, out*k), make([]float64, out*k)
	L := s * float64(n) // the resized length, as a real number
	identity, copyOnly := out == n, true
	for i := range out {
		c, ok := a.source(float64(i), s, L, n, out, ra, rb)
		if !ok {
			ax.ext[i] = true
			identity, copyOnly = false, false
			continue
		}
		idx, w := ax.idx[i*k:(i+1)*k], ax.w[i*k:(i+1)*k]
		a.taps(c, s, n, idx, w)
		// merge taps on one index (the edge repeated; the clamped indexes
		// do not decrease, so equal ones are neighbours) into the first
		h := 0
		for j := 1; j < k; j++ {
			if idx[j] != idx[h] {
				h = j
				continue
			}
			if w[j] != 0 {
				w[h] += w[j]
				w[j] = 0
			}
		}
		// one tap of weight 1: a copy, and the identity when it is i
		nz, one := 0, -1
		for j := range k {
			if w[j] != 0 {
				nz++
				if w[j] == 1 {
					one = idx[j]
				}
			}
		}
		single := nz == 1 && one >= 0
		copyOnly = copyOnly && single
		identity = identity && single && one == i
	}
	if identity {
		return nil, nil
	}
	ax.copyOnly = copyOnly
	return ax, nil
}

// source returns the input coordinate of output index x along an axis
// of n inputs at scale s (L = s·n; out outputs; roi ra to rb), by the
// coordinate transformation mode; ok is false outside the input for
// tf_crop_and_resize, whose output is then the extrapolation value.
func (a *resizeAttrs) source(x, s, L float64, n, out int, ra, rb float64) (c float64, ok bool) {
	switch a.coord {
	case "half_pixel":
		c = (x+0.5)/s - 0.5
	case "half_pixel_symmetric":
		// adjustment = out/L, center = n/2, offset = center·(1 - adjustment)
		adjustment := float64(out) / L
		offset := float64(n) / 2 * (1 - adjustment)
		c = offset + (x+0.5)/s - 0.5
	case "pytorch_half_pixel":
		c = -0.5
		if L > 1 {
			c = (x+0.5)/s - 0.5
		}
	case "align_corners":
		if L != 1 {
			c = x * float64(n-1) / (L - 1)
		}
	case "asymmetric":
		c = x / s
	case "tf_half_pixel_for_nearest":
		c = (x + 0.5) / s
	case "tf_crop_and_resize":
		if L == 1 {
			c = (rb - ra) * float64(n-1) / 2
		} else {
			c = x * (rb - ra) * float64(n-1) / (L - 1)
		}
		c += ra * float64(n-1)
		if c < 0 || c > float64(n-1) {
			return 0, false
		}
	}
	return c, true
}

// taps fills idx and w (the axis's number of taps) for input coordinate
// c on an axis of n inputs at scale s, indexes clamped to [0, n-1].
func (a *resizeAttrs) taps(c, s float64, n int, idx []int, w []float64) {
	// b = ceil(c) - 1, t = c - b in (0, 1]
	b := math.Ceil(c) - 1
	t := c - b
	clampIdx := func(j float64) int { return int(min(max(j, 0), float64(n-1))) }
	switch {
	case a.mode == resizeNearest:
		var j float64
		switch a.nearest {
		case "simple":
			j = math.Floor(c)
			if s < 1 {
				j = math.Ceil(c)
			}
		case "round_prefer_floor":
			j = b
			if t > 0.5 {
				j = b + 1
			}
		case "round_prefer_ceil":
			j = b
			if t >= 0.5 {
				j = b + 1
			}
		case "floor":
			j = math.Floor(c)
		case "ceil":
			j = math.Ceil(c)
		}
		idx[0], w[0] = clampIdx(j), 1
		return
	case a.antialias:
		_, start := a.filterTaps(s)
		sp := min(s, 1)
		A := a.cubicA
		sum := 0.0
		for j := range w {
			p := start + float64(j)
			// the filter at |p - t|·s': linear max(0, 1 - u), cubic Keys' kernel
			u := math.Abs((p - t) * sp)
			if a.mode == resizeLinear {
				w[j] = max(0, 1-u)
			} else {
				w[j] = keys(u, A)
			}
			sum += w[j]
			idx[j] = clampIdx(b + p)
		}
		for j := range w {
			w[j] /= sum
		}
	case a.mode == resizeLinear:
		idx[0], idx[1] = clampIdx(b), clampIdx(b+1)
		w[0], w[1] = 1-t, t
	case a.mode == resizeCubic:
		A := a.cubicA
		// Keys' weights of b-1, b, b+1, b+2 at distances 1+t, t, 1-t, 2-t
		u := 1 - t
		w[0] = ((A*(t+1)-5*A)*(t+1)+8*A)*(t+1) - 4*A
		w[1] = ((A+2)*t-(A+3))*t*t + 1
		w[2] = ((A+2)*u-(A+3))*u*u + 1
		w[3] = ((A*(u+1)-5*A)*(u+1)+8*A)*(u+1) - 4*A
		for j := range 4 {
			idx[j] = clampIdx(b - 1 + float64(j))
		}
	}
	if !a.excludeOutside {
		return
	}
	// zero the weights of positions outside [0, n-1], renormalise the rest
	_, start := a.filterTaps(s)
	sum := 0.0
	for j := range w {
		if pos := b + start + float64(j); pos < 0 || pos > float64(n-1) {
			w[j] = 0
		}
		sum += w[j]
	}
	if sum != 0 {
		for j := range w {
			w[j] /= sum
		}
	}
}

// keys is Keys' cubic convolution kernel with coefficient A at distance
// u >= 0:
//
//	(A+2)u³ - (A+3)u² + 1        for u <= 1
//	A·u³ - 5A·u² + 8A·u - 4A     for 1 < u < 2
//	0                            beyond
func keys(u, A float64) float64 {
	switch {
	case u <= 1:
		return ((A+2)*u-(A+3))*u*u + 1
	case u < 2:
		return ((A*u-5*A)*u+8*A)*u - 4*A
	}
	return 0
}

// run resamples x into y axis by axis, through two scratch tensors.
func (p *resizePlan) run(env *kern.Env, y, x []float32) {
	if len(p.axes) == 0 {
		copy(y, x)
		return
	}
	src := x
	var sc []float32
	if env != nil {
		sc = env.Scratch
	}
	if len(p.axes) > 1 && len(sc) < p.scratch {
		sc = make([]float32, p.scratch) // a caller without the step's scratch
	}
	half := p.scratch / 2
	for ai := range p.axes {
		ax := &p.axes[ai]
		n := ax.outer * ax.out * ax.inner
		var dst []float32
		switch {
		case ai == len(p.axes)-1:
			dst = y
		case ai%2 == 0:
			dst = sc[:n]
		default:
			dst = sc[half : half+n]
		}
		ax.apply(dst, src, p.extrap)
		src = dst
	}
}

// apply resamples src (outer × in × inner) along the axis into dst
// (outer × out × inner):
//
//	dst[o][i][q] = Σ_j w[i·k+j]·src[o][idx[i·k+j]][q]   (summed in float64, rounded once)
func (ax *resizeAxis) apply(dst, src []float32, extrap float32) {
	k, outer, inner := ax.k, ax.outer, ax.inner
	for o := range outer {
		s := src[o*ax.in*inner : (o+1)*ax.in*inner]
		d := dst[o*ax.out*inner : (o+1)*ax.out*inner]
		for i := range ax.out {
			row := d[i*inner : (i+1)*inner]
			if ax.ext[i] {
				for q := range row {
					row[q] = extrap
				}
				continue
			}
			idx, w := ax.idx[i*k:(i+1)*k], ax.w[i*k:(i+1)*k]
			if ax.copyOnly {
				for j := range k {
					if w[j] == 1 {
						copy(row, s[idx[j]*inner:(idx[j]+1)*inner])
						break
					}
				}
				continue
			}
			for q := range row {
				var acc float64
				for j := range k {
					if w[j] != 0 {
						acc += w[j] * float64(s[idx[j]*inner+q])
					}
				}
				row[q] = float32(acc)
			}
		}
	}
}
