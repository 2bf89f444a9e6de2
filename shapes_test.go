package bnrun

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/loader"
)

// TestShapesWith sets testdata/dynamic's [batch,3,height,width] input
// from names and INPUT:AXIS keys, gives the batch axis the batch, and
// refuses unknown names (listing the dynamic dims), sizes below 1, and
// dynamic dims left without a size.
func TestShapesWith(t *testing.T) {
	g, err := loader.LoadFile("testdata/dynamic/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newModel(context.Background(), g, &config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dyn := m.DynamicDims()
	if len(dyn) != 3 || dyn[0].String() != "batch (input:0)" || dyn[2].Key() != "width" {
		t.Fatalf("dynamic dims %v", dyn)
	}
	for _, c := range []struct {
		dims  map[string]int
		batch int
		want  []int
	}{
		{map[string]int{"height": 10, "width": 12}, 2, []int{2, 3, 10, 12}},
		{map[string]int{"input:2": 7, "width": 9}, 1, []int{1, 3, 7, 9}},
		{map[string]int{"batch": 5, "height": 4, "input:3": 6}, 1, []int{5, 3, 4, 6}},
	} {
		s, err := m.ShapesWith(c.dims, c.batch)
		if err != nil || len(s) != 1 || !slices.Equal(s[0], c.want) {
			t.Errorf("%v batch %d: %v %v, want %v", c.dims, c.batch, s, err, c.want)
		}
	}
	for _, c := range []struct {
		dims map[string]int
		want string
	}{
		{map[string]int{"height": 10, "depth": 3}, `no dynamic dim "depth"; its dynamic dims: batch (input:0), height (input:2), width (input:3)`},
		{map[string]int{"input:1": 3}, `no dynamic dim "input:1"`},
		{map[string]int{"height": 0, "width": 3}, "height = 0: a size must be at least 1"},
		{map[string]int{"height": 10}, `input "input": dim width (input:3) is dynamic and no size was given for it`},
		{nil, "dim height (input:2) is dynamic"},
	} {
		_, err := m.ShapesWith(c.dims, 1)
		if !errors.Is(err, ErrInputShape) || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want ErrInputShape with %q", c.dims, err, c.want)
		}
	}
	st, err := m.StatsFor([]int{2, 3, 10, 12})
	if err != nil {
		t.Fatal(err)
	}
	// conv 3→4 3×3 at 10×12, conv 4→8 3×3 stride 2 at 5×6, Gemm 8→5; batch 2
	if want := int64(2 * (4*10*12*27 + 8*5*6*36 + 8*5)); st.TotalMACs != want || st.Batch != 2 {
		t.Errorf("StatsFor: %d MACs at batch %d, want %d at 2", st.TotalMACs, st.Batch, want)
	}

	// A dim without a name is keyed by INPUT:AXIS.
	g, err = loader.LoadFile("testdata/dynamic/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	g.Inputs[0].Dims[3].Param = ""
	m2, err := newModel(context.Background(), g, &config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if dyn := m2.DynamicDims(); len(dyn) != 3 || dyn[2].Key() != "input:3" || dyn[2].String() != "input:3" {
		t.Fatalf("unnamed: %v", dyn)
	}
	s, err := m2.ShapesWith(map[string]int{"height": 8, "input:3": 11}, 3)
	if err != nil || !slices.Equal(s[0], []int{3, 3, 8, 11}) {
		t.Errorf("unnamed: %v %v", s, err)
	}
}
