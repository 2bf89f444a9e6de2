package bnrun

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/npy"
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
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
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

// SetResult is the outcome of one test set.
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

// NamedTensor is a tensor of a test set with the name its file stores
// ("" for a .npy file, which stores none).
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

// GoldenSet is one test case: inputs, the outputs they should give, and
// optionally another runtime's outputs for the same inputs (Peers).
// Tensors are matched to the model's inputs and outputs by name where
// the name is one of them, the others by position.
type GoldenSet struct {
	Dir                    string // the folder it was read from, or the first file's name
	Inputs, Outputs, Peers []NamedTensor
}

// Verify runs every test set under dir (see GoldenSetDirs) and compares
// the outputs with the goldens (see VerifySet). A set may also hold
// another runtime's outputs for its inputs, peer_output_K.pb
// (bench/ort_outputs.js writes ONNX Runtime's): each Comparison then
// carries the peer's against the same golden (see Tolerance.Peer). An
// error means a set could not be read or run at all; mismatches are in the
// results.
func (m *Model) Verify(ctx context.Context, dir string, tol Tolerance) ([]SetResult, error) {
	sets, err := GoldenSetDirs(dir)
	if err != nil {
		return nil, err
	}
	var res []SetResult
	for _, d := range sets {
		set, err := ReadGoldenSet(d)
		if err != nil {
			return res, err
		}
		r, err := m.VerifySet(ctx, set, tol)
		if err != nil {
			return res, err
		}
		res = append(res, r)
	}
	return res, nil
}

// GoldenSetDirs returns the test_data_set_N folders under dir in order
// of N (the standard ONNX test layout), or dir itself when it has none but
// holds an input_0.pb or input_0.npy file.
func GoldenSetDirs(dir string) ([]string, error) {
	sets, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		for _, ext := range tensorExts {
			if st, err := os.Stat(filepath.Join(dir, "input_0"+ext)); err == nil && st.Mode().IsRegular() {
				return []string{dir}, nil
			}
		}
		return nil, fmt.Errorf("no test_data_set_* folders, nor input_0.pb or input_0.npy, in %s", dir)
	}
	sort.Slice(sets, func(a, b int) bool {
		return suffixNumber(sets[a], "test_data_set_", "") < suffixNumber(sets[b], "test_data_set_", "")
	})
	return sets, nil
}

// tensorExts are the file types a test set's tensors come in: ONNX
// TensorProto (.pb) and NumPy arrays (.npy).
var tensorExts = []string{".pb", ".npy"}

// ReadGoldenSet reads a test set folder: input_K and output_K files, and
// peer_output_K ones where another runtime's outputs are kept, each a
// TensorProto (.pb) or a NumPy array (.npy, float32 or int64; float64
// and int32 are converted), in order of K. Errors name the file.
func ReadGoldenSet(dir string) (*GoldenSet, error) {
	set := &GoldenSet{Dir: dir}
	var err error
	if set.Inputs, err = readNumbered(dir, "input"); err != nil {
		return nil, err
	}
	if set.Outputs, err = readNumbered(dir, "output"); err != nil {
		return nil, err
	}
	if set.Peers, err = readNumbered(dir, "peer_output"); err != nil {
		return nil, err
	}
	return set, nil
}

// ReadGoldenFiles makes a test set of input and output files: TensorProto
// (.pb), NumPy (.npy) or NumPy archives (.npz, every array of which is one
// tensor, named by its key), in order.
func ReadGoldenFiles(inputs, outputs []string) (*GoldenSet, error) {
	set := &GoldenSet{}
	if len(inputs) > 0 {
		set.Dir = inputs[0]
	}
	for _, f := range inputs {
		ts, err := readTensorFile(f, true)
		if err != nil {
			return nil, err
		}
		set.Inputs = append(set.Inputs, ts...)
	}
	for _, f := range outputs {
		ts, err := readTensorFile(f, true)
		if err != nil {
			return nil, err
		}
		set.Outputs = append(set.Outputs, ts...)
	}
	return set, nil
}

// readTensorFile reads a .pb or .npy file (and, when archives is set, an
// .npz one) by its extension.
func readTensorFile(path string, archives bool) ([]NamedTensor, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case ext == ".npy":
		t, err := npy.ReadFile(path, npy.DefaultMaxBytes)
		if err != nil {
			return nil, err
		}
		return []NamedTensor{{Tensor: t}}, nil
	case ext == ".npz" && archives:
		arrs, err := npy.ReadNPZ(path, npy.DefaultMaxBytes)
		if err != nil {
			return nil, err
		}
		out := make([]NamedTensor, len(arrs))
		for i, a := range arrs {
			out[i] = NamedTensor{Name: a.Name, Tensor: a.Tensor}
		}
		return out, nil
	case ext == ".pb":
		name, t, err := loader.ReadTensorFile(path) // errors name the file
		if err != nil {
			return nil, err
		}
		return []NamedTensor{{Name: name, Tensor: t}}, nil
	}
	return nil, fmt.Errorf("%s: want a .pb (TensorProto), .npy or .npz file", path)
}

// InputsFor returns the set's inputs in the order of the model's: a
// tensor whose stored name is one of the model's inputs goes to it, the
// others fill the remaining inputs in order.
func (set *GoldenSet) InputsFor(m *Model) ([]*Tensor, error) {
	inputs, err := bindByName(m.inputs, set.Inputs, "input")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", set.Dir, err)
	}
	return inputs, nil
}

// VerifySet runs the model on the set's inputs and compares its outputs
// with the set's goldens, and the set's peer outputs (when it has them)
// with the same goldens. An error means the set does not fit the model
// (a count of tensors) or could not be run; mismatches are in the result.
func (m *Model) VerifySet(ctx context.Context, set *GoldenSet, tol Tolerance) (SetResult, error) {
	r := SetResult{Dir: set.Dir}
	inputs, err := set.InputsFor(m)
	if err != nil {
		return r, err
	}
	wants, err := bindByName(m.outputs, set.Outputs, "output")
	if err != nil {
		return r, fmt.Errorf("%s: %w", set.Dir, err)
	}
	// another runtime's outputs for the same inputs, when present
	var peers []*Tensor
	if len(set.Peers) > 0 {
		if peers, err = bindByName(m.outputs, set.Peers, "peer_output"); err != nil {
			return r, fmt.Errorf("%s: %w", set.Dir, err)
		}
	}
	got := make([]*Tensor, len(wants))
	if err := m.RunInto(ctx, inputs, got); err != nil {
		return r, fmt.Errorf("%s: %w", set.Dir, err)
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

// readNumbered reads the prefix_K.pb and prefix_K.npy files of a folder in
// order of K; one K in both forms is an error.
func readNumbered(dir, prefix string) ([]NamedTensor, error) {
	type file struct {
		path string
		k    int
	}
	var files []file
	seen := map[int]string{}
	for _, ext := range tensorExts {
		paths, err := filepath.Glob(filepath.Join(dir, prefix+"_*"+ext))
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			k := suffixNumber(p, prefix+"_", ext)
			if k == math.MaxInt {
				continue // peer_output_0.pb is no output_K file
			}
			if other, ok := seen[k]; ok {
				return nil, fmt.Errorf("%s: both %s and %s", dir, filepath.Base(other), filepath.Base(p))
			}
			seen[k] = p
			files = append(files, file{p, k})
		}
	}
	sort.Slice(files, func(a, b int) bool { return files[a].k < files[b].k })
	var out []NamedTensor
	for _, f := range files {
		ts, err := readTensorFile(f.path, false)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// bindByName orders tensors as the declared infos: those whose stored
// name is one of the infos' go to it, the rest fill the other infos in
// order.
func bindByName(infos []TensorInfo, ts []NamedTensor, what string) ([]*Tensor, error) {
	if len(ts) != len(infos) {
		return nil, fmt.Errorf("%d %s tensors, the model has %d %ss", len(ts), what, len(infos), what)
	}
	out := make([]*Tensor, len(infos))
	used := make([]bool, len(ts))
	for i, info := range infos {
		for j, t := range ts {
			if !used[j] && t.Name == info.Name {
				out[i], used[j] = t.Tensor, true
				break
			}
		}
	}
	j := 0
	for i := range infos {
		if out[i] != nil {
			continue
		}
		for used[j] {
			j++
		}
		out[i], used[j] = ts[j].Tensor, true
	}
	return out, nil
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
