package ops

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
