package bnrun_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
)

// TestVerifyPeer checks the comparison with another runtime's outputs:
// Verify reports the peer's error beside bnrun's, and Tolerance.Peer
// passes an output out of tolerance only when the peer is at least as far
// from the golden (largest error and elements out of tolerance).
func TestVerifyPeer(t *testing.T) {
	x := []float32{-1, 0.5, 2, -3, 4, 0.25}
	y := []float32{0, 0.5, 2, 0, 4, 0.25} // Relu(x), what bnrun computes
	golden := slices.Clone(y)
	golden[2] += 1e-3 // bnrun: 1 element 1e-3 off
	for _, c := range []struct {
		name   string
		peer   []float32 // nil: no peer file
		passes bool      // with Peer set
	}{
		{"no peer", nil, false},
		{"peer further", []float32{0, 0.5, 2 - 1e-3, 0, 4, 0.25}, true}, // 2e-3 off
		{"peer as far", y, true},
		{"peer closer", golden, false},
		{"peer as far, elsewhere", []float32{0, 0.501, 2, 0, 4, 0.25}, true},
		{"peer with fewer bad elements and a smaller error", []float32{0, 0.5, 2 + 5e-4, 0, 4, 0.25}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			model := hOne([]int64{6}, hNode("r", "Relu", []string{"x"}, []string{"y"})).bytes()
			if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
				t.Fatal(err)
			}
			set := filepath.Join(dir, "test_data_set_0")
			files := map[string]hpb{"input_0.pb": hTensor("x", []int64{6}, x), "output_0.pb": hTensor("y", []int64{6}, golden)}
			if c.peer != nil {
				files["peer_output_0.pb"] = hTensor("y", []int64{6}, c.peer)
			}
			if err := os.Mkdir(set, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(set, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := bnrun.Open(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for _, peer := range []bool{false, true} {
				tol := bnrun.DefaultTolerance
				tol.Peer = peer
				res, err := m.Verify(context.Background(), dir, tol)
				if err != nil {
					t.Fatal(err)
				}
				cmp := res[0].Outputs[0]
				if cmp.Bad != 1 || math.Abs(cmp.MaxAbs-1e-3) > 1e-6 {
					t.Fatalf("bnrun's comparison: %v", cmp.String())
				}
				if (cmp.Peer != nil) != (c.peer != nil) {
					t.Fatalf("Peer = %v, want one only with a peer file", cmp.Peer)
				}
				if want := peer && c.passes; res[0].OK() != want {
					t.Errorf("Peer %v: OK() = %v, want %v (%s)", peer, res[0].OK(), want, cmp.String())
				}
				if c.peer != nil && !strings.Contains(cmp.String(), "| peer max_abs") {
					t.Errorf("String() does not report the peer: %s", cmp.String())
				}
			}
		})
	}
}
