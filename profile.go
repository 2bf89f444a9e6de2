package bnrun

import (
	"context"
	"fmt"
	"time"
)

// NodeTime is one node's part of a profiled Run.
type NodeTime struct {
	// Node is the node's name (or "->" and its first output when it has
	// none); Op its qualified op type ("bnrun.FusedConv" for fused ones).
	Node, Op string
	// Shape is the shape of the node's first output.
	Shape []int
	// Kernel names the kernel tier and the way it computed the node, where
	// the tier says (convolutions: "avx2 winograd", "avx2 pixel tiles,
	// 8-channel blocks", ...; depthwise blocks: "avx2 one pass").
	Kernel string
	// Layout names the node's tensors that lie pixel-major, each pixel's
	// channels side by side, instead of in planes: "x" (its input), "y"
	// (its output, with a residual), "x, y" or "" for none.
	Layout string
	// MACs counts the node's multiply-accumulates (Conv, Gemm, MatMul
	// and their fused forms; 0 for other ops).
	MACs int64
	// Time is the node's mean wall time per Run.
	Time time.Duration
	// GFLOPs is 2·MACs per Time, in 10^9 per second; Share is Time's
	// part of the whole Run.
	GFLOPs, Share float64
}

// Profile is what Model.Profile measured.
type Profile struct {
	Runs int
	// Total is the mean wall time of one Run.
	Total time.Duration
	// Nodes lists the nodes that ran, in the order they ran.
	Nodes []NodeTime
}

// Profile runs the model on inputs (in declaration order) once to plan and
// warm up, then runs more times timing every node, and reports each
// node's mean time per Run. It profiles the CPU tiers; a model on the GPU
// gives an error.
func (m *Model) Profile(ctx context.Context, inputs []*Tensor, runs int) (*Profile, error) {
	steps, total, err := m.prog.Profile(ctx, inputs, runs)
	if err != nil {
		return nil, err
	}
	pr := &Profile{Runs: runs, Total: total / time.Duration(runs)}
	for _, st := range steps {
		n := st.Node
		nt := NodeTime{Node: n.Name, Op: n.QualifiedType(), MACs: st.MACs,
			Time: st.Time / time.Duration(runs), Kernel: st.Kernel, Layout: st.Layout}
		if nt.Node == "" && len(n.Outputs) > 0 {
			nt.Node = "->" + n.Outputs[0]
		}
		if len(st.Out) > 0 {
			nt.Shape = st.Out[0]
		}
		if nt.Time > 0 {
			nt.GFLOPs = 2 * float64(nt.MACs) / nt.Time.Seconds() / 1e9
		}
		if pr.Total > 0 {
			nt.Share = float64(nt.Time) / float64(pr.Total)
		}
		pr.Nodes = append(pr.Nodes, nt)
	}
	return pr, nil
}

// ByOp sums the profile's nodes per op type, in order of first appearance:
// count, time per Run and MACs.
func (pr *Profile) ByOp() []OpTime {
	idx := map[string]int{}
	var out []OpTime
	for _, n := range pr.Nodes {
		i, ok := idx[n.Op]
		if !ok {
			i = len(out)
			idx[n.Op] = i
			out = append(out, OpTime{Op: n.Op})
		}
		out[i].Count++
		out[i].Time += n.Time
		out[i].MACs += n.MACs
	}
	for i := range out {
		if pr.Total > 0 {
			out[i].Share = float64(out[i].Time) / float64(pr.Total)
		}
	}
	return out
}

// OpTime is the time all nodes of one op type took in a profiled Run.
type OpTime struct {
	Op    string
	Count int
	Time  time.Duration
	MACs  int64
	Share float64
}

// String formats an op's line of a profile summary.
func (o OpTime) String() string {
	return fmt.Sprintf("%-20s %4d nodes %9.3f ms %5.1f%%", o.Op, o.Count, float64(o.Time.Microseconds())/1000, 100*o.Share)
}
