package bnrun_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// TestProfile checks Model.Profile on the shipped Fashion ResNet: every
// node that runs is listed once with its op and output shape, the
// multiply-accumulates add up to Stats', the shares to at most the whole
// Run, and every node with multiply-accumulates names its kernel.
func TestProfile(t *testing.T) {
	m, in := openWithInput(t, "models/fashion/fashion_resnet/model.onnx", 2, bnrun.WithThreads(2))
	defer m.Close()
	pr, err := m.Profile(context.Background(), in, 3)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats(2)
	if err != nil {
		t.Fatal(err)
	}
	var macs int64
	var share float64
	names := map[string]bool{}
	for _, n := range pr.Nodes {
		if n.Node == "" || n.Op == "" || n.Shape == nil || n.Time < 0 {
			t.Errorf("incomplete node entry %+v", n)
		}
		if names[n.Node] {
			t.Errorf("node %s listed twice", n.Node)
		}
		names[n.Node] = true
		if n.MACs > 0 && !strings.HasPrefix(n.Kernel, m.Backend()+" ") {
			t.Errorf("node %s (%s): kernel %q, want the tier %s and its path", n.Node, n.Op, n.Kernel, m.Backend())
		}
		macs += n.MACs
		share += n.Share
	}
	if macs != st.TotalMACs {
		t.Errorf("profile counts %d MACs, Stats %d", macs, st.TotalMACs)
	}
	if len(pr.Nodes) < 10 || share <= 0 || share > 1.0001 {
		t.Errorf("%d nodes, shares adding up to %v", len(pr.Nodes), share)
	}
	var ops int
	for _, o := range pr.ByOp() {
		ops += o.Count
	}
	if ops != len(pr.Nodes) {
		t.Errorf("per-op sums count %d nodes, the profile %d", ops, len(pr.Nodes))
	}
	m.Close()
	if _, err := m.Profile(context.Background(), in, 1); err == nil {
		t.Error("Profile after Close succeeded")
	}
}

// TestConvTransposeCounted checks that a ConvTranspose's multiply-
// accumulates are counted (each input value meets M·KH·KW weights) and
// its profile names the tier and path.
func TestConvTransposeCounted(t *testing.T) {
	// x [1,3,5,5], W [3,4,3,3], stride 2: y [1,4,11,11]
	model := hOne([]int64{1, 3, 5, 5}, hNode("up", "ConvTranspose", []string{"x", "w"}, []string{"y"},
		hInts("strides", 2, 2)), hTensor("w", []int64{3, 4, 3, 3}, nil)).bytes()
	for _, tier := range kern.TierNames() {
		m, err := bnrun.OpenBytes(model, bnrun.WithBackend(tier))
		if err != nil {
			t.Fatal(err)
		}
		st, err := m.Stats(1)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1 * 3 * 5 * 5 * 4 * 3 * 3); st.TotalMACs != want {
			t.Errorf("%s: Stats counts %d MACs, want %d", tier, st.TotalMACs, want)
		}
		pr, err := m.Profile(context.Background(), []*bnrun.Tensor{bnrun.NewTensor([]int{1, 3, 5, 5}, nil)}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := pr.Nodes[0]; n.MACs != st.TotalMACs || !strings.HasPrefix(n.Kernel, tier+" ") {
			t.Errorf("%s: profile MACs %d, kernel %q", tier, n.MACs, n.Kernel)
		}
		m.Close()
	}
}

// TestStepKernels: the kernels Inspect names without running are the ones
// a profile reports, node for node (the DenseNet's batch runs image by
// image, through its batch-1 plan), and so are the MACs.
func TestStepKernels(t *testing.T) {
	for _, path := range []string{"models/fashion/fashion_resnet/model.onnx", "models/fashion/fashion_densenet/model.onnx"} {
		m, in := openWithInput(t, path, 2, bnrun.WithThreads(1))
		pr, err := m.Profile(context.Background(), in, 1)
		if err != nil {
			t.Fatal(err)
		}
		insp, err := m.Inspect(in[0].Shape)
		if err != nil {
			t.Fatal(err)
		}
		byName, macs := map[string]string{}, map[string]int64{}
		for _, n := range insp.Nodes {
			if n.Kernel != "" {
				byName[n.Name] = n.Kernel
			}
			macs[n.Name] = n.MACs
		}
		named := 0
		for _, n := range pr.Nodes {
			if byName[n.Node] != n.Kernel {
				t.Errorf("%s: node %s: Inspect %q, profile %q", path, n.Node, byName[n.Node], n.Kernel)
			}
			if macs[n.Node] != n.MACs {
				t.Errorf("%s: node %s: Inspect %d MACs, profile %d", path, n.Node, macs[n.Node], n.MACs)
			}
			if n.Kernel != "" {
				named++
			}
		}
		if named < 5 || named != len(byName) {
			t.Errorf("%s: %d kernels named by the profile, %d by Inspect", path, named, len(byName))
		}
		m.Close()
	}
}
