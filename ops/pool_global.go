package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("GlobalAveragePool", imageWiseOp(func(n *Node) (Kernel, error) { return buildGlobalPool(n, false) }, firstOutput))
	Register("GlobalMaxPool", imageWiseOp(func(n *Node) (Kernel, error) { return buildGlobalPool(n, true) }, firstOutput))
}

// buildGlobalPool binds GlobalAveragePool or GlobalMaxPool (opset 1 on):
// X is N×C×D1×...×Dn (n >= 1) and Y is N×C×1×...×1, the mean or the
// maximum of each channel's plane. Means are summed as the tier's SumRow
// sums (in float64 on the portable tiers); a NaN in a plane is its
// maximum. A 4-D X of at most pixGlobalPoolMax pixels an image may lie
// pixel-major (see Step.Layout): each channel's values are then summed in
// float32 in the order of the pixels (kern.ColSumRow).
func buildGlobalPool(n *Node, isMax bool) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
		}
		x := in[0]
		if x == nil || x.DType != Float32 || len(x.Shape) < 3 {
			return nil, Step{}, n.Errorf("input X must be a float32 tensor of rank at least 3 (N×C×D1...)")
		}
		xs := x.Shape
		planes, size := xs[0]*xs[1], NumElems(xs[2:])
		outShape := []int{xs[0], xs[1]}
		for range xs[2:] {
			outShape = append(outShape, 1)
		}
		pix := false // X lies pixel-major in this plan
		run := func(env *kern.Env, in, out []*Tensor) error {
			if err := checkLen(in[0], "X", planes*size); err != nil {
				return n.Errorf("%v", err)
			}
			if err := checkLen(out[0], "Y", planes); err != nil {
				return n.Errorf("%v", err)
			}
			xd, y := in[0].F32, out[0].F32
			if pix {
				c := xs[1]
				forChunksOf(env, xs[0]*kern.CeilDiv(c, pixGlobalPoolCols), 1, pixGlobalPoolArgs{kern.TierOf(env), xd, y, c, size, isMax})
				return nil
			}
			forChunksOf(env, planes, 1, globalPoolArgs{kern.TierOf(env), xd, y, size, isMax})
			return nil
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: outShape})
		if err != nil {
			return nil, Step{}, err
		}
		st := Step{Run: run, Dev: &GlobalPoolDev{Max: isMax, Planes: planes, HW: size}}
		if len(xs) == 4 && size <= pixGlobalPoolMax {
			st.Layout = &Layout{
				Can: func(*kern.Tier) (int, bool, int) { return 0, false, -1 },
				Set: func(in, _ bool) { pix = in },
			}
		}
		return outs, st, nil
	}), nil
}

// globalPoolArgs are a global pooling step's operands.
type globalPoolArgs struct {
	k     *kern.Tier
	x, y  []float32
	size  int
	isMax bool
}

// Range pools planes [lo, hi) of size values each.
func (a *globalPoolArgs) Range(lo, hi int) {
	size := a.size
	for p := lo; p < hi; p++ {
		plane := a.x[p*size : (p+1)*size]
		if a.isMax {
			// y = max over the plane (NaN wins)
			best := float32(math.Inf(-1))
			for i, v := range plane {
				if i == 0 || v > best || v != v {
					best = v
				}
			}
			a.y[p] = best
			continue
		}
		// y = (sum over the plane) / size
		a.y[p] = float32(kern.SumRow(a.k, plane) / float64(size))
	}
}

// pixGlobalPoolMax is the most pixels an image a global pool reads
// pixel-major: its float32 sums, one term a pixel, stay within about
// pixGlobalPoolMax·2⁻²⁴ of the float64 ones.
const pixGlobalPoolMax = 256

// pixGlobalPoolCols is how many channels a unit of pixGlobalPoolArgs
// pools.
const pixGlobalPoolCols = 256

// pixGlobalPoolArgs are a global pooling step's operands on a
// pixel-major X of n images, each size pixels of c channels.
type pixGlobalPoolArgs struct {
	k       *kern.Tier
	x, y    []float32
	c, size int
	isMax   bool
}

// Range pools units [lo, hi): unit u is image u / B and its channels
// from (u mod B)·pixGlobalPoolCols on, B = ceil(c / pixGlobalPoolCols):
//
//	y[i][ch] = (x[i][0][ch] + x[i][1][ch] + ... + x[i][size-1][ch]) / size
//
// summed in float32 from pixel 0 on (the maximum for GlobalMaxPool).
func (a *pixGlobalPoolArgs) Range(lo, hi int) {
	blocks := kern.CeilDiv(a.c, pixGlobalPoolCols)
	for u := lo; u < hi; u++ {
		i, c0 := u/blocks, u%blocks*pixGlobalPoolCols
		c1 := min(a.c, c0+pixGlobalPoolCols)
		y := a.y[i*a.c+c0 : i*a.c+c1]
		img := a.x[i*a.size*a.c:]
		if !a.isMax {
			// the sums in registers, a block of channels over every pixel
			kern.ColSumRow(a.k, y, img[c0:], a.c, a.size)
			for j, v := range y {
				y[j] = float32(float64(v) / float64(a.size))
			}
			continue
		}
		copy(y, img[c0:c1])
		for q := 1; q < a.size; q++ {
			kern.MaxRow(a.k, y, y, img[q*a.c+c0:q*a.c+c1])
		}
	}
}
