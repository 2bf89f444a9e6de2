package ops

import "slices"

// Image-wise ops. A runtime may run a batch's plan as the plan of one
// image, once per image (package runtime's images.go), when every node of
// the graph computes each image of the batch from that image alone. Which
// nodes do is a property of each op, declared by its builder here in ops
// (the runtime knows no op names): a Kernel that implements ImageWise.

// ImageWise is a Kernel whose node may compute each image of a batch on
// its own.
type ImageWise interface {
	Kernel
	// ImageWise reports whether, at every batch size, image i (index i
	// along axis 0) of each of the node's outputs is computed from image i
	// of each input that is not a constant, and from the constant inputs,
	// alone, so that the node run on each image by itself gives its output
	// on the batch image by image. konst[j] says whether input j is a
	// constant of the graph (false for an absent one, whose name in
	// Node.Inputs is ""); a constant is taken not to vary along the batch
	// (the runtime checks that the plans' shapes agree). It is false when
	// the node has an output after its first that the image split does not
	// make, such as MaxPool's Indices.
	ImageWise(konst []bool) bool
}

// An imageRule is a condition on node n, given which of its inputs are
// constants (see ImageWise), under which an op computes images apart.
type imageRule func(n *Node, konst []bool) bool

// imageWiseKernel is a Kernel declared image-wise when every rule holds
// for its node.
type imageWiseKernel struct {
	Kernel
	n     *Node
	rules []imageRule
}

// ImageWise implements ImageWise.
func (k *imageWiseKernel) ImageWise(konst []bool) bool { return allRules(k.n, k.rules, konst) }

// ImageWise implements ImageWise for the ops that hold their weights
// (Conv, Gemm and the fused ops built on them): as their registration
// declared it, false when it did not.
func (k *holdingKernel) ImageWise(konst []bool) bool {
	return k.imageNode != nil && allRules(k.imageNode, k.imageRules, konst)
}

// allRules reports whether every rule holds for n.
func allRules(n *Node, rules []imageRule, konst []bool) bool {
	for _, r := range rules {
		if !r(n, konst) {
			return false
		}
	}
	return true
}

// imageWiseOp returns builder b with its kernels declared image-wise (see
// ImageWise) for the nodes that every rule holds for (none: every node).
// A holdingKernel keeps its type (and so ConstTaker); other kernels are
// wrapped.
func imageWiseOp(b Builder, rules ...imageRule) Builder {
	return func(n *Node) (Kernel, error) {
		k, err := b(n)
		if err != nil {
			return nil, err
		}
		if h, isHeld := k.(*holdingKernel); isHeld {
			h.imageNode, h.imageRules = n, rules
			return h, nil
		}
		return &imageWiseKernel{Kernel: k, n: n, rules: rules}, nil
	}
}

// firstOutput holds for a node that names no output after its first (such
// as MaxPool's Indices, which the image split does not make).
func firstOutput(n *Node, _ []bool) bool {
	for _, o := range n.Outputs[min(1, len(n.Outputs)):] {
		if o != "" {
			return false
		}
	}
	return true
}

// computedInputs holds for an op that may broadcast its inputs against
// each other (Add, Mul) when every input is present and computed: a
// constant operand could be shaped for the whole batch.
func computedInputs(n *Node, konst []bool) bool {
	if len(n.Inputs) != len(konst) {
		return false
	}
	for i, in := range n.Inputs {
		if in == "" || konst[i] {
			return false
		}
	}
	return true
}

// rowsOfA holds for a Gemm whose rows of A are the images (transA 0) and
// whose B and C, when present, are constants.
func rowsOfA(n *Node, konst []bool) bool {
	ta, err := n.Int("transA", 0)
	if err != nil || ta != 0 || len(konst) < 2 || !konst[1] {
		return false
	}
	return len(konst) < 3 || n.Inputs[2] == "" || konst[2]
}

// axisFrom1 holds for an op along its attribute axis (Concat) that is at
// least 1, so never the batch (a negative axis, which could be, is
// refused).
func axisFrom1(n *Node, _ []bool) bool {
	axis, err := n.Int("axis", 1)
	return err == nil && axis >= 1
}

// axisIs1 holds for an op that keeps the axes before its attribute axis
// apart (Flatten) when axis is 1.
func axisIs1(n *Node, _ []bool) bool {
	axis, err := n.Int("axis", 1)
	return err == nil && axis == 1
}

// PlanImageWise is a Kernel whose node computes each image of a batch on
// its own at some shapes and constants but not at others, which only a
// plan knows: a Reshape whose shape, or a Slice whose starts and ends, an
// exporter computed from the input's Shape so that any batch size runs
// (PyTorch's x.view(x.size(0), -1), ShuffleNet's channel shuffle and
// split). A runtime may run a batch plan image by image where every node
// is ImageWise given the plan's constants, or PlanImageWise at them, and
// the batch-1 plan has each computed tensor's shape but for axis 0.
type PlanImageWise interface {
	Kernel
	// ImageWiseAt reports whether image i (index i along axis 0) of the
	// node's first output, of shape out, is computed from image i of its
	// first input alone, given in, its inputs as the plan of a batch has
	// them (their shapes, and the values of those the plan holds as
	// constants), and whether the node of the plan of one image, its
	// inputs one and output shape oneOut, computes it so from that image.
	ImageWiseAt(in []*Value, out []int, one []*Value, oneOut []int) bool
}

// planWiseKernel is a Kernel declared PlanImageWise by a rule.
type planWiseKernel struct {
	Kernel
	n    *Node
	rule planRule
}

// A planRule is a condition under which an op computes images apart at a
// plan's shapes and constants (see PlanImageWise.ImageWiseAt).
type planRule func(n *Node, in []*Value, out []int, one []*Value, oneOut []int) bool

// ImageWiseAt implements PlanImageWise.
func (k *planWiseKernel) ImageWiseAt(in []*Value, out []int, one []*Value, oneOut []int) bool {
	computed := func(v []*Value) bool { return len(v) > 0 && v[0] != nil && v[0].Const == nil }
	return firstOutput(k.n, nil) && computed(in) && computed(one) && len(in) == len(one) && k.rule(k.n, in, out, one, oneOut)
}

// planWiseOp returns builder b with its kernels declared PlanImageWise by
// rule, for nodes with one output and a computed first input.
func planWiseOp(b Builder, rule planRule) Builder {
	return func(n *Node) (Kernel, error) {
		k, err := b(n)
		if err != nil {
			return nil, err
		}
		return &planWiseKernel{Kernel: k, n: n, rule: rule}, nil
	}
}

// keepsAxis0 holds for a view (Reshape) whose output keeps its input's
// axis 0 in both plans, and whose one image's shapes in the plan of one
// image are the batch's but for axis 0: image i's values are then the
// same run of memory in input and output, so the view of image i alone
// is image i of the view.
func keepsAxis0(_ *Node, in []*Value, out []int, one []*Value, oneOut []int) bool {
	x, x1 := in[0].Shape, one[0].Shape
	return len(x) > 0 && len(out) > 0 && x[0] == out[0] && len(x1) == len(x) && len(oneOut) == len(out) &&
		x1[0] == 1 && oneOut[0] == 1 && slices.Equal(x1[1:], x[1:]) && slices.Equal(oneOut[1:], out[1:])
}

// permKeeps0 holds for a Transpose whose perm keeps axis 0 first (an
// absent perm, the reversed order, is refused: it keeps axis 0 first on
// one axis only).
func permKeeps0(n *Node, _ []bool) bool {
	perm, err := n.Ints("perm", nil)
	if err != nil {
		return false
	}
	return len(perm) > 0 && perm[0] == 0
}
