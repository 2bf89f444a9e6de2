package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

// InstanceNormalization and LayerNormalization: each normalizes rows of
// the input (an image's channel plane, or the trailing axes from axis on)
// by their own mean and variance, then scales and shifts them.
//
// The statistics are computed in float64, in two passes: the mean, then
// the mean of the squared deviations from it. float64 sums of float32
// values lose nothing that float32 could show for any row a model has, and
// the second pass avoids the cancellation of E[x²] - E[x]², which in
// float32 loses the variance of rows whose mean is large against their
// spread (an unnormalized image's planes). Each output is then computed in
// float64 from its input and rounded once.

func init() {
	Register("InstanceNormalization", buildInstanceNorm)
	Register("LayerNormalization", buildLayerNorm)
}

// meanVar returns the mean of v and its variance (the mean of the squared
// deviations, as ONNX's instance and layer normalizations have it):
//
//	mean = Σ v[i] / len(v),  variance = Σ (v[i] - mean)² / len(v)
//
// in float64, two passes. An empty v gives NaN for both.
func meanVar(v []float32) (mean, variance float64) {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	mean = s / float64(len(v))
	var q float64
	for _, x := range v {
		d := float64(x) - mean
		q += d * d
	}
	return mean, q / float64(len(v))
}

// normGrain is how many rows of inner values make one parallel unit's
// worth of work (at least elemGrain values).
func normGrain(inner int) int { return max(1, kern.CeilDiv(elemGrain, max(inner, 1))) }

// buildInstanceNorm binds InstanceNormalization (opsets 1 and 6; opset 1's
// consumed_inputs is legacy and ignored): inputs input [N, C, D1, ...,
// Dn] (rank 2 and up; rank 2 has one value per instance), scale [C] and B
// [C], attribute epsilon (default 1e-5). Each channel plane of each image
// is normalized by its own statistics over the spatial axes:
//
//	y[n][c][d] = scale[c]·(x[n][c][d] - μ[n][c]) / sqrt(σ²[n][c] + epsilon) + B[c]
//
// μ and σ² the plane's mean and variance (meanVar, in float64; see the
// file's comment).
func buildInstanceNorm(n *Node) (Kernel, error) {
	eps, err := n.Float("epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 3 (input, scale, B)", len(in))
		}
		if err := needInputs(n, in, 3); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		if x.DType != Float32 || len(x.Shape) < 2 {
			return nil, Step{}, n.Errorf("input has type %s shape %s, want float32 of rank at least 2 (N, C, D1, ...)",
				x.DType, ShapeString(x.Shape))
		}
		xs := x.Shape
		c := xs[1]
		for i, name := range []string{"scale", "B"} {
			v := in[i+1]
			if v.DType != Float32 || len(v.Shape) != 1 || v.Shape[0] != c {
				return nil, Step{}, n.Errorf("%s has type %s shape %s, want float32 [%d] for input %s",
					name, v.DType, ShapeString(v.Shape), c, ShapeString(xs))
			}
		}
		nx, planes, inner := NumElems(xs), xs[0]*c, NumElems(xs[2:])
		run := func(env *kern.Env, in, out []*Tensor) error {
			if err := checkLen(in[0], "input", nx); err != nil {
				return n.Errorf("%v", err)
			}
			for i, name := range []string{"scale", "B"} {
				if err := checkLen(in[i+1], name, c); err != nil {
					return n.Errorf("%v", err)
				}
			}
			if err := checkLen(out[0], "output", nx); err != nil {
				return n.Errorf("%v", err)
			}
			forChunksOf(env, planes, normGrain(inner), instNormArgs{
				x: in[0].F32, y: out[0].F32, scale: in[1].F32, bias: in[2].F32, c: c, inner: inner, eps: float64(eps)})
			return nil
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: copyShape(xs)})
		if err != nil {
			return nil, Step{}, err
		}
		return outs, Step{Run: run}, nil
	}), nil
}

// instNormArgs are an InstanceNormalization step's operands.
type instNormArgs struct {
	x, y, scale, bias []float32
	c, inner          int
	eps               float64
}

// Range normalizes planes [lo, hi) (u = n·C + c).
func (a *instNormArgs) Range(lo, hi int) {
	for u := lo; u < hi; u++ {
		ch := u % a.c
		xp, yp := a.x[u*a.inner:(u+1)*a.inner], a.y[u*a.inner:(u+1)*a.inner]
		mean, vr := meanVar(xp)
		s := float64(a.scale[ch]) / math.Sqrt(vr+a.eps)
		b := float64(a.bias[ch])
		yp = yp[:len(xp)]
		// y = (x - μ)·scale/sqrt(σ² + ε) + B, rounded once
		for i, v := range xp {
			yp[i] = float32((float64(v)-mean)*s + b)
		}
	}
}

// buildLayerNorm binds LayerNormalization (opset 17; a node read at an
// earlier opset, as some exporters wrote it before it was standard, is
// taken in the same form): inputs X, Scale and optional B, attributes axis (default -1,
// negative counting from the end), epsilon (default 1e-5) and stash_type,
// which must be 1 (float32 statistics, the default: the only type bnrun
// stores; they are computed in float64 and rounded once, which is at least
// as accurate as the float32 computation the spec describes). Each row
// X[i, ...] over the axes from axis on (inner values; outer rows) is
// normalized by its own statistics:
//
//	Mean[i] = μ_i,  InvStdDev[i] = 1/sqrt(σ²_i + epsilon)
//	Y[i][e] = (X[i][e] - μ_i)·InvStdDev[i]·Scale[e] + B[e]
//
// μ_i and σ²_i the row's mean and variance (meanVar, in float64; see the
// file's comment). Scale and B broadcast over the normalized axes (numpy's
// rule, aligned to X's last axes; a size 1 on an axis before axis only):
// usually they have the normalized shape X.shape[axis:]. The optional
// outputs Mean and InvStdDev, computed when the node names them, have
// shape X.shape[:axis] followed by 1s up to X's rank.
func buildLayerNorm(n *Node) (Kernel, error) {
	axis, err := n.Int("axis", -1)
	if err != nil {
		return nil, err
	}
	eps, err := n.Float("epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	stash, err := n.Int("stash_type", 1)
	if err != nil {
		return nil, err
	}
	if stash != 1 {
		return nil, n.Errorf("stash_type %d is not supported: only 1 (float32 statistics)", stash)
	}
	if len(n.Outputs) > 3 {
		return nil, n.Errorf("got %d outputs, want at most 3 (Y, Mean, InvStdDev)", len(n.Outputs))
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) < 2 || len(in) > 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2 or 3 (X, Scale, B)", len(in))
		}
		if err := needInputs(n, in, 2); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		if x.DType != Float32 || len(x.Shape) < 1 {
			return nil, Step{}, n.Errorf("X has type %s shape %s, want float32 of rank at least 1", x.DType, ShapeString(x.Shape))
		}
		xs := x.Shape
		ax, err := axisIn(n, "axis", axis, len(xs))
		if err != nil {
			return nil, Step{}, err
		}
		outer, inner := NumElems(xs[:ax]), NumElems(xs[ax:])
		sIdx, err := normParamIndex(n, "Scale", in[1], xs, ax)
		if err != nil {
			return nil, Step{}, err
		}
		hasB := optValue(in, 2) != nil
		var bIdx []int32
		if hasB {
			if bIdx, err = normParamIndex(n, "B", in[2], xs, ax); err != nil {
				return nil, Step{}, err
			}
		}
		ns, nb := NumElems(in[1].Shape), 0
		if hasB {
			nb = NumElems(in[2].Shape)
		}
		nx := NumElems(xs)
		run := func(env *kern.Env, in, out []*Tensor) error {
			if err := checkLen(in[0], "X", nx); err != nil {
				return n.Errorf("%v", err)
			}
			if err := checkLen(in[1], "Scale", ns); err != nil {
				return n.Errorf("%v", err)
			}
			a := layerNormArgs{x: in[0].F32, scale: in[1].F32, sIdx: sIdx, bIdx: bIdx, inner: inner, eps: float64(eps)}
			if hasB {
				if err := checkLen(in[2], "B", nb); err != nil {
					return n.Errorf("%v", err)
				}
				a.bias = in[2].F32
			}
			if err := checkLen(out[0], "Y", nx); err != nil {
				return n.Errorf("%v", err)
			}
			a.y = out[0].F32
			for i, dst := range []*[]float32{&a.mean, &a.inv} {
				if t := optTensor(out, i+1); t != nil && hasOutput(n, i+1) {
					if err := checkLen(t, n.Outputs[i+1], outer); err != nil {
						return n.Errorf("%v", err)
					}
					*dst = t.F32
				}
			}
			forChunksOf(env, outer, normGrain(inner), a)
			return nil
		}
		stat := copyShape(xs)
		for i := ax; i < len(stat); i++ {
			stat[i] = 1
		}
		outs := make([]Value, outputCount(n))
		outs[0] = Value{DType: Float32, Shape: copyShape(xs)}
		for i := 1; i < len(outs); i++ {
			outs[i] = Value{DType: Float32, Shape: copyShape(stat)}
		}
		return outs, Step{Run: run}, nil
	}), nil
}

// normParamIndex checks that parameter p (Scale or B) of a
// LayerNormalization of X (shape xs, normalized from axis ax on)
// broadcasts over the normalized axes, and returns, for each element e of
// a row, the index of the value it reads, or nil when that is e itself (p
// has the normalized shape, with any leading 1s).
func normParamIndex(n *Node, what string, p *Value, xs []int, ax int) ([]int32, error) {
	if p.DType != Float32 {
		return nil, n.Errorf("%s has type %s, want float32", what, p.DType)
	}
	ps, norm := p.Shape, xs[ax:]
	bad := func() error {
		return n.Errorf("%s has shape %s, which does not broadcast over the normalized axes %s of X %s",
			what, ShapeString(ps), ShapeString(norm), ShapeString(xs))
	}
	if len(ps) > len(xs) {
		return nil, bad()
	}
	// Aligned to X's last axes: the axes before ax take size 1 only.
	lead := len(ps) - len(norm)
	for i := 0; i < lead; i++ {
		if ps[i] != 1 {
			return nil, bad()
		}
	}
	// q[j]: p's size on normalized axis j (1 where p has no such axis).
	q := make([]int, len(norm))
	for j := range norm {
		q[j] = 1
		if i := j + lead; i >= 0 {
			q[j] = ps[i]
		}
		if q[j] != norm[j] && q[j] != 1 {
			return nil, bad()
		}
	}
	if SameShape(q, norm) {
		return nil, nil
	}
	// idx[e] = Σ_j coord_j(e)·stride_j, stride_j = 0 where p broadcasts
	inner := NumElems(norm)
	if inner > math.MaxInt32 {
		return nil, n.Errorf("%s: %d normalized values are too many to broadcast %s over", what, inner, ShapeString(ps))
	}
	strides := stridesOf(q)
	for j := range q {
		if q[j] == 1 {
			strides[j] = 0
		}
	}
	idx := make([]int32, inner)
	coord := make([]int, len(norm))
	for e := range idx {
		unravel(e, norm, coord)
		s := 0
		for j, c := range coord {
			s += c * strides[j]
		}
		idx[e] = int32(s)
	}
	return idx, nil
}

// layerNormArgs are a LayerNormalization step's operands: bias nil when
// absent, mean and inv nil when not requested, sIdx and bIdx nil when
// the parameter has the normalized shape (see normParamIndex).
type layerNormArgs struct {
	x, y, scale, bias, mean, inv []float32
	sIdx, bIdx                   []int32
	inner                        int
	eps                          float64
}

// Range normalizes rows [lo, hi).
func (a *layerNormArgs) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		xr, yr := a.x[i*a.inner:(i+1)*a.inner], a.y[i*a.inner:(i+1)*a.inner]
		mean, vr := meanVar(xr)
		inv := 1 / math.Sqrt(vr+a.eps)
		if a.mean != nil {
			a.mean[i] = float32(mean)
		}
		if a.inv != nil {
			a.inv[i] = float32(inv)
		}
		yr = yr[:len(xr)]
		if a.sIdx == nil && a.bIdx == nil {
			scale := a.scale[:len(xr)]
			if a.bias == nil {
				// Y = (X - μ)·InvStdDev·Scale, rounded once
				for e, v := range xr {
					yr[e] = float32((float64(v) - mean) * inv * float64(scale[e]))
				}
				continue
			}
			bias := a.bias[:len(xr)]
			// Y = (X - μ)·InvStdDev·Scale + B, rounded once
			for e, v := range xr {
				yr[e] = float32((float64(v)-mean)*inv*float64(scale[e]) + float64(bias[e]))
			}
			continue
		}
		// The same, the parameters broadcast.
		for e, v := range xr {
			si, bi := e, e
			if a.sIdx != nil {
				si = int(a.sIdx[e])
			}
			if a.bIdx != nil {
				bi = int(a.bIdx[e])
			}
			var b float32
			if a.bias != nil {
				b = a.bias[bi]
			}
			s := a.scale[si]
			yr[e] = float32((float64(v)-mean)*inv*float64(s) + float64(b))
		}
	}
}
