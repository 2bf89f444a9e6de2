package bnrun_test

import (
	"context"
	"math"
	"testing"

	"github.com/bnrun/bnrun"
)

// TestEinsumAttention runs maxvit_t's attention as torch.onnx writes it
// (issue 15's matrix: the one op of torchvision's BatchNorm models bnrun
// lacked): scores = Einsum("B G H I D, B G H J D -> B G H I J", q, k),
// Softmax over J, then Einsum("B G H I J, B G H J D -> B G H I D", p, v),
// on every tier, against the same sums written out here in float64.
func TestEinsumAttention(t *testing.T) {
	const B, G, H, I, J, D = 1, 3, 2, 5, 6, 4
	w := hSeededWeights(15, 1000)
	eq := func(s string) hpb {
		return hpb{}.str(hAttrName, "equation").i(hAttrType, 3).str(hAttrS, s)
	}
	g := hGraph{
		nodes: []hpb{
			hNode("qk", "Einsum", []string{"x", "k"}, []string{"s"}, eq("B G H I D, B G H J D -> B G H I J")),
			hNode("sm", "Softmax", []string{"s"}, []string{"p"}, hInt("axis", -1)),
			hNode("pv", "Einsum", []string{"p", "v"}, []string{"y"}, eq("B G H I J, B G H J D -> B G H I D")),
		},
		inits: []hpb{w("k", B, G, H, J, D), w("v", B, G, H, J, D)},
		ins:   []hpb{hValue("x", B, G, H, I, D)},
		outs:  []hpb{hValue("y", B, G, H, I, D)},
	}
	// the same seeded values the initializers hold, then x's
	vals := func(seed, n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			seed = (seed*1103515245 + 12345) & 0x7fffffff
			v[i] = float32(seed%2001-1000) / 1000
		}
		return v
	}
	all := vals(15, 2*G*H*J*D+G*H*I*D)
	k, v, x := all[:G*H*J*D], all[G*H*J*D:2*G*H*J*D], all[2*G*H*J*D:]
	// y[g,h,i,:] = Σ_j softmax_j(Σ_d x[g,h,i,d]·k[g,h,j,d]) · v[g,h,j,:]
	want := make([]float64, G*H*I*D)
	for gh := range G * H {
		for i := range I {
			s := make([]float64, J)
			mx := math.Inf(-1)
			for j := range J {
				for d := range D {
					s[j] += float64(x[(gh*I+i)*D+d]) * float64(k[(gh*J+j)*D+d])
				}
				mx = max(mx, s[j])
			}
			var z float64
			for j := range J {
				s[j] = math.Exp(s[j] - mx)
				z += s[j]
			}
			for j := range J {
				for d := range D {
					want[(gh*I+i)*D+d] += s[j] / z * float64(v[(gh*J+j)*D+d])
				}
			}
		}
	}
	for _, backend := range []string{"ref", "generic", "auto"} {
		m, err := bnrun.OpenBytes(g.bytes(), bnrun.WithBackend(backend), bnrun.WithThreads(2))
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{"x": bnrun.NewTensor([]int{B, G, H, I, D}, x)})
		m.Close()
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		y := out["y"]
		if len(y.F32) != len(want) {
			t.Fatalf("%s: y has shape %v", backend, y.Shape)
		}
		for i, wv := range want {
			if math.Abs(float64(y.F32[i])-wv) > 1e-5 {
				t.Fatalf("%s: y[%d] = %v, want %v", backend, i, y.F32[i], wv)
			}
		}
	}
}
