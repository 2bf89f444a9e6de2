package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/bnrun/bnrun/kern"
)

// The reductions ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp,
// on one engine: a plan of the kept and the reduced axes (planReduce) and
// one loop nest for every rule (reduceArgs).

func init() {
	for _, op := range reduceOps {
		build := func(n *Node) (Kernel, error) { return buildReduce(n, op) }
		Register(op.name, imageWiseOp(build, firstOutput, func(n *Node, _ []bool) bool { return axesFrom1(n, op) }))
	}
}

// axesFrom1 holds for a reduction over attribute axes that are all at
// least 1, so never the batch (MnasNet's and ShuffleNetV2's mean over
// the planes before their classifiers): each image's values reduce apart.
// Axes absent (every axis), negative (which could be 0) or given as an
// input (whose values the rule cannot see) are refused.
func axesFrom1(n *Node, op reduceOp) bool {
	if n.Opset >= op.axesInput {
		return false
	}
	axes, err := n.Ints("axes", nil)
	if err != nil || len(axes) == 0 {
		return false
	}
	for _, a := range axes {
		if a < 1 {
			return false
		}
	}
	return true
}

// reduceKind selects a reduction's rule: kern's reductions, which a
// ReduceDev carries to a device.
type reduceKind = kern.ReduceOp

const (
	redSum       = kern.ReduceSum
	redMean      = kern.ReduceMean
	redMax       = kern.ReduceMax
	redMin       = kern.ReduceMin
	redProd      = kern.ReduceProd
	redL1        = kern.ReduceL1
	redL2        = kern.ReduceL2
	redSumSquare = kern.ReduceSumSquare
	redLogSum    = kern.ReduceLogSum
	redLogSumExp = kern.ReduceLogSumExp
)

// reduceOp is one reduction operator: its rule, the opset from which axes
// is the optional input 1 rather than an attribute (noop_with_empty_axes
// comes with it), and whether it takes float32 data only.
type reduceOp struct {
	name      string
	kind      reduceKind
	axesInput int
	floatOnly bool
}

var reduceOps = []reduceOp{
	{"ReduceSum", redSum, 13, false},
	{"ReduceMean", redMean, 18, true},
	{"ReduceMax", redMax, 18, false},
	{"ReduceMin", redMin, 18, false},
	{"ReduceProd", redProd, 18, false},
	{"ReduceL1", redL1, 18, false},
	{"ReduceL2", redL2, 18, false},
	{"ReduceSumSquare", redSumSquare, 18, false},
	{"ReduceLogSum", redLogSum, 18, false},
	{"ReduceLogSumExp", redLogSumExp, 18, false},
}

// buildReduce binds a reduction, in every form of opsets 1 to 20
// (ReduceMax and ReduceMin at 20 only add the Bool type, which bnrun
// stores as int64 0 and 1, in Bool's order False < True): the axes
// attribute (all axes when absent) before op.axesInput (13 for ReduceSum,
// 18 for the others), from then the optional input 1, which must be a
// constant known at plan time (an empty one is known from its shape),
// with noop_with_empty_axes=1 making an empty or absent axes a reduction
// over no axis: each value alone, so that the sums, the mean, the
// product, the maximum and the minimum are the identity, and the
// composite rules keep their other steps (ReduceL1 |x|, ReduceSumSquare
// x², ReduceLogSum log x, ...), as the spec says. Negative axes count
// back from the rank (the spec defines them from opset 11; earlier ones
// are read the same way); an axis may not repeat. keepdims (default 1)
// keeps the reduced axes as size 1. Over the reduced values x of each
// output element:
//
//	ReduceSum Σx, ReduceMean Σx/count, ReduceProd Πx, ReduceMax max x,
//	ReduceMin min x, ReduceL1 Σ|x|, ReduceL2 √(Σx²), ReduceSumSquare Σx²,
//	ReduceLogSum log Σx, ReduceLogSumExp m + log Σexp(x-m), m = max x
//
// On float32 data every sum and product runs in float64 and is rounded
// once; a NaN is the maximum and the minimum. On int64 data (not
// ReduceMean's) they wrap as int64 arithmetic does; ReduceL2 and
// ReduceLogSum take the root and the logarithm of the int64 sum, and
// ReduceLogSumExp is computed in float64, each truncated toward zero. Over
// no values (an axis of size 0) the result is the rule's identity: 0 for
// the sums, 1 for the product, -Inf or +Inf (int64's least or largest
// value) for ReduceMax and ReduceMin, -Inf for the logarithms, NaN for
// ReduceMean. ReduceMean's means of trailing runs (over H and W) are
// GlobalAveragePool's, on the tier's vector sums.
func buildReduce(n *Node, op reduceOp) (Kernel, error) {
	keep, err := n.Int("keepdims", 1)
	if err != nil {
		return nil, err
	}
	attrAxes, err := n.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	noop, err := n.Int("noop_with_empty_axes", 0)
	if err != nil {
		return nil, err
	}
	axesInput := n.Opset >= op.axesInput
	if axesInput && n.Has("axes") {
		return nil, n.Errorf("axes is an input from opset %d, not an attribute", op.axesInput)
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		switch {
		case len(in) > 2:
			return nil, Step{}, n.Errorf("got %d inputs, want at most 2", len(in))
		case len(in) == 2 && in[1] != nil && !axesInput:
			return nil, Step{}, n.Errorf("got 2 inputs, want 1 before opset %d (axes is an attribute)", op.axesInput)
		}
		x := in[0]
		if op.floatOnly {
			if err := needDType(n, x, "data", Float32); err != nil {
				return nil, Step{}, err
			}
		} else if err := needDType(n, x, "data", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		axes := attrAxes
		if axesInput {
			axes = nil
			if a := optValue(in, 1); a != nil {
				if axes, err = reduceAxesInput(n, a); err != nil {
					return nil, Step{}, err
				}
			}
		}
		none := axesInput && len(axes) == 0 && noop != 0
		if none && (op.kind == redSum || op.kind == redMean || op.kind == redMax || op.kind == redMin || op.kind == redProd) {
			// the rule over one value is the value
			return []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}, viewStep(), nil
		}
		g, err := planReduce(n, x.Shape, axes, keep != 0, none)
		if err != nil {
			return nil, Step{}, err
		}
		inLen, total := NumElems(x.Shape), NumElems(g.out)
		// The mean of each run of trailing values (a network's mean over
		// its planes, as exporters write a global pool) is a global
		// average pool's: the tier's vector sums, bit for bit the same.
		trailing := op.kind == redMean && g.count > 0 && len(g.red) == 1 && g.redStride[0] == 1 &&
			(len(g.kept) == 0 || len(g.kept) == 1 && g.keptStride[0] == g.red[0])
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) ||
				ins[0].DType != x.DType || out[0].DType != x.DType ||
				ins[0].Len() != inLen || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			switch {
			case trailing:
				forChunksOf(env, total, 1, globalPoolArgs{kern.TierOf(env), ins[0].F32, out[0].F32, g.count, false})
			case x.DType == Float32:
				reduceRun(env, g, op.kind, out[0].F32, ins[0].F32, math.Inf(-1), math.Inf(1))
			case op.kind == redLogSumExp:
				reduceRun(env, g, op.kind, out[0].I64, ins[0].I64, math.Inf(-1), math.Inf(1))
			default:
				reduceRun(env, g, op.kind, out[0].I64, ins[0].I64, int64(math.MinInt64), int64(math.MaxInt64))
			}
			return nil
		}
		return []Value{{DType: x.DType, Shape: g.out}}, Step{Run: run, Dev: reduceDev(g, op.kind, x.DType, inLen, total)}, nil
	}), nil
}

// reduceDev describes a float32 reduction of g over inLen values into
// total for a device: a mean or a maximum of trailing runs as a global
// pool, any rule otherwise as a ReduceDev; nil for int64 data and
// reductions of no values.
func reduceDev(g *reduceGeom, kind reduceKind, dt DType, inLen, total int) any {
	if dt != Float32 || !kind.Valid() || g.count == 0 || inLen == 0 || total == 0 {
		return nil
	}
	runs := len(g.red) == 1 && g.redStride[0] == 1 &&
		(len(g.kept) == 0 || len(g.kept) == 1 && g.keptStride[0] == g.red[0])
	if runs && (kind == redMean || kind == redMax) {
		return &GlobalPoolDev{Max: kind == redMax, Planes: total, HW: g.count}
	}
	return &ReduceDev{Op: kind, Kept: slices.Clone(g.kept), KeptStride: slices.Clone(g.keptStride),
		Red: slices.Clone(g.red), RedStride: slices.Clone(g.redStride), Count: g.count, InLen: inLen}
}

// reduceAxesInput returns the contents of a reduction's axes input: a
// constant, or any tensor of no elements (whose contents its shape says).
func reduceAxesInput(n *Node, v *Value) ([]int64, error) {
	if v.Const == nil && v.DType == Int64 && len(v.Shape) == 1 && v.Shape[0] == 0 {
		return nil, nil
	}
	return constInt64s(n, v, "axes")
}

// reduceGeom is a reduction bound to an input shape. The kept axes and the
// reduced ones, each without those of size 1 and with neighbours that are
// contiguous in the input merged, come with their input strides; red is
// never empty (a reduction over nothing but axes of size 1 reads one value,
// red [1]).
type reduceGeom struct {
	out              []int // the output's shape
	count            int   // the values reduced into each output element
	kept, keptStride []int
	red, redStride   []int
	// rows: the input's last axis is kept, so its values are reduced row
	// by row (see reduceArgs). inner is the length of the last kept run
	// (stride 1), blocks its number of blocks of redBlock, and outerKept
	// and outerSt the kept runs before it with their strides.
	rows               bool
	inner, blocks      int
	outerKept, outerSt []int
}

// redBlock is how many output values of a row one unit of a row
// reduction computes (its accumulators live on the stack).
const redBlock = 256

// planReduce checks a reduction's axes against the input shape (none
// given: all axes, or, when none is set, no axis) and computes its
// geometry.
func planReduce(n *Node, shape []int, axes []int64, keep, none bool) (*reduceGeom, error) {
	r := len(shape)
	red := make([]bool, r)
	switch {
	case none:
	case len(axes) == 0:
		for i := range red {
			red[i] = true
		}
	default:
		norm, err := axesIn(n, "axis", axes, r)
		if err != nil {
			return nil, err
		}
		for _, a := range norm {
			red[a] = true
		}
	}
	g := &reduceGeom{out: []int{}, count: 1}
	st := stridesOf(shape)
	var kd, ks, rd, rs []int
	for i, d := range shape {
		if red[i] {
			g.count *= d
			if keep {
				g.out = append(g.out, 1)
			}
			if d != 1 {
				rd, rs = append(rd, d), append(rs, st[i])
			}
			continue
		}
		g.out = append(g.out, d)
		if d != 1 {
			kd, ks = append(kd, d), append(ks, st[i])
		}
	}
	g.kept, g.keptStride = mergeRuns(kd, ks)
	g.red, g.redStride = mergeRuns(rd, rs)
	if len(g.red) == 0 {
		g.red, g.redStride = []int{1}, []int{1}
	}
	if k := len(g.kept); k > 0 && g.keptStride[k-1] == 1 {
		g.rows = true
		g.inner = g.kept[k-1]
		g.blocks = (g.inner + redBlock - 1) / redBlock
		g.outerKept, g.outerSt = g.kept[:k-1], g.keptStride[:k-1]
	}
	return g, nil
}

// mergeRuns merges adjacent loop dimensions (outermost first) where the
// outer one's stride equals the inner one's stride times its size.
func mergeRuns(dims, strides []int) ([]int, []int) {
	var d, s []int
	for i := range dims {
		if k := len(d) - 1; k >= 0 && s[k] == strides[i]*dims[i] {
			d[k] *= dims[i]
			s[k] = strides[i]
			continue
		}
		d = append(d, dims[i])
		s = append(s, strides[i])
	}
	return d, s
}

// redElem is an element type of reduced data, redAcc one of the
// accumulators: float32 data accumulate in float64, int64 data in int64
// (in float64 for ReduceLogSumExp).
type redElem interface{ float32 | int64 }
type redAcc interface{ float64 | int64 }

// reduceRun reduces src into dst as g and kind say, lo and hi being the
// accumulator type's least and largest values (ReduceMax's and
// ReduceMin's starting points).
func reduceRun[T redElem, A redAcc](env *kern.Env, g *reduceGeom, kind reduceKind, dst, src []T, lo, hi A) {
	if len(dst) == 0 {
		return
	}
	a := reduceArgs[T, A]{g: g, kind: kind, dst: dst, src: src, lo: lo, hi: hi}
	if g.count > 0 {
		a.inv = 1 / float64(g.count)
	}
	units, work := len(dst), max(g.count, 1)
	if g.rows {
		units = len(dst) / g.inner * g.blocks
		work *= min(g.inner, redBlock)
	}
	forChunksOf(env, units, max(1, elemGrain/work), a)
}

// reduceArgs are a reduction's operands. A unit of work is one output
// element (its values reduced by reduceArgs.lane), or, when the input's
// last axis is kept, a block of up to redBlock output elements of one row
// (reduced together, row by row of the input, by reduceArgs.rowBlock).
type reduceArgs[T redElem, A redAcc] struct {
	g        *reduceGeom
	kind     reduceKind
	dst, src []T
	lo, hi   A
	inv      float64 // 1/count (0 when count is 0)
}

// Range computes units [lo, hi).
func (a *reduceArgs[T, A]) Range(lo, hi int) {
	g := a.g
	if g.rows {
		for u := lo; u < hi; u++ {
			a.rowBlock(u/g.blocks, u%g.blocks)
		}
		return
	}
	var cb [maxRank]int
	c := coordBuf(cb[:], len(g.kept))
	for o := lo; o < hi; o++ {
		unravel(o, g.kept, c)
		base := 0
		for d, i := range c {
			base += i * g.keptStride[d]
		}
		var acc A
		m := 0.0
		switch a.kind {
		case redLogSumExp:
			m = float64(a.lane(redMax, a.lo, 0, base))
			if !math.IsInf(m, 0) && m == m {
				acc = a.lane(redLogSumExp, 0, m, base)
			}
		default:
			acc = a.lane(a.kind, a.start(a.kind), 0, base)
		}
		a.dst[o] = reduceFinal[T](a.kind, acc, m, a.inv, a.g.count)
	}
}

// start is the accumulator's value before any values: the identity of
// kind's rule.
func (a *reduceArgs[T, A]) start(kind reduceKind) A {
	switch kind {
	case redProd:
		return 1
	case redMax:
		return a.lo
	case redMin:
		return a.hi
	}
	return 0
}

// lane folds the reduced values of the output element whose first value
// is src[base] into acc by kind's rule: the last reduced run by foldRun,
// the runs in order of the outer reduced coordinates, the last fastest.
func (a *reduceArgs[T, A]) lane(kind reduceKind, acc A, m float64, base int) A {
	g := a.g
	if g.count == 0 {
		return acc
	}
	last := len(g.red) - 1
	n, s := g.red[last], g.redStride[last]
	var cb [maxRank]int
	c := coordBuf(cb[:], last)
	clear(c)
	off := base
	for {
		acc = foldRun(kind, acc, m, a.src, off, n, s)
		if !nextCoord(c, g.red[:last], g.redStride[:last], &off) {
			return acc
		}
	}
}

// rowBlock computes block b of output row o (the rows being the kept last
// run): for each reduced coordinate in order, the input's row segment
// there is folded into the block's accumulators by foldRow, then
// reduceFinal makes the outputs.
func (a *reduceArgs[T, A]) rowBlock(o, b int) {
	g := a.g
	var cb [maxRank]int
	c := coordBuf(cb[:], len(g.outerKept))
	unravel(o, g.outerKept, c)
	base := b * redBlock
	for d, i := range c {
		base += i * g.outerSt[d]
	}
	w := min(redBlock, g.inner-b*redBlock)
	var accBuf [redBlock]A
	var mBuf [redBlock]float64
	acc, m := accBuf[:w], mBuf[:w]
	if a.kind == redLogSumExp {
		for j := range acc {
			acc[j] = a.lo
		}
		a.rows(redMax, acc, nil, base)
		for j := range acc {
			m[j] = float64(acc[j])
			acc[j] = 0
		}
		a.rows(redLogSumExp, acc, m, base)
	} else {
		s := a.start(a.kind)
		for j := range acc {
			acc[j] = s
		}
		a.rows(a.kind, acc, nil, base)
	}
	dst := a.dst[o*g.inner+b*redBlock:][:w]
	for j := range dst {
		dst[j] = reduceFinal[T](a.kind, acc[j], m[j], a.inv, g.count)
	}
}

// rows folds the len(acc) values from src[base + the offset of each
// reduced coordinate] into acc, the reduced coordinates in order, the last
// fastest.
func (a *reduceArgs[T, A]) rows(kind reduceKind, acc []A, m []float64, base int) {
	g := a.g
	if g.count == 0 {
		return
	}
	var cb [maxRank]int
	c := coordBuf(cb[:], len(g.red))
	clear(c)
	off := base
	for {
		foldRow(kind, acc, m, a.src[off:off+len(acc)])
		if !nextCoord(c, g.red, g.redStride, &off) {
			return
		}
	}
}

// foldRun folds the n values x = src[off + j·s] into acc, j from 0 up:
//
//	Sum, Mean, LogSum: acc += x    L1: acc += |x|    SumSquare, L2: acc += x²
//	Prod: acc *= x    Max: acc = max(acc, x)    Min: acc = min(acc, x)
//	LogSumExp (with m, the maximum): acc += exp(x - m)
//
// where a NaN x becomes Max's and Min's result.
func foldRun[T redElem, A redAcc](kind reduceKind, acc A, m float64, src []T, off, n, s int) A {
	if n == 0 {
		return acc
	}
	src = src[off : off+(n-1)*s+1]
	switch kind {
	case redSum, redMean, redLogSum:
		for j := 0; j < n; j++ {
			acc += A(src[j*s])
		}
	case redL1:
		for j := 0; j < n; j++ {
			v := A(src[j*s])
			if v < 0 {
				v = -v
			}
			acc += v
		}
	case redSumSquare, redL2:
		for j := 0; j < n; j++ {
			v := A(src[j*s])
			acc += v * v
		}
	case redProd:
		for j := 0; j < n; j++ {
			acc *= A(src[j*s])
		}
	case redMax:
		for j := 0; j < n; j++ {
			if v := A(src[j*s]); v > acc || v != v {
				acc = v
			}
		}
	case redMin:
		for j := 0; j < n; j++ {
			if v := A(src[j*s]); v < acc || v != v {
				acc = v
			}
		}
	case redLogSumExp:
		for j := 0; j < n; j++ {
			acc += A(math.Exp(float64(src[j*s]) - m))
		}
	}
	return acc
}

// foldRow folds row into acc element by element by foldRun's rules:
// acc[j] = rule(acc[j], row[j]), with m[j] LogSumExp's maximum.
func foldRow[T redElem, A redAcc](kind reduceKind, acc []A, m []float64, row []T) {
	acc = acc[:len(row)]
	switch kind {
	case redSum, redMean, redLogSum:
		for j, x := range row {
			acc[j] += A(x)
		}
	case redL1:
		for j, x := range row {
			v := A(x)
			if v < 0 {
				v = -v
			}
			acc[j] += v
		}
	case redSumSquare, redL2:
		for j, x := range row {
			v := A(x)
			acc[j] += v * v
		}
	case redProd:
		for j, x := range row {
			acc[j] *= A(x)
		}
	case redMax:
		for j, x := range row {
			if v := A(x); v > acc[j] || v != v {
				acc[j] = v
			}
		}
	case redMin:
		for j, x := range row {
			if v := A(x); v < acc[j] || v != v {
				acc[j] = v
			}
		}
	case redLogSumExp:
		m = m[:len(row)]
		for j, x := range row {
			if mj := m[j]; !math.IsInf(mj, 0) && mj == mj {
				acc[j] += A(math.Exp(float64(x) - mj))
			}
		}
	}
}

// reduceFinal makes an output value from an accumulator over count
// values (inv = 1/count):
//
//	Mean: acc·inv (NaN when count is 0)    L2: √acc    LogSum: log acc
//	LogSumExp: m + log acc (m itself when it is ±Inf or NaN)
//	the others: acc
//
// rounded to float32, or truncated toward zero into int64.
func reduceFinal[T redElem, A redAcc](kind reduceKind, acc A, m, inv float64, count int) T {
	switch kind {
	case redMean:
		if count == 0 {
			return fromFloat64[T](math.NaN())
		}
		return fromFloat64[T](float64(acc) * inv)
	case redL2:
		return fromFloat64[T](math.Sqrt(float64(acc)))
	case redLogSum:
		return fromFloat64[T](math.Log(float64(acc)))
	case redLogSumExp:
		if math.IsInf(m, 0) || m != m {
			return fromFloat64[T](m)
		}
		return fromFloat64[T](m + math.Log(float64(acc)))
	}
	return T(acc)
}

// fromFloat64 returns v as a T: rounded to float32, or truncated toward
// zero into int64 (NaN to 0, beyond the range to its nearest bound).
func fromFloat64[T redElem](v float64) T {
	var t T
	if _, isInt := any(t).(int64); !isInt {
		return T(v)
	}
	switch {
	case v != v:
		return 0
	case v >= math.Ldexp(1, 63):
		return T(int64(math.MaxInt64))
	case v <= -math.Ldexp(1, 63):
		return T(int64(math.MinInt64))
	}
	return T(v)
}
