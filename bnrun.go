// Package bnrun runs ONNX convolutional networks with BatchNormalization —
// the ResNet and DenseNet families and their relatives, as PyTorch exports
// them — in pure Go.
//
// Open a model once and call Run from as many goroutines as you like:
//
//	m, err := bnrun.Open("model.onnx")
//	if err != nil { ... }
//	defer m.Close()
//	x := bnrun.NewTensor([]int{1, 3, 224, 224}, pixels)
//	out, err := m.Run(ctx, map[string]*bnrun.Tensor{m.Inputs()[0].Name: x})
//
// A model is planned once per distinct set of input shapes (a dynamic batch
// axis gets one plan per batch size); after the first Run for a shape, Run
// reuses pooled intermediate memory. Prepare plans ahead; Inspect shows
// what the optimisation pass did and what runs at a shape.
//
// Errors name the node, op, input or tensor at fault, and match the
// sentinels below (ErrInputShape, ErrUnsupported, ErrMemoryLimit,
// ErrClosed, ...) with errors.Is, and InputError or UnsupportedError with
// errors.As. Package vision decodes and preprocesses images for image
// models.
//
// The root package owns the public API and ties the rest together: loader
// (file to ir.Graph), fold (the optimisation pass), runtime (plans and
// runs), with ir, ops, kern and npy beneath them. Its Tensor and DType are
// package ir's. It must not import vision or the command, which import it.
package bnrun

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/bnrun/bnrun/fold"
	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/runtime"
)

// Tensor is a dense row-major tensor of float32 (F32) or int64 (I64) data.
type Tensor = ir.Tensor

// DType is a tensor element type.
type DType = ir.DType

// The element types a model's inputs and outputs can have.
const (
	Float32 = ir.Float32
	Int64   = ir.Int64
)

// NewTensor returns a float32 tensor that uses data (allocated zeroed when
// nil) as its storage.
func NewTensor(shape []int, data []float32) *Tensor { return ir.NewF32(shape, data) }

// TensorInfo describes a model input or output.
type TensorInfo struct {
	Name  string
	DType DType
	// Shape holds the declared dims; -1 marks a dynamic one (nil: not
	// declared at all).
	Shape []int
	// DimNames holds the names of symbolic dims ("batch"), "" for fixed ones.
	DimNames []string
}

// String formats the info as name: dtype [dims].
func (ti TensorInfo) String() string {
	dims := make([]ir.Dim, len(ti.Shape))
	for i, d := range ti.Shape {
		dims[i] = ir.Dim{Value: d, Param: ti.DimNames[i]}
	}
	return fmt.Sprintf("%s: %s %s", ti.Name, ti.DType, runtime.DimsString(dims))
}

type config struct {
	backend   string
	threads   int
	noFold    bool
	maxTensor int64
	maxTotal  int64
	maxPlans  int
	// winograd: 1 with Winograd on every layer it fits (WithWinograd), -1
	// the CPU tier's variant without (WithoutWinograd), 0 the tier's
	// choice
	winograd int8
	// accurate: the CPU tier's accurate variant (kern.Tier.Accurate), as
	// WithAccurate asks and a model with a per-pixel output (see
	// perPixel) takes unless WithWinograd
	accurate bool
	// keepWeights: the program keeps every weight as the graph has it
	// (not runtime.Options.HoldWeights), for tests
	keepWeights bool
}

// Option configures Open.
type Option func(*config) error

// WithBackend selects the kernel tier by name: "auto" (the default: an
// NVIDIA GPU when one is usable and every op of the model has a CUDA
// kernel, else the fastest CPU tier this machine runs), "cuda" (the GPU,
// or an error from Open when none is usable or an op has no CUDA kernel),
// "avx512" or "avx2" (x86-64 assembly, where the CPU has
// it), "generic" (portable Go) or "ref" (the plain reference kernels,
// slow, for checking). Without this option the environment variable
// BNRUN_BACKEND, when set, chooses.
func WithBackend(name string) Option {
	return func(c *config) error {
		if err := checkBackend(name); err != nil {
			return err
		}
		c.backend = name
		return nil
	}
}

// BackendEnv is the environment variable that chooses the kernel tier
// when WithBackend is not given (or is given "").
const BackendEnv = "BNRUN_BACKEND"

// knownBackends are the tier names bnrun has on some machine.
var knownBackends = []string{"auto", "cuda", "avx512", "avx2", "generic", "ref"}

// checkBackend reports whether backend name can run here ("cuda" is
// checked when Open looks for the GPU).
func checkBackend(name string) error {
	if name == "" || name == "auto" || name == "cuda" || kern.TierByName(name) != nil {
		return nil
	}
	have := "auto, cuda, " + strings.Join(kern.TierNames(), ", ")
	if slices.Contains(knownBackends, name) {
		return fmt.Errorf("backend %q is not available on this machine (have: %s)", name, have)
	}
	return fmt.Errorf("unknown backend %q (have: %s)", name, have)
}

// WithThreads sets how many goroutines a Run's kernels split work across;
// n < 1 means one per CPU (the default). A count above
// runtime.MaxThreads() (max(64, 4·NumCPU)) is clamped to it, since
// workers beyond the cores only cost memory and scheduling; Model.Threads
// returns the count the model got.
func WithThreads(n int) Option {
	return func(c *config) error { c.threads = n; return nil }
}

// WithoutWinograd computes every 3×3 convolution as a direct product,
// never with Winograd's F(4×4, 3×3). Winograd makes ResNet's and
// DenseNet's 3×3 layers up to twice as fast, with a larger rounding error
// (per layer about twice the direct product's against float64 sums, ONNX
// Runtime's being the direct product's), which grows through the layers
// after it: ResNet-50's scores (224×224, against the graph in float64)
// have 1.54 times ONNX Runtime's rms error with it and 1.03 times without,
// at 1.19 times the time on one thread. A segmentation net's per-pixel
// scores keep it too. Where that matters, WithAccurate is the better
// trade: smaller errors than either, at less cost than WithoutWinograd
// on ResNets. Without WithWinograd, WithoutWinograd or WithAccurate, Open
// takes the accurate variant for a model with a per-pixel output (an
// output the file declares of rank 3 or more whose axes after the second
// are not all 1) and Winograd on every layer it fits otherwise;
// Model.Winograd says whether any layer may take it.
func WithoutWinograd() Option {
	return func(c *config) error { c.winograd = -1; return nil }
}

// WithWinograd computes 3×3 convolutions with Winograd's F(4×4, 3×3) on
// every layer it fits where the CPU tier has it, also for a model with a
// per-pixel output, for which Open otherwise takes the accurate variant
// (see WithAccurate): faster, with the larger rounding error. It
// contradicts WithAccurate.
func WithWinograd() Option {
	return func(c *config) error { c.winograd = 1; return nil }
}

// WithAccurate computes on the CPU tier's accurate variant
// (kern.Tier.Accurate), which Open takes by itself for a model with a
// per-pixel output: every convolution's depth summed in shorter blocks
// (about 3·√K multiply-adds instead of up to 128 or 256), and Winograd
// only for layers on at least 256 input channels, which come after the
// first stages, where its error would grow through the most layers. For
// a deep classifier checked against exact sums it keeps the scores closer
// to them than ONNX Runtime does: ResNet-50 at 224×224, rms error against
// the graph in float64, 0.74 times ONNX Runtime's (1.54 by default, 1.03
// WithoutWinograd); ResNet-101/152, the Wide ResNets, ResNeXt-101 and
// Inception-v3 0.58 to 0.83 (1.08 to 2.07 by default). It costs 1.10 to
// 1.16 times the default's time on ResNet-50, 1.35 to 1.39 on ResNet-18,
// 1.20 to 1.27 on DenseNet-121 (one and two threads; WithoutWinograd
// 1.19, 1.56, 1.21). With WithoutWinograd it leaves Winograd off too; it
// contradicts WithWinograd.
func WithAccurate() Option {
	return func(c *config) error { c.accurate = true; return nil }
}

// perPixel reports whether g declares an output of rank 3 or more whose
// axes after the second are not all of size 1 (a dynamic one counts): a
// segmentation net's class map, not a classifier's scores, which its
// users read as a ranking (their top classes do not move with Winograd's
// rounding, their last digits do; see WithAccurate). An output whose
// shape the file does not declare does not count.
func perPixel(g *ir.Graph) bool {
	for _, o := range g.Outputs {
		if len(o.Dims) < 3 {
			continue
		}
		for _, d := range o.Dims[2:] {
			if d.Value != 1 {
				return true
			}
		}
	}
	return false
}

// WithPlanCache sets how many plans (one per distinct set of input
// shapes, each with its intermediate memory) a model keeps; when a Run
// needs one more, the least recently used is dropped. n < 1 means the
// default, 16. Packed weights are shared by all plans and never dropped.
func WithPlanCache(n int) Option {
	return func(c *config) error { c.maxPlans = n; return nil }
}

// WithMemoryLimits caps the bytes of any one tensor (in the file or
// computed) and the intermediate memory of one Run; checked before
// allocating, they turn hostile or mistaken shapes into errors. Zero keeps
// a default: 2 GiB per tensor (4 GiB for a tensor in the file) and 8 GiB
// per Run.
func WithMemoryLimits(perTensor, perRun int64) Option {
	return func(c *config) error {
		if perTensor < 0 || perRun < 0 {
			return fmt.Errorf("memory limits must not be negative")
		}
		c.maxTensor, c.maxTotal = perTensor, perRun
		return nil
	}
}

// WithoutFold turns off the optimisation pass (BatchNormalization folding
// and operator fusion, package fold) that Open runs by default: the model
// runs node for node as the file has it.
func WithoutFold() Option {
	return func(c *config) error { c.noFold = true; return nil }
}

// Model is a loaded, compiled model. It is safe for concurrent use.
type Model struct {
	prog *runtime.Program
	// info is what the file says about itself, but its metadata (which
	// the graph that runs keeps); opsets as loaded, before the
	// optimisation pass adds its own domain.
	info ModelInfo
	// params counts the float32 parameters as loaded.
	params int64
	// report is what the optimisation pass did; nil WithoutFold.
	report  *fold.Report
	inputs  []TensorInfo
	outputs []TensorInfo
}

// Open loads the model file at path. External tensor data is resolved in
// the model's folder and never outside it. It is OpenContext with
// context.Background().
func Open(path string, opts ...Option) (*Model, error) {
	return OpenContext(context.Background(), path, opts...)
}

// OpenContext loads the model file at path, giving up with an error that
// wraps ctx.Err() when ctx is done: it looks at ctx between its phases
// (reading, decoding, checking, optimising and compiling the graph) and
// every thousand or so nodes within them.
//
// The path must name a regular file (a directory, device, named pipe or
// socket is refused before it is opened) of at most the per-tensor plus
// the per-Run memory limit (see WithMemoryLimits: 12 GiB by default);
// a larger file is refused, before it is read, with an error matching
// ErrMemoryLimit. External tensor data must likewise be in regular files,
// in the model's folder; of them only the bytes a tensor needs are read.
func OpenContext(ctx context.Context, path string, opts ...Option) (*Model, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := loader.ReadFile(path, maxFileBytes(c))
	if err != nil {
		if errors.Is(err, ir.ErrMemoryLimit) {
			err = fmt.Errorf("%w (the per-tensor plus the per-Run memory limit, see WithMemoryLimits)", err)
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, err := loader.LoadContext(ctx, data, loader.Options{Dir: filepath.Dir(path), MaxTensorBytes: c.maxTensor})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data = nil // the tensors hold their own copies: the file's bytes are garbage (see reclaim)
	return newModel(ctx, g, c)
}

// maxFileBytes is the largest model file Open reads: a tensor of the file
// at the per-tensor limit (4 GiB by default) plus one Run's memory.
func maxFileBytes(c *config) int64 {
	tensor, total := c.maxTensor, c.maxTotal
	if tensor <= 0 {
		tensor = loader.DefaultMaxTensorBytes
	}
	if total <= 0 {
		total = runtime.DefaultMaxTotalBytes
	}
	if tensor > math.MaxInt64-total {
		return math.MaxInt64
	}
	return tensor + total
}

func configure(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.accurate && c.winograd > 0 {
		return nil, errors.New("WithAccurate and WithWinograd contradict each other")
	}
	if c.backend == "" {
		if env := os.Getenv(BackendEnv); env != "" {
			if err := checkBackend(env); err != nil {
				return nil, fmt.Errorf("%s: %w", BackendEnv, err)
			}
			c.backend = env
		}
	}
	return c, nil
}

// OpenBytes loads a model from memory. A model with external tensor data
// cannot be opened this way. It is OpenBytesContext with
// context.Background().
func OpenBytes(data []byte, opts ...Option) (*Model, error) {
	return OpenBytesContext(context.Background(), data, opts...)
}

// OpenBytesContext loads a model from memory, giving up as OpenContext
// does when ctx is done.
func OpenBytesContext(ctx context.Context, data []byte, opts ...Option) (*Model, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	g, err := loader.LoadContext(ctx, data, loader.Options{MaxTensorBytes: c.maxTensor})
	if err != nil {
		return nil, err
	}
	return newModel(ctx, g, c)
}

// reclaim runs a garbage collection at Open's phase boundaries, when what
// the phase before made (the file's bytes, the weights the optimisation
// pass rewrote) has just become garbage: the next phase then reuses that
// memory instead of growing the process, so that a model's peak memory
// is about one copy of its weights less. It costs a few milliseconds, so
// Open does it for models of at least reclaimBytes of weights only.
func reclaim() { goruntime.GC() }

// reclaimBytes is the smallest model (bytes of float32 weights) for which
// Open collects garbage after optimising it.
const reclaimBytes = 32 << 20

// newModel checks, optimises and compiles g; ctx is looked at between
// these phases and within each. Of g it keeps what Info and Stats report:
// the loaded graph, and the weights the pass rewrote (every Conv's, folded
// with its BN), are garbage once it returns, so that the model holds its
// weights once.
func newModel(ctx context.Context, g *ir.Graph, c *config) (*Model, error) {
	ro := runtime.Options{Threads: c.threads, MaxTensorBytes: c.maxTensor, MaxTotalBytes: c.maxTotal, MaxPlans: c.maxPlans,
		HoldWeights: !c.keepWeights}
	switch c.backend {
	case "", "auto":
		ro.Device = runtime.DeviceAuto
	case "cuda":
		ro.Device = runtime.DeviceCUDA
	default:
		ro.Kernels = kern.TierByName(c.backend)
	}
	// the tier's variant that keeps the scores closest to exact sums:
	// shorter depth blocks, Winograd on the wider layers only
	accurate := c.accurate || c.winograd <= 0 && perPixel(g)
	if accurate || c.winograd < 0 {
		if ro.Kernels == nil {
			ro.Kernels = kern.Best()
		}
		if accurate {
			ro.Kernels = ro.Kernels.Accurate()
		}
		if c.winograd < 0 {
			ro.Kernels = ro.Kernels.WithoutWinograd()
		}
	}
	m := &Model{inputs: infos(g.Inputs), outputs: infos(g.Outputs), params: countParams(g),
		info: ModelInfo{IRVersion: g.IRVersion, ProducerName: g.ProducerName, ProducerVersion: g.ProducerVersion,
			DocString: g.DocString, Opsets: maps.Clone(g.Opsets)}}
	run := g
	if !c.noFold {
		// The graph as the file has it is compiled once: so that errors
		// (unsupported ops among them) are reported against it, and so
		// that the optimisation pass proves the shapes it needs by
		// planning this program rather than compiling the graph again.
		check, err := runtime.CompileContext(ctx, g, fold.ProbeOptions())
		if err != nil {
			return nil, err
		}
		run, m.report, err = fold.OptimizeCompiled(ctx, check)
		check.Close()
		if err != nil {
			return nil, err
		}
		g = nil // garbage now, with the weights the pass rewrote (see reclaim)
		if 4*m.params >= reclaimBytes {
			reclaim()
		}
	}
	prog, err := runtime.CompileContext(ctx, run, ro)
	if err != nil {
		return nil, err
	}
	m.prog = prog
	return m, nil
}

func infos(vs []ir.ValueInfo) []TensorInfo {
	out := make([]TensorInfo, len(vs))
	for i, v := range vs {
		ti := TensorInfo{Name: v.Name, DType: v.DType}
		if v.Dims != nil {
			ti.Shape = make([]int, len(v.Dims))
			ti.DimNames = make([]string, len(v.Dims))
			for j, d := range v.Dims {
				ti.Shape[j] = d.Value
				if d.Param != "" {
					ti.Shape[j] = -1
				}
				ti.DimNames[j] = d.Param
			}
		}
		out[i] = ti
	}
	return out
}

// Inputs describes the model's inputs, in order.
func (m *Model) Inputs() []TensorInfo { return m.inputs }

// Outputs describes the model's outputs, in order.
func (m *Model) Outputs() []TensorInfo { return m.outputs }

// Metadata returns the model's metadata_props.
func (m *Model) Metadata() map[string]string { return m.prog.Graph().Metadata }

// Backend returns the name of the kernel tier in use: "cuda" when the
// model runs on a GPU (see Device), else the CPU tier's. In auto mode a
// model whose ops the GPU does not all cover runs on the CPU tier; the
// runs say so through Device's error.
func (m *Model) Backend() string {
	if d, _ := m.prog.Device(); d != "" {
		return "cuda"
	}
	return m.prog.Kernels().Name
}

// Winograd reports whether the model's CPU tier computes 3×3
// convolutions with Winograd (on the tiers that have it: avx2, avx512),
// on every layer it fits or, on the accurate variant (WithAccurate), on
// those of at least 256 input channels; false on the GPU. See
// WithoutWinograd for when Open chooses it.
func (m *Model) Winograd() bool {
	if d, _ := m.prog.Device(); d != "" {
		return false
	}
	k := m.prog.Kernels()
	return k.WithoutWinograd() != k
}

// Accurate reports whether the model's CPU tier is its accurate variant
// (see WithAccurate), as Open takes it for a model with a per-pixel
// output; false on the GPU and on tiers without one (the reference).
func (m *Model) Accurate() bool {
	if d, _ := m.prog.Device(); d != "" {
		return false
	}
	return m.prog.Kernels().IsAccurate()
}

// Device describes the GPU the model runs on (its name and compute
// capability), or returns "" when it runs on the CPU; err then says why
// auto mode found no usable GPU (nil when none was asked for).
func (m *Model) Device() (desc string, err error) {
	return m.prog.Device()
}

// Threads returns the number of goroutines kernels split work across:
// the count WithThreads asked for, or less when it was clamped.
func (m *Model) Threads() int { return m.prog.Threads() }

// Run runs the model on named inputs and returns every output by name.
// Each input must match its declared type and fixed dims. ctx is checked
// between nodes. On a closed model it fails with an error matching
// ErrClosed.
func (m *Model) Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error) {
	ordered := make([]*Tensor, len(m.inputs))
	for i, in := range m.inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, &runtime.InputError{Input: in.Name, Kind: ErrMissingInput, Detail: "not given"}
		}
		ordered[i] = t
	}
	if len(inputs) != len(m.inputs) {
		for name := range inputs {
			if !m.hasInput(name) {
				return nil, &runtime.InputError{Input: name, Kind: ErrUnknownInput, Detail: "the model has no input of this name"}
			}
		}
	}
	outs, err := m.prog.Run(ctx, ordered)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*Tensor, len(outs))
	for i, o := range m.outputs {
		res[o.Name] = outs[i]
	}
	return res, nil
}

func (m *Model) hasInput(name string) bool {
	for _, in := range m.inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// RunInto runs the model with inputs and outputs in declaration order. An
// entry of outs that is nil or too small is replaced; otherwise its buffer
// is reused, so a caller that keeps outs between calls allocates nothing.
// On a closed model it fails with an error matching ErrClosed.
func (m *Model) RunInto(ctx context.Context, inputs []*Tensor, outs []*Tensor) error {
	return m.prog.RunInto(ctx, inputs, outs)
}

// Close releases the model's worker goroutines and device memory. Runs in
// flight finish normally and Close waits for them (cancel their contexts
// to make them stop sooner); a Run or RunInto that begins once Close has
// begun fails with ErrClosed. Close may be called more than once and from
// several goroutines. The error is always nil today; it lets a Model be
// an io.Closer.
func (m *Model) Close() error {
	m.prog.Close()
	return nil
}
