package kern

import "math"

// The depth of a product, K = Cg·KH·KW terms for a convolution, is summed
// in blocks (kBlock): each block a chain of fused multiply-adds started
// from zero in registers, each block's sum then added to the output in
// memory, as ONNX Runtime's MLAS does (its NCHWc convolutions: a chain of
// 16 input channels × the window, 144 steps for a 3×3 one on AVX-512,
// 128 input channels for a 1×1 one, one input channel's window for a
// first layer on 3 channels). Against float64 sums the error of such a
// two-level sum grows about as √(kc + nb) (kc the steps of a block, nb =
// K/kc blocks), smallest at kc = nb = √K; each block costs a pass of the
// output tile through the registers. Blocks of up to 128 or 256 steps
// (KC) keep that cost to a few per cent of the multiply-adds, but for a
// small K they make one long chain: ResNet's 7×7 stem on 3 channels (K =
// 147) in two chains of 74, its 1×1 layers on 64 channels in one of 64.
// A segmentation net keeps those errors in its per-pixel scores, and its
// first layers' errors grow through every layer after them: measured on
// torchvision's fcn_resnet50 (random weights, 224×224, AVX-512), the
// scores' rms error against float64 fell from 2.02e-5 to 1.81e-5 with
// only the stem summed in blocks of 8 steps, to 1.66e-5 with only the K =
// 64 layers, and by 2 % or less with any other layer (its 3×3 head, K =
// 18432, included); ONNX Runtime's was 1.91e-5.

// accurateKC is the longest depth block of a tier's accurate variant.
const accurateKC = 128

// accurateDepth is the depth block of a tier's accurate variant (see
// Tier.Accurate) for a product of k terms on a path whose blocks hold at
// most kcMax steps: k cut as evenly as possible into
//
//	nb = max(⌈k / min(kcMax, 128)⌉, min(round(√k / 3), ⌊k / 20⌋), 1)
//
// blocks: about 3·√k steps each, none longer than kcMax or 128 and, where
// k is cut, none shorter than 20. Chain plus blocks, kc + nb, for K = 64,
// 147, 256, 576, 1024: 25, 41, 57, 80, 105, against 65, 76, 130, 121, 136
// in blocks of up to 128 (rms errors about 0.6 to 0.9 times); from K =
// 1665 on, the blocks of 128. It depends on k and kcMax only.
func accurateDepth(k, kcMax int) int {
	nb := CeilDiv(k, min(kcMax, accurateKC))
	nb = max(nb, min(int(math.Round(math.Sqrt(float64(k))/3)), k/20), 1)
	return CeilDiv(k, nb)
}
