package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Max, Min, Sum and Mean: element-wise over one or more inputs, with
// multidirectional (numpy) broadcasting from opset 8 (opsets 1 and 6 need
// inputs of one shape). Max and Min take float32 at every version and
// int64 from opset 12; Sum and Mean take float32 only. Max and Min
// propagate NaN, as numpy's maximum and minimum (which the spec's
// reference uses). Opset 1's consumed_inputs is ignored. Max, Min and Sum
// of two float32 inputs describe themselves to a device as a BinaryDev.

func init() {
	Register("Max", buildVariadic(opMax, false))
	Register("Min", buildVariadic(opMin, false))
	Register("Sum", buildVariadic(opAdd, false))
	Register("Mean", buildVariadic(opAdd, true))
}

// buildVariadic binds Max (op opMax), Min (opMin), Sum (opAdd) or Mean
// (opAdd, mean set). With inputs x_0 … x_{k-1} broadcast to the output's
// shape, the step folds them into the output in order,
//
//	y = x_0;  y = y op x_j for j = 1 … k-1;  Mean: y = y / k
//
// the first fold reading x_0 and x_1 directly (so one input is a copy),
// and the later ones y in place.
func buildVariadic(op arithOp, mean bool) Builder {
	return func(n *Node) (Kernel, error) {
		return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
			if len(in) == 0 {
				return nil, Step{}, n.Errorf("want at least 1 input, got 0")
			}
			if err := needInputs(n, in, len(in)); err != nil {
				return nil, Step{}, err
			}
			types := []DType{Float32}
			if (op == opMax || op == opMin) && n.Opset >= 12 {
				types = append(types, Int64)
			}
			x0 := in[0]
			if err := needDType(n, x0, "input 0", types...); err != nil {
				return nil, Step{}, err
			}
			for i, v := range in[1:] {
				if v.DType != x0.DType {
					return nil, Step{}, n.Errorf("input 0 has type %s but input %d has %s", x0.DType, i+1, v.DType)
				}
			}
			if n.Opset < 8 {
				if err := sameShapes(n, in...); err != nil {
					return nil, Step{}, err
				}
			}
			outShape, err := bcastValues(n, in...)
			if err != nil {
				return nil, Step{}, err
			}
			lens := make([]int, len(in))
			for i, v := range in {
				lens[i] = NumElems(v.Shape)
			}
			oLen := NumElems(outShape)
			// plans[j-1] computes y = (x_0 or y) op x_j.
			var plans []bcastPlan
			for j := 1; j < len(in); j++ {
				a := outShape
				if j == 1 {
					a = in[0].Shape
				}
				plans = append(plans, planBcast(outShape, a, in[j].Shape))
			}
			var div bcastPlan
			var count []float32
			if mean && len(in) > 1 {
				div, count = planBcast(outShape, outShape, nil), []float32{float32(len(in))}
			}
			run := func(env *kern.Env, ins, out []*Tensor) error {
				if !checkRunTensors(ins, len(lens)) || !checkRunTensors(out, 1) || out[0].Len() != oLen ||
					out[0].DType != x0.DType {
					return fmt.Errorf("tensors do not match the plan")
				}
				for i, t := range ins[:len(lens)] {
					if t.Len() != lens[i] || t.DType != x0.DType {
						return fmt.Errorf("tensors do not match the plan")
					}
				}
				if oLen == 0 {
					return nil
				}
				if x0.DType == Int64 {
					foldVariadic(env, op, plans, out[0].I64, ins, func(t *Tensor) []int64 { return t.I64 })
					return nil
				}
				y := out[0].F32
				foldVariadic(env, op, plans, y, ins, func(t *Tensor) []float32 { return t.F32 })
				if count != nil {
					// y = y / k
					runBcast(env, opDiv, &div, y, y, count)
				}
				return nil
			}
			// two float32 inputs (Mean's but for the division): one
			// device binary step
			var dev *BinaryDev
			if len(in) == 2 && x0.DType == Float32 && !mean {
				dev = &BinaryDev{Op: op, AShape: copyShape(in[0].Shape), BShape: copyShape(in[1].Shape)}
			}
			return []Value{{DType: x0.DType, Shape: outShape}}, Step{Run: run, Dev: devOrNil(dev)}, nil
		}), nil
	}
}

// foldVariadic computes dst = x_0 op x_1 op … op x_k (in that order) from
// the inputs' data (data(ins[j])), plans[j-1] planning the j-th fold.
func foldVariadic[T kern.Numeric](env *kern.Env, op arithOp, plans []bcastPlan, dst []T, ins []*Tensor, data func(*Tensor) []T) {
	if len(plans) == 0 {
		// one input, of the output's shape
		copy(dst, data(ins[0]))
		return
	}
	for j := range plans {
		a := dst
		if j == 0 {
			a = data(ins[0])
		}
		runBcast(env, op, &plans[j], dst, a, data(ins[j+1]))
	}
}
