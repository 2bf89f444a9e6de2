// Package fold rewrites a model graph so that BatchNormalization costs
// nothing where the math allows and as little as possible where it does
// not, and fuses activations and residual additions into the layers before
// them.
//
// Each rule lives in its own file as a type with Match (which nodes, under
// which conditions) and Apply (the new initializers and wiring). A rule
// leaves the graph unchanged on any case it does not handle: a tensor with
// other readers, parameters that are not constants, shapes it cannot
// prove. It never approximates: folded parameters are computed in float64
// and rounded once.
//
// The rules, in the order they run:
//
//	IdentityElim   Identity and inference Dropout removed
//	ConstFold      Constant nodes and nodes of constants only become initializers
//	ConvBN         Conv -> BN: BN folded into the Conv's weights and bias
//	GemmBN         Gemm or MatMul(+Add) -> BN over features: folded likewise
//	BNConv         BN -> Conv (unpadded) or Gemm: BN folded into the next layer
//	BNAffine       any other BN -> one per-channel affine step (bnrun.Affine)
//	AffineAct      Affine -> Relu/Sigmoid/Tanh/Clip/LeakyRelu: one pass
//	AffineConv     Affine(+Relu) read only by a Conv: applied as the Conv reads its input
//	ConvAdd        Conv -> Add of a same-shaped tensor: residual added in the Conv's epilogue
//	ConvAct        Conv -> Relu/Clip/Sigmoid/Tanh/LeakyRelu: activation in the epilogue
//	GemmAct        Gemm -> Relu/Clip/Sigmoid/Tanh/LeakyRelu: likewise
//
// Fused nodes use ops of the "bnrun" domain (bnrun.FusedConv,
// bnrun.FusedGemm, bnrun.Affine), which the ops package implements.
package fold

import (
	"maps"
	"slices"

	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

// Domain is the operator domain of the fused nodes fold creates.
const Domain = "bnrun"

// rule is one rewrite: Match looks at one node and says whether and how
// the rule applies there; Apply performs the rewrite Match described.
type rule interface {
	name() string
	match(w *work, n *ops.Node) (any, bool)
	apply(w *work, m any)
	// incremental reports whether apply keeps the indexes true itself, so
	// that the driver need not rebuild them (ConstFold, which may fire
	// once per node of a large graph).
	incremental() bool
}

// rebuilds is embedded by rules whose rewrites need the indexes rebuilt.
type rebuilds struct{}

func (rebuilds) incremental() bool { return false }

// rules lists every rule in the order Optimize runs them.
var rules = []rule{
	identityElim{},
	constFold{},
	convBN{},
	gemmBN{},
	bnConv{},
	bnAffine{},
	affineAct{},
	affineConv{},
	convAdd{},
	convAct{},
	gemmAct{},
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
	// Into as it reads its input), or "kept".
	Fate   string `json:"fate"`
	Into   string `json:"into,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Optimize returns a rewritten copy of g (g itself is not modified) and a
// report of what changed.
func Optimize(g *runtime.Graph) (*runtime.Graph, *Report) {
	out := cloneGraph(g)
	rep := &Report{OpsBefore: CountOps(out), Rules: map[string]int{}}
	w := newWork(out)
	var bnOrder []string
	for _, n := range out.Nodes {
		if is(n, "BatchNormalization") {
			bnOrder = append(bnOrder, label(n))
			w.setFate(n, "kept", "", "no rule applies")
		}
	}
	for i, r := range rules {
		if i == 2 {
			// Shapes are proven once the trivial rewrites are done; later
			// rules keep the names and shapes of the tensors they keep.
			w.shapes = probeShapes(out)
		}
		// Scan in graph order, carrying on from where a rewrite happened
		// (the node there may be gone, so look at that position again),
		// and repeat whole scans until one changes nothing.
		for applied := true; applied; {
			applied = false
			for i := 0; i < len(out.Nodes); i++ {
				if m, ok := r.match(w, out.Nodes[i]); ok {
					r.apply(w, m)
					if !r.incremental() {
						w.reindex()
					}
					rep.Rules[r.name()]++
					applied = true
					i = max(i-2, -1)
				}
			}
		}
	}
	w.pruneInitializers()
	if rep.Rules["BNAffine"]+rep.Rules["AffineConv"]+rep.Rules["ConvAdd"]+rep.Rules["ConvAct"]+rep.Rules["GemmAct"] > 0 {
		out.Opsets[Domain] = 1
	}
	rep.OpsAfter = CountOps(out)
	for _, name := range bnOrder {
		rep.BatchNorms = append(rep.BatchNorms, *w.fates[name])
	}
	return out, rep
}

// CountOps counts a graph's nodes per op type, qualified by domain outside
// the default one (ops.Node.QualifiedType).
func CountOps(g *runtime.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		c[n.QualifiedType()]++
	}
	return c
}

// SortedOps returns the op types of a count map in sorted order.
func SortedOps(c map[string]int) []string { return slices.Sorted(maps.Keys(c)) }
