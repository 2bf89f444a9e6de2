package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestPoolConv moves a 2×2 AveragePool before the 1×1 Conv it alone reads,
// as in DenseNet's transitions (BN, Relu, Conv, AveragePool), with and
// without bias, grouped too: the Conv then reads the pooled tensor and
// writes the pool's old output, and the outputs stay within rounding.
func TestPoolConv(t *testing.T) {
	for i, tc := range []struct {
		name  string
		group int
		bias  bool
	}{
		{"bias", 1, true},
		{"no_bias", 1, false},
		{"grouped", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(970 + i)).setOpset(13)
			b.input("X", N, 4, 6, 6)
			b.bn("bn", "X", "n", 4)
			b.node("relu", "Relu", "n", "r")
			b.conv("conv", "r", "c", 4, 6, []int{1, 1}, int(tc.group), tc.bias)
			b.node("pool", "AveragePool", "c", "Y", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
			b.output("Y")
			opt, rep := optimize(t, b.g)
			if rep.Rules["PoolConv"] != 1 {
				t.Errorf("rules: %v, want PoolConv once", rep.Rules)
			}
			var pool, conv *ir.Node
			for _, n := range opt.Nodes {
				switch n.OpType {
				case "AveragePool", "AffineAveragePool": // the BN and Relu in it (AffinePool)
					pool = n
				case "Conv", "FusedConv":
					conv = n
				}
			}
			if pool == nil || conv == nil || conv.Input(0) != pool.Outputs[0] || conv.Outputs[0] != "Y" {
				t.Fatalf("optimised graph: %v", opt.Nodes)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestPoolConvKeeps leaves the pool after a 3×3 Conv, after a strided or
// padded 1×1 Conv, when it pads with count_include_pad, when the Conv has
// another reader, and when the pool keeps the plane's size.
func TestPoolConvKeeps(t *testing.T) {
	for i, tc := range []struct {
		name   string
		k      int
		cattrs []*ir.Attr
		pattrs []*ir.Attr
		second bool
	}{
		{name: "kernel3", k: 3, cattrs: []*ir.Attr{aInts("pads", 1, 1, 1, 1)}},
		{name: "strided", k: 1, cattrs: []*ir.Attr{aInts("strides", 2, 2)}},
		{name: "padded_conv", k: 1, cattrs: []*ir.Attr{aInts("pads", 1, 1, 1, 1)}},
		{name: "padded_pool", k: 1, pattrs: []*ir.Attr{aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1)}},
		{name: "two_readers", k: 1, second: true},
		{name: "same_size", k: 1, pattrs: []*ir.Attr{aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(980 + i)).setOpset(13)
			b.input("X", N, 2, 6, 6)
			b.conv("conv", "X", "c", 2, 2, []int{tc.k, tc.k}, 1, true, tc.cattrs...)
			pattrs := tc.pattrs
			if len(pattrs) == 0 || pattrs[0].Name != "kernel_shape" {
				pattrs = append([]*ir.Attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}, pattrs...)
			}
			b.node("pool", "AveragePool", "c", "Y", pattrs...)
			b.output("Y")
			if tc.second {
				b.node("sig", "Sigmoid", "c", "Z")
				b.output("Z")
			}
			opt, rep := optimize(t, b.g)
			if rep.Rules["PoolConv"] != 0 {
				t.Errorf("rules: %v, want no PoolConv", rep.Rules)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}
