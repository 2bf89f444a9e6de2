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
}

// buildResize binds Resize (opsets 10, 11 and 13) on float32 data:
//
//	y[i_0, ..., i_{r-1}] = Σ w_0(i_0, j_0)·...·w_{r-1}(i_{r-1}, j_{r-1})·x[j_0, ..., j_{r-1}]
//
// separable per axis. Along an axis of input length n and scale s (given,
// or sizes[d]/n), output index i has the input coordinate c(i) of the
// coordinate transformation mode (L = s·n, as a real number):
//
//	half_pixel (default)    (i + 1/2)/s - 1/2
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
//	cubic    Keys' kernel with a = cubic_coeff_a (-0.75) on x[b-1..b+2], the
//	         weights of indexes outside [0, n-1] zeroed and the rest
//	         renormalised when exclude_outside is 1
//
// as ONNX's reference computes it; the weights are computed in float64,
// each output of an axis's pass summed in float64 and rounded once.
// Exactly one of scales and sizes is given, as constants known at plan
// time; the output's length along an axis is floor(n·s) for a scale.
// Axes are resampled from the last to the first, the axes left as they
// are skipped.
func buildResize(n *Node) (Kernel, error) {
	a, err := parseResize(n, n.Opset < 11)
	if err != nil {
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
		scales, sizes, roi, err := a.params(n, in, r)
		if err != nil {
			return nil, Step{}, err
		}
		p, err := planResize(n, a, x.Shape, scales, sizes, roi)
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
		return []Value{{DType: Float32, Shape: p.out}}, Step{Run: run, Scratch: p.scratch}, nil
	})
}

// params returns the constant scales, sizes and roi of the inputs (nil
// when absent or empty), checked against the rank r.
func (a *resizeAttrs) params(n *Node, in []*Value, r int) (scales []float32, sizes []int64, roi []float32, err error) {
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
	if v := get(a.roiIn); v != nil && a.coord == "tf_crop_and_resize" {
		if roi, err = constFloat32s(n, v, "roi"); err != nil {
			return
		}
		if len(roi) != 2*r {
			err = n.Errorf("roi has %d values, want %d for rank %d", len(roi), 2*r, r)
			return
		}
	}
	switch {
	case (scales == nil) == (sizes == nil):
		err = n.Errorf("exactly one of scales and sizes must be given")
	case scales != nil && len(scales) != r:
		err = n.Errorf("scales has %d values for X of rank %d", len(scales), r)
	case sizes != nil && len(sizes) != r:
		err = n.Errorf("sizes has %d values for X of rank %d", len(sizes), r)
	case a.coord == "tf_crop_and_resize" && roi == nil:
		err = n.Errorf("coordinate_transformation_mode tf_crop_and_resize needs roi")
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

// planResize computes the output shape and each changed axis's taps.
func planResize(n *Node, a resizeAttrs, shape []int, scales []float32, sizes []int64, roi []float32) (*resizePlan, error) {
	r := len(shape)
	p := &resizePlan{in: copyShape(shape), out: make([]int, r), extrap: a.extrapolation}
	scale := make([]float64, r)
	for d := range r {
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
		ax := a.axisTaps(d, shape[d], p.out[d], scale[d], ra, rb)
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

// axisTaps returns the taps of axis d resized from n to out values at
// scale s (roi ra to rb for tf_crop_and_resize), or nil when the axis is
// left as it is (every output its own input, weight 1).
func (a *resizeAttrs) axisTaps(d, n, out int, s, ra, rb float64) *resizeAxis {
	k := 1
	switch a.mode {
	case resizeLinear:
		k = 2
	case resizeCubic:
		k = 4
	}
	ax := &resizeAxis{axis: d, k: k, in: n, out: out, idx: make([]int, out*k), w: make([]float64, out*k),
		ext: make([]bool, out)}
	if n == 0 || out == 0 {
		ax.copyOnly = true
		return ax
	}
	L := s * float64(n) // the resized length, as a real number
	identity, copyOnly := out == n, true
	for i := range out {
		c, ok := a.source(float64(i), s, L, n, ra, rb)
		if !ok {
			ax.ext[i] = true
			identity, copyOnly = false, false
			continue
		}
		idx, w := ax.idx[i*k:(i+1)*k], ax.w[i*k:(i+1)*k]
		a.taps(c, s, n, idx, w)
		// merge taps on one index (the edge repeated)
		for j := 1; j < k; j++ {
			for q := range j {
				if w[j] != 0 && idx[q] == idx[j] {
					w[q] += w[j]
					w[j] = 0
				}
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
		return nil
	}
	ax.copyOnly = copyOnly
	return ax
}

// source returns the input coordinate of output index x along an axis
// of n inputs at scale s (L = s·n; roi ra to rb), by the coordinate
// transformation mode; ok is false outside the input for
// tf_crop_and_resize, whose output is then the extrapolation value.
func (a *resizeAttrs) source(x, s, L float64, n int, ra, rb float64) (c float64, ok bool) {
	switch a.coord {
	case "half_pixel":
		c = (x+0.5)/s - 0.5
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

// taps fills idx and w (the mode's number of taps) for input coordinate c
// on an axis of n inputs at scale s, indexes clamped to [0, n-1].
func (a *resizeAttrs) taps(c, s float64, n int, idx []int, w []float64) {
	// b = ceil(c) - 1, t = c - b in (0, 1]
	b := math.Ceil(c) - 1
	t := c - b
	clampIdx := func(j float64) int { return int(min(max(j, 0), float64(n-1))) }
	switch a.mode {
	case resizeNearest:
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
	case resizeLinear:
		idx[0], idx[1] = clampIdx(b), clampIdx(b+1)
		w[0], w[1] = 1-t, t
	case resizeCubic:
		A := a.cubicA
		// Keys' weights of b-1, b, b+1, b+2 at distances 1+t, t, 1-t, 2-t
		u := 1 - t
		w[0] = ((A*(t+1)-5*A)*(t+1)+8*A)*(t+1) - 4*A
		w[1] = ((A+2)*t-(A+3))*t*t + 1
		w[2] = ((A+2)*u-(A+3))*u*u + 1
		w[3] = ((A*(u+1)-5*A)*(u+1)+8*A)*(u+1) - 4*A
		sum := 0.0
		for j := range 4 {
			pos := b - 1 + float64(j)
			if a.excludeOutside && (pos < 0 || pos > float64(n-1)) {
				w[j] = 0
			}
			sum += w[j]
			idx[j] = clampIdx(pos)
		}
		if a.excludeOutside && sum != 0 {
			for j := range 4 {
				w[j] /= sum
			}
		}
	}
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
