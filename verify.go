package bnrun

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bnrun/bnrun/loader"
)

// Tolerance says when an output matches its golden: elementwise
// |y - g| <= Abs + Rel*|g|, where a NaN matches only a NaN and an infinity
// only the same infinity (Inf - Inf is NaN, so the formula alone would
// call equal infinities a mismatch).
type Tolerance struct {
	Abs, Rel float64
	// Peer, when set, also passes an output out of tolerance whose set
	// holds another runtime's outputs for the same inputs
	// (peer_output_K.pb, as bench/ort_outputs.js writes ONNX Runtime's)
	// that are at least as far from the golden: a largest error and a
	// count of elements out of tolerance each no smaller than bnrun's.
	// For models whose own float32 rounding puts every runtime past the
	// tolerance.
	Peer bool
}

// DefaultTolerance is what `bnrun verify` uses unless told otherwise.
var DefaultTolerance = Tolerance{Abs: 1e-4, Rel: 1e-4}

// Comparison reports how far one output is from its golden.
type Comparison struct {
	Output string
	// ShapeError is set when the types or shapes differ; nothing else is
	// then measured.
	ShapeError string
	// MaxAbs and MaxRel are the largest |y-g| and |y-g|/|g| (over g != 0).
	MaxAbs, MaxRel float64
	// Bad counts elements out of tolerance, of N.
	Bad, N int
	// FirstBad is the flat index of the first bad element, with its values.
	FirstBad          int
	FirstGot, FirstGo float64
	// Top1 counts rows (all dims but the last) whose argmax agrees, of Rows.
	Top1, Rows int
	// NaNs and Infs count the elements where output and golden are both
	// NaN, or the same infinity: taken as equal, and said so by String.
	NaNs, Infs int
	// Peer is the other runtime's output against the same golden, when
	// the set holds one (peer_output_K.pb); nil otherwise.
	Peer *Comparison
	// AsPeer is set when the output is out of tolerance but Tolerance.Peer
	// passed it: the peer's error is at least as large.
	AsPeer bool
}

// OK reports whether the output matched within tolerance.
func (c *Comparison) OK() bool { return c.ShapeError == "" && (c.Bad == 0 || c.AsPeer) }

// String summarises the comparison on one line.
func (c *Comparison) String() string {
	if c.ShapeError != "" {
		return c.ShapeError
	}
	s := fmt.Sprintf("max_abs %.3g  max_rel %.3g  top1 %d/%d", c.MaxAbs, c.MaxRel, c.Top1, c.Rows)
	if c.NaNs > 0 || c.Infs > 0 {
		s += fmt.Sprintf("  (%d NaN and %d infinite elements equal to the golden's, taken as matching)", c.NaNs, c.Infs)
	}
	if c.Bad > 0 {
		s += fmt.Sprintf("  %d of %d elements out of tolerance (first at %d: got %g, want %g)",
			c.Bad, c.N, c.FirstBad, c.FirstGot, c.FirstGo)
	}
	if p := c.Peer; p != nil {
		if p.ShapeError != "" {
			s += "  peer: " + p.ShapeError
		} else {
			s += fmt.Sprintf("  | peer max_abs %.3g  %d out of tolerance", p.MaxAbs, p.Bad)
		}
		if c.AsPeer {
			s += "  (as close as the peer)"
		}
	}
	return s
}

// Compare measures got against the golden want.
func Compare(got, want *Tensor, tol Tolerance) Comparison {
	var c Comparison
	if got.DType != want.DType || !sameShape(got.Shape, want.Shape) {
		c.ShapeError = fmt.Sprintf("got %s %v, golden is %s %v", got.DType, got.Shape, want.DType, want.Shape)
		return c
	}
	g, y := asFloat64(want), asFloat64(got)
	c.N = len(g)
	for i := range g {
		d := math.Abs(y[i] - g[i])
		bad := !(d <= tol.Abs+tol.Rel*math.Abs(g[i]))
		switch {
		case math.IsNaN(g[i]) || math.IsNaN(y[i]):
			// NaN matches NaN and nothing else.
			bad, d = math.IsNaN(g[i]) != math.IsNaN(y[i]), 0
			if !bad {
				c.NaNs++
			}
		case math.IsInf(g[i], 0) || math.IsInf(y[i], 0):
			// An infinity matches the same infinity and nothing else.
			bad, d = y[i] != g[i], 0
			if !bad {
				c.Infs++
			}
		}
		if bad && d == 0 {
			d = math.Inf(1)
		}
		c.MaxAbs = math.Max(c.MaxAbs, d)
		if g[i] != 0 {
			c.MaxRel = math.Max(c.MaxRel, d/math.Abs(g[i]))
		}
		if bad {
			if c.Bad == 0 {
				c.FirstBad, c.FirstGot, c.FirstGo = i, y[i], g[i]
			}
			c.Bad++
		}
	}
	if k := lastDim(want.Shape); k > 0 {
		c.Rows = len(g) / k
		for r := 0; r < c.Rows; r++ {
			if argmax(g[r*k:(r+1)*k]) == argmax(y[r*k:(r+1)*k]) {
				c.Top1++
			}
		}
	}
	return c
}

// SetResult is the outcome of one test_data_set_N folder.
type SetResult struct {
	Dir     string
	Outputs []Comparison
}

// OK reports whether every output of the set matched.
func (r *SetResult) OK() bool {
	for i := range r.Outputs {
		if !r.Outputs[i].OK() {
			return false
		}
	}
	return true
}

// Verify runs every test_data_set_* folder under dir (input_K.pb and
// output_K.pb files in the standard ONNX test layout) and compares the
// outputs. Tensors are matched to the model's inputs and outputs by the
// name stored in each file when it is one of them, else by position. A set
// may also hold another runtime's outputs for its inputs,
// peer_output_K.pb (bench/ort_outputs.js writes ONNX Runtime's): each
// Comparison then carries the peer's against the same golden (see
// Tolerance.Peer). An error means a set could not be run at all;
// mismatches are in the results.
func (m *Model) Verify(ctx context.Context, dir string, tol Tolerance) ([]SetResult, error) {
	sets, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("no test_data_set_* folders in %s", dir)
	}
	sort.Slice(sets, func(a, b int) bool {
		return suffixNumber(sets[a], "test_data_set_", "") < suffixNumber(sets[b], "test_data_set_", "")
	})
	var res []SetResult
	for _, set := range sets {
		r, err := m.verifySet(ctx, set, tol)
		if err != nil {
			return res, err
		}
		res = append(res, r)
	}
	return res, nil
}

func (m *Model) verifySet(ctx context.Context, set string, tol Tolerance) (SetResult, error) {
	r := SetResult{Dir: set}
	inNames, ins, err := readNumbered(set, "input")
	if err != nil {
		return r, err
	}
	outNames, golds, err := readNumbered(set, "output")
	if err != nil {
		return r, err
	}
	inputs, err := bindByName(m.inputs, inNames, ins, "input")
	if err != nil {
		return r, fmt.Errorf("%s: %w", set, err)
	}
	wants, err := bindByName(m.outputs, outNames, golds, "output")
	if err != nil {
		return r, fmt.Errorf("%s: %w", set, err)
	}
	// another runtime's outputs for the same inputs, when present
	var peers []*Tensor
	if peerNames, ps, err := readNumbered(set, "peer_output"); err != nil {
		return r, err
	} else if len(ps) > 0 {
		if peers, err = bindByName(m.outputs, peerNames, ps, "peer_output"); err != nil {
			return r, fmt.Errorf("%s: %w", set, err)
		}
	}
	got := make([]*Tensor, len(wants))
	if err := m.RunInto(ctx, inputs, got); err != nil {
		return r, fmt.Errorf("%s: %w", set, err)
	}
	for i, want := range wants {
		c := Compare(got[i], want, tol)
		c.Output = m.outputs[i].Name
		if peers != nil {
			p := Compare(peers[i], want, tol)
			p.Output = c.Output
			c.Peer = &p
			c.AsPeer = tol.Peer && c.ShapeError == "" && c.Bad > 0 && p.ShapeError == "" &&
				c.MaxAbs <= p.MaxAbs && c.Bad <= p.Bad
		}
		r.Outputs = append(r.Outputs, c)
	}
	return r, nil
}

// suffixNumber parses the number between prefix and suffix in a file's
// base name; files without one sort last.
func suffixNumber(path, prefix, suffix string) int {
	s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), prefix), suffix)
	n, err := strconv.Atoi(s)
	if err != nil {
		return math.MaxInt
	}
	return n
}

// readNumbered reads the prefix_K.pb files of a folder in order of K.
func readNumbered(dir, prefix string) ([]string, []*Tensor, error) {
	files, err := filepath.Glob(filepath.Join(dir, prefix+"_*.pb"))
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(files, func(a, b int) bool {
		return suffixNumber(files[a], prefix+"_", ".pb") < suffixNumber(files[b], prefix+"_", ".pb")
	})
	names := make([]string, len(files))
	ts := make([]*Tensor, len(files))
	for i, f := range files {
		names[i], ts[i], err = loader.ReadTensorFile(f) // errors name the file
		if err != nil {
			return nil, nil, err
		}
	}
	return names, ts, nil
}

// bindByName orders tensors as the declared infos: by stored name when it
// is one of them, else by position.
func bindByName(infos []TensorInfo, names []string, ts []*Tensor, what string) ([]*Tensor, error) {
	if len(ts) != len(infos) {
		return nil, fmt.Errorf("%d %s files, the model has %d %ss", len(ts), what, len(infos), what)
	}
	pos := map[string]int{}
	for i, n := range names {
		pos[n] = i
	}
	out := make([]*Tensor, len(infos))
	for i, info := range infos {
		j, ok := pos[info.Name]
		if !ok {
			j = i
		}
		out[i] = ts[j]
	}
	return out, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func lastDim(shape []int) int {
	if len(shape) == 0 {
		return 1
	}
	return shape[len(shape)-1]
}

func asFloat64(t *Tensor) []float64 {
	if t.DType == Int64 {
		out := make([]float64, len(t.I64))
		for i, v := range t.I64 {
			out[i] = float64(v)
		}
		return out
	}
	out := make([]float64, len(t.F32))
	for i, v := range t.F32 {
		out[i] = float64(v)
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
