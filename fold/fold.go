// Package fold rewrites a model graph so that BatchNormalization costs
// nothing where the math allows and as little as possible where it does
// not, and fuses activations and residual additions into the layers before
// them.
//
// Each rule lives in its own file as a type with Match (which nodes, under
// which conditions) and Apply (the new initializers and wiring). A rule
// leaves the graph unchanged on any case it does not handle: a tensor with
// other readers, parameters that are not constants, shapes it cannot
// prove. It never approximates: every rewrite is exact in real arithmetic
// (only the rounding of the sums at run time changes), and folded
// parameters are computed in float64 and rounded once.
//
// The rules, in the order they run:
//
//	IdentityElim   Identity and inference Dropout removed
//	ConstFold      Constant nodes and nodes of constants only become initializers
//	ZeroPadElim    Pad with all-zero pads removed
//	PoolConv       1×1 Conv -> unpadded AveragePool: the pool moved before the Conv
//	ConvBN         Conv -> BN: BN folded into the Conv's weights and bias
//	GemmBN         Gemm or MatMul(+Add) -> BN over features: folded likewise
//	BNConv         BN -> Conv (unpadded) or Gemm: BN folded into the next layer
//	BNAffine       any other BN -> one per-channel affine step (bnrun.Affine)
//	AffineAct      Affine -> Relu/Sigmoid/Tanh/Clip/LeakyRelu/HardSigmoid/HardSwish: one pass
//	AffineConv     Affine(+Relu) read only by a Conv: applied as the Conv reads its input
//	AffinePool     Affine(+Relu) read only by an AveragePool: applied as the pool reads its input
//	ConvAdd        Conv -> Add of a same-shaped tensor: residual added in the Conv's epilogue
//	ConvAct        Conv -> Relu/Clip/Sigmoid/Tanh/LeakyRelu/Hard*: activation in the epilogue
//	ConvSilu       Conv -> Sigmoid, Mul(x, sigmoid): SiLU in the epilogue
//	ConvHardSwish  Conv -> HardSigmoid(1/6, 1/2), Mul(x, hardsigmoid): HardSwish in the epilogue
//	GemmAct        Gemm -> Relu/Clip/Sigmoid/Tanh/LeakyRelu/Hard*: likewise
//	DwBlock        1×1 Conv -> depthwise Conv -> 1×1 Conv (either 1×1 absent): one block
//	GateConv       Mul(X, gate [N, C, 1, 1]) read only by a 1×1 Conv: applied as the Conv reads X
//
// Fused nodes use ops of the "bnrun" domain (bnrun.FusedConv,
// bnrun.FusedGemm, bnrun.Affine, bnrun.AffineAveragePool, bnrun.DwBlock),
// which the ops package implements.
//
// fold rewrites an ir.Graph. It imports ir, ops (the operators, to fold
// constant nodes by running them), kern (the reference tier they run on)
// and runtime (to prove shapes by planning the graph); it must not import
// the loader, npy or the root package, which calls it.
package fold

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/runtime"
)

// Domain is the operator domain of the fused nodes fold creates.
const Domain = "bnrun"

// rule is one rewrite, run by work.scan: match looks at one node and says
// whether and how the rule applies there; apply performs the rewrite match
// described.
type rule interface {
	name() string
	match(w *work, n *ir.Node) (any, bool)
	apply(w *work, m any)
}

// passRule is a rule that runs as a pass of its own over the whole graph
// instead of a scan, returning how many rewrites it made.
type passRule interface {
	name() string
	pass(ctx context.Context, w *work) (int, error)
}

// named is a rule or a passRule.
type named interface{ name() string }

// rules lists every rule in the order Optimize runs them.
var rules = []named{
	identityElim{},
	constFold{},
	zeroPadElim{},
	poolConv{},
	convBN{},
	gemmBN{},
	bnConv{},
	bnAffine{},
	affineAct{},
	affineConv{},
	affinePool{},
	convAdd{},
	convAct{},
	convSilu{},
	convHardSwish{},
	gemmAct{},
	dwBlock{},
	gateConv{},
}

// Report says what optimisation did.
type Report struct {
	// OpsBefore and OpsAfter count nodes per op type ("bnrun.FusedConv"
	// for fused ones).
	OpsBefore map[string]int `json:"ops_before"`
	OpsAfter  map[string]int `json:"ops_after"`
	// Rules counts how often each rule fired.
	Rules map[string]int `json:"rules"`
	// BatchNorms lists every BatchNormalization of the input graph and what
	// became of it, in graph order.
	BatchNorms []BatchNormFate `json:"batchnorm"`
}

// BatchNormFate is what became of one BatchNormalization.
type BatchNormFate struct {
	Node string `json:"node"`
	// Fate is "folded" (into the weights of Into), "affine" (a standalone
	// per-channel step, Into names it), "fused-input" (applied by the Conv
	// or AveragePool Into as it reads its input), or "kept".
	Fate   string `json:"fate"`
	Into   string `json:"into,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Optimize returns a rewritten copy of g (g itself is not modified) and a
// report of what changed. It takes time close to linear in the size of g
// (see work.scan), and bounds the constants it computes and makes (see
// maxFoldWork and work.affords).
func Optimize(g *ir.Graph) (*ir.Graph, *Report) {
	out, rep, _ := OptimizeContext(context.Background(), g)
	return out, rep
}

// OptimizeContext is Optimize stopping early when ctx is done, with an
// error that wraps ctx.Err() (and no graph). It looks at ctx between the
// rules and every thousand or so steps within them.
func OptimizeContext(ctx context.Context, g *ir.Graph) (*ir.Graph, *Report, error) {
	return optimizeWith(ctx, g, nil, runRule)
}

// OptimizeCompiled is OptimizeContext for a graph its caller has compiled
// already: prog is what runtime.Compile made of the graph (prog.Graph(),
// which is not modified), with ProbeOptions, and the rules that need
// shapes prove them by planning prog instead of compiling the graph a
// second time. The plans it makes stay in prog's cache; prog may be closed
// once OptimizeCompiled returns.
func OptimizeCompiled(ctx context.Context, prog *runtime.Program) (*ir.Graph, *Report, error) {
	return optimizeWith(ctx, prog.Graph(), prog, runRule)
}

// runRule runs one of rules over w.
func runRule(ctx context.Context, w *work, r named, rep *Report) error {
	switch r := r.(type) {
	case passRule:
		n, err := r.pass(ctx, w)
		if n > 0 {
			rep.Rules[r.name()] += n
		}
		return err
	case rule:
		return w.scan(ctx, r, rep)
	}
	return nil
}

// optimizeWith is OptimizeContext running each rule with run, proving
// shapes with prog, g compiled, when it is not nil (see OptimizeCompiled).
func optimizeWith(ctx context.Context, g *ir.Graph, prog *runtime.Program, run func(context.Context, *work, named, *Report) error) (*ir.Graph, *Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("fold: %w", err)
	}
	out, err := cloneGraph(ctx, g)
	if err != nil {
		return nil, nil, fmt.Errorf("fold: copying the graph: %w", err)
	}
	rep := &Report{OpsBefore: CountOps(out), Rules: map[string]int{}}
	w, err := newWork(ctx, out)
	if err != nil {
		return nil, nil, fmt.Errorf("fold: indexing the graph: %w", err)
	}
	var bnOrder []string
	for _, n := range out.Nodes {
		if is(n, "BatchNormalization") {
			if w.fates[label(n)] != nil {
				w.sharedFate[label(n)] = true
			}
			bnOrder = append(bnOrder, label(n))
			w.setFate(n, "kept", "", "no rule applies")
		}
	}
	for i, r := range rules {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("fold: before rule %s: %w", r.name(), err)
		}
		if i == 2 {
			// Shapes are proven once the trivial rewrites are done; later
			// rules keep the names and shapes of the tensors they keep.
			// Those rewrites keep the shape of every tensor they keep, so
			// that the program of g, when given, proves the same ones.
			shapes, err := probeShapes(ctx, out, prog)
			if err != nil {
				return nil, nil, fmt.Errorf("fold: proving shapes: %w", err)
			}
			w.shapes = shapes
		}
		if err := run(ctx, w, r, rep); err != nil {
			return nil, nil, fmt.Errorf("fold: %w", err)
		}
	}
	w.pruneInitializers()
	if rep.Rules["BNAffine"]+rep.Rules["AffineConv"]+rep.Rules["ConvAdd"]+rep.Rules["ConvAct"]+rep.Rules["ConvSilu"]+rep.Rules["GemmAct"]+rep.Rules["DwBlock"] > 0 {
		out.Opsets[Domain] = 1
	}
	rep.OpsAfter = CountOps(out)
	for _, name := range bnOrder {
		rep.BatchNorms = append(rep.BatchNorms, *w.fates[name])
	}
	return out, rep, nil
}

// CountOps counts a graph's nodes per op type, qualified by domain outside
// the default one (ir.Node.QualifiedType).
func CountOps(g *ir.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		c[n.QualifiedType()]++
	}
	return c
}

// SortedOps returns the op types of a count map in sorted order.
func SortedOps(c map[string]int) []string { return slices.Sorted(maps.Keys(c)) }
