package bnrun_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// pathNet is a model built here whose convolutions take every path of the
// blocked tiers at one size or another: on an input [N, 16, H, W] (all
// three dynamic), a 3×3 convolution (Winograd on large planes, pixel
// tiles on small ones), an inverted residual block (1×1, depthwise 3×3,
// 1×1, which the optimisation pass makes one bnrun.DwBlock), a strided
// 3×3, a grouped 3×3, a 5×5 of 256 channels, a 1×1, global pooling, a 1×1
// on the pooled plane (a matrix-vector product up to batch 4) and a Gemm;
// each convolution but the block's last with a BatchNormalization and a
// Relu. About 2.3 MB of weights. With hw > 0 the input's H and W are that
// size, not dynamic.
func pathNet(hw int64) []byte {
	weights := hSeededWeights(7, 20000)
	var g hGraph
	bn := func(name, in, out string, c int64) {
		ones := make([]float32, c)
		for i := range ones {
			ones[i] = 1 + float32(i%5)/10
		}
		g.inits = append(g.inits, weights(name+".s", c), weights(name+".b", c), weights(name+".m", c), hTensor(name+".v", []int64{c}, ones))
		g.nodes = append(g.nodes, hNode(name, "BatchNormalization", []string{in, name + ".s", name + ".b", name + ".m", name + ".v"}, []string{out}))
	}
	conv := func(name, in, out string, cin, cout, k, stride, group int64, relu bool) {
		p := (k - 1) / 2
		g.inits = append(g.inits, weights(name+".w", cout, cin/group, k, k))
		g.nodes = append(g.nodes, hNode(name, "Conv", []string{in, name + ".w"}, []string{name + ".c"},
			hInts("pads", p, p, p, p), hInts("strides", stride, stride), hInt("group", group)))
		if !relu {
			bn(name+".bn", name+".c", out, cout)
			return
		}
		bn(name+".bn", name+".c", name+".n", cout)
		g.nodes = append(g.nodes, hNode(name+".relu", "Relu", []string{name + ".n"}, []string{out}))
	}
	conv("c0", "x", "h0", 16, 32, 3, 1, 1, true)
	conv("e", "h0", "e", 32, 96, 1, 1, 1, true)
	conv("d", "e", "d", 96, 96, 3, 1, 96, true)
	conv("p", "d", "p", 96, 32, 1, 1, 1, false)
	g.nodes = append(g.nodes, hNode("res", "Add", []string{"p", "h0"}, []string{"h1"}))
	conv("c1", "h1", "h2", 32, 64, 3, 2, 1, true)
	conv("c2", "h2", "h3", 64, 64, 3, 1, 4, true)
	conv("c3", "h3", "h4", 64, 256, 5, 1, 1, true)
	conv("c4", "h4", "h5", 256, 128, 1, 1, 1, true)
	g.nodes = append(g.nodes, hNode("gap", "GlobalAveragePool", []string{"h5"}, []string{"g"}))
	conv("c5", "g", "h6", 128, 96, 1, 1, 1, true)
	g.inits = append(g.inits, weights("fc.w", 10, 96), weights("fc.b", 10))
	g.nodes = append(g.nodes, hNode("flat", "Flatten", []string{"h6"}, []string{"f"}),
		hNode("fc", "Gemm", []string{"f", "fc.w", "fc.b"}, []string{"y"}, hInt("transB", 1)))
	shape := hpb{}
	for i, d := range []string{"N", "", "H", "W"} {
		switch {
		case d == "":
			shape = shape.msg(1, hpb{}.i(1, 16))
		case i >= 2 && hw > 0:
			shape = shape.msg(1, hpb{}.i(1, hw))
		default:
			shape = shape.msg(1, hpb{}.str(2, d))
		}
	}
	g.ins = []hpb{hpb{}.str(1, "x").msg(2, hpb{}.msg(1, hpb{}.i(1, hFloat).msg(2, shape)))}
	g.outs = []hpb{hValue("y")}
	return g.bytes()
}

// pathShapes are the input shapes TestHeldWeightsAcrossShapes runs
// pathNet at, in order: batch sizes on both sides of the matrix-vector
// path's 4, planes from 1×1 to 60×57 (the inverted residual block in one
// pass from 56×56 on), shapes seen before coming back.
var pathShapes = [][]int{{1, 16, 32, 32}, {3, 16, 9, 11}, {8, 16, 32, 32}, {2, 16, 40, 36}, {1, 16, 5, 5},
	{5, 16, 1, 1}, {1, 16, 60, 57}, {4, 16, 17, 23}, {1, 16, 32, 32}, {8, 16, 9, 11}, {3, 16, 5, 5}, {2, 16, 56, 56}}

// pathInput is pathNet's input of the given shape.
func pathInput(shape []int) map[string]*bnrun.Tensor {
	x := bnrun.NewTensor(shape, nil)
	for i := range x.F32 {
		x.F32[i] = float32((i*37)%101)/101 - 0.3
	}
	return map[string]*bnrun.Tensor{"x": x}
}

// TestHeldWeightsAcrossShapes runs pathNet on every tier at batch sizes
// and input sizes whose plans take different convolution paths, in turn
// and then at once, with the weights held by the convolutions and Gemms
// (their plain values let go once packed exactly, got back from the pack
// when a plan needs them or another form) and with every weight kept as
// the graph has it: the outputs must be the same bit for bit. On the tiers
// that pack, the model holds at most an eighth of its weights as they are;
// after Close a Run fails with ErrClosed.
func TestHeldWeightsAcrossShapes(t *testing.T) {
	model := pathNet(0)
	ctx := context.Background()
	for _, backend := range kern.TierNames() {
		if backend == "ref" {
			continue
		}
		t.Run(backend, func(t *testing.T) {
			opts := []bnrun.Option{bnrun.WithBackend(backend), bnrun.WithThreads(2)}
			want := make([][]float32, len(pathShapes))
			// runKept runs every shape with the weights kept
			runKept := func() {
				kept, err := bnrun.OpenBytes(model, append(opts, bnrun.WithKeptWeights())...)
				if err != nil {
					t.Fatal(err)
				}
				for i, s := range pathShapes {
					out, err := kept.Run(ctx, pathInput(s))
					if err != nil {
						t.Fatalf("kept, %v: %v", s, err)
					}
					want[i] = out["y"].F32
				}
				kept.Close()
			}
			runKept()

			held, err := bnrun.OpenBytes(model, opts...)
			if err != nil {
				t.Fatal(err)
			}
			paths := map[string]bool{}
			check := func(round int, i int) error {
				out, err := held.Run(ctx, pathInput(pathShapes[i]))
				if err != nil {
					return err
				}
				for j, w := range want[i] {
					if g := out["y"].F32[j]; math.Float32bits(g) != math.Float32bits(w) {
						return fmt.Errorf("round %d, %v: output %d = %v, with the weights kept %v", round, pathShapes[i], j, g, w)
					}
				}
				return nil
			}
			for i, s := range pathShapes {
				if err := check(0, i); err != nil {
					t.Fatal(err)
				}
				insp, err := held.Inspect(s)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range insp.Nodes {
					if strings.Contains(n.Op, "Conv") || strings.Contains(n.Op, "DwBlock") {
						paths[strings.TrimPrefix(n.Kernel, backend+" ")] = true
					}
				}
			}
			st, err := held.Stats(1)
			if err != nil {
				t.Fatal(err)
			}
			weights := 4 * st.ParamsOptimised
			plain, packed := bnrun.HeldWeightBytes(held)
			t.Logf("%s: paths %v; weights %d KiB, held %d KiB as they are, %d KiB packed", backend, paths, weights>>10, plain>>10, packed>>10)
			if backend != "generic" {
				// the block in one pass, or (AVX-512, with planes for its
				// depthwise layer) its layers in bands of rows
				for _, p := range []string{"winograd", "matrix-vector", "pixel tiles, pixel-major", "in place", "one pass|bands of rows: in place"} {
					took := false
					for _, alt := range strings.Split(p, "|") {
						for q := range paths {
							took = took || q == alt || strings.HasPrefix(alt, "bands of rows") && strings.HasPrefix(q, alt)
						}
					}
					if !took {
						t.Errorf("no convolution took the path %q (took %v)", p, paths)
					}
				}
				// the 1×1 convolutions that a matrix-vector product takes
				// at batch 4 and below (1536 KiB of 1936 are the 5×5's)
				if plain > weights/8 || packed < weights-weights/16 {
					t.Errorf("%d bytes of the %d of weights held as they are and %d packed, want at most an eighth as they are, all packed",
						plain, weights, packed)
				}
			} else if plain < weights-weights/16 {
				t.Errorf("%d bytes of the %d of weights held as they are on a tier that packs none, want them all", plain, weights)
			}

			// every shape at once, twice, on a model that packs meanwhile
			held, err = bnrun.OpenBytes(model, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2*len(pathShapes))
			for round := 1; round <= 2; round++ {
				for i := range pathShapes {
					wg.Go(func() {
						if err := check(round, i); err != nil {
							errs <- err
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err := held.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := held.Run(ctx, pathInput(pathShapes[0])); !errors.Is(err, bnrun.ErrClosed) {
				t.Errorf("Run after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestHeldWeightsProbedShapes runs pathNet with its planes fixed at 32×32
// (the batch alone dynamic) and dynamic at batch sizes 1, 5, 8 and 2 on
// 32×32: every probe of the fixed model gives its first convolution one
// shape but for the batch, which on a tier that takes Winograd there then
// holds its weights only as Winograd's transform, where the dynamic
// model's keeps them as they are too; both bit for bit as a model that
// keeps its weights.
func TestHeldWeightsProbedShapes(t *testing.T) {
	ctx := context.Background()
	for _, backend := range kern.TierNames() {
		if backend == "ref" || backend == "generic" {
			continue
		}
		var plains [2]int64
		for i, hw := range []int64{0, 32} {
			opts := []bnrun.Option{bnrun.WithBackend(backend), bnrun.WithThreads(2)}
			kept, err := bnrun.OpenBytes(pathNet(hw), append(opts, bnrun.WithKeptWeights())...)
			if err != nil {
				t.Fatal(err)
			}
			held, err := bnrun.OpenBytes(pathNet(hw), opts...)
			if err != nil {
				t.Fatal(err)
			}
			winograd := false
			for _, n := range []int{1, 5, 8, 2} {
				shape := []int{n, 16, 32, 32}
				want, err := kept.Run(ctx, pathInput(shape))
				if err != nil {
					t.Fatal(err)
				}
				got, err := held.Run(ctx, pathInput(shape))
				if err != nil {
					t.Fatalf("%s, planes %d, batch %d: %v", backend, hw, n, err)
				}
				for j, w := range want["y"].F32 {
					if g := got["y"].F32[j]; math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("%s, planes %d, batch %d: output %d = %v, with the weights kept %v", backend, hw, n, j, g, w)
					}
				}
				insp, err := held.Inspect(shape)
				if err != nil {
					t.Fatal(err)
				}
				for _, nd := range insp.Nodes {
					winograd = winograd || strings.HasSuffix(nd.Kernel, "winograd")
				}
			}
			plains[i], _ = bnrun.HeldWeightBytes(held)
			kept.Close()
			held.Close()
			if !winograd {
				t.Fatalf("%s: no convolution took Winograd", backend)
			}
		}
		// c0's 32·16·3·3 weights, Winograd's on both
		t.Logf("%s: %d bytes held as they are with dynamic planes, %d with fixed ones", backend, plains[0], plains[1])
		if plains[1] > plains[0]-4*32*16*9 {
			t.Errorf("%s: %d bytes held as they are with fixed planes, %d with dynamic ones: want the first convolution's 18 KiB less", backend, plains[1], plains[0])
		}
	}
}
