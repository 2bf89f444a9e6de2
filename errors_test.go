package bnrun_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bnrun/bnrun"
)

// TestErrorsMatch checks that each kind of failure a program may want to
// handle is matched by its sentinel with errors.Is and carries its details
// for errors.As: unsupported operators and opsets at Open, the memory
// limit, a cancelled Run, a closed model. (Input errors: TestHostileRunInputs.)
func TestErrorsMatch(t *testing.T) {
	t.Run("unsupported operators", func(t *testing.T) {
		g := hGraph{
			nodes: []hpb{
				hNode("f1", "Frobnicate", []string{"x"}, []string{"a"}),
				hNode("q", "QuantizeLinear", []string{"a"}, []string{"b"}),
				hNode("f2", "Frobnicate", []string{"b"}, []string{"y"}),
			},
			ins: []hpb{hValue("x", 1, 4)}, outs: []hpb{hValue("y")},
		}
		_, err := bnrun.OpenBytes(g.bytes())
		var ue *bnrun.UnsupportedError
		if !errors.Is(err, bnrun.ErrUnsupported) || !errors.As(err, &ue) {
			t.Fatalf("error %v: want ErrUnsupported and an *UnsupportedError", err)
		}
		want := []bnrun.UnsupportedOp{{OpType: "Frobnicate", Nodes: []string{"f1", "f2"}}, {OpType: "QuantizeLinear", Nodes: []string{"q"}}}
		if !slices.EqualFunc(ue.Ops, want, func(a, b bnrun.UnsupportedOp) bool {
			return a.OpType == b.OpType && slices.Equal(a.Nodes, b.Nodes)
		}) {
			t.Errorf("Ops = %v, want %v", ue.Ops, want)
		}
	})
	t.Run("opset out of range", func(t *testing.T) {
		g := hOne([]int64{1, 4}, hNode("r", "Relu", []string{"x"}, []string{"y"}))
		g.opsets = []hpb{hOpset("", 99)}
		_, err := bnrun.OpenBytes(g.bytes())
		if !errors.Is(err, bnrun.ErrUnsupported) {
			t.Fatalf("error %v: want ErrUnsupported", err)
		}
		var ue *bnrun.UnsupportedError
		if errors.As(err, &ue) {
			t.Errorf("an opset error is not an *UnsupportedError (it lists operators): %v", err)
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		big, err := bnrun.OpenBytes(hOne([]int64{1, 1 << 16}, hNode("r", "Relu", []string{"x"}, []string{"y"})).bytes(),
			bnrun.WithMemoryLimits(1<<10, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		defer big.Close()
		if err := big.Prepare([]int{1, 1 << 16}); !errors.Is(err, bnrun.ErrMemoryLimit) {
			t.Fatalf("error %v: want ErrMemoryLimit", err)
		}
	})

	m, err := bnrun.OpenBytes(hOne([]int64{1, 4}, hNode("r", "Relu", []string{"x"}, []string{"y"})).bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("cancelled Run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := m.Run(ctx, map[string]*bnrun.Tensor{"x": hZeros(1, 4)})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v: want context.Canceled", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := m.Run(context.Background(), map[string]*bnrun.Tensor{"x": hZeros(1, 4)})
		if !errors.Is(err, bnrun.ErrClosed) {
			t.Fatalf("error %v: want ErrClosed", err)
		}
	})
}
