package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/models/fashion"
)

//go:embed imagenet_labels.txt
var imagenetLabels string

// runFlags are the flags of every subcommand that runs a model.
type runFlags struct {
	backend string
	threads int
	noFold  bool
	noWino  bool
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.backend, "backend", "", "kernel tier: auto, cuda, avx512, avx2, generic or ref (default $BNRUN_BACKEND, else auto: the GPU when usable, else the best CPU tier)")
	fs.IntVar(&r.threads, "threads", 0, "worker goroutines (0: one per CPU)")
	fs.BoolVar(&r.noFold, "no-fold", false, "run the graph as the file has it: no BatchNormalization folding or fusion")
	fs.BoolVar(&r.noWino, "no-winograd", false, "compute every 3×3 convolution directly: slower, with the direct product's smaller rounding error (for per-pixel outputs checked at 1e-4)")
}

func (r *runFlags) open(path string) (*bnrun.Model, error) {
	m, err := bnrun.Open(path, r.options()...)
	if err != nil {
		return nil, err
	}
	if r.threads > 0 && m.Threads() < r.threads {
		fmt.Fprintf(os.Stderr, "bnrun: note: --threads %d clamped to %d\n", r.threads, m.Threads())
	}
	return m, nil
}

func (r *runFlags) options() []bnrun.Option {
	opts := []bnrun.Option{bnrun.WithBackend(r.backend), bnrun.WithThreads(r.threads)}
	if r.noFold {
		opts = append(opts, bnrun.WithoutFold())
	}
	if r.noWino {
		opts = append(opts, bnrun.WithoutWinograd())
	}
	return opts
}

type classifyOpts struct {
	run       runFlags
	top       int
	resize    int
	crop      int
	mean, std floatList
	labels    string
	mask      string
	blend     float64
}

func classifyFlags() (*flag.FlagSet, *classifyOpts) {
	o := &classifyOpts{}
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	o.run.register(fs)
	fs.IntVar(&o.top, "top", 5, "how many classes to print")
	fs.IntVar(&o.resize, "resize", 0, "resize the shorter side to this many pixels (0: 256 for 224-pixel RGB models, else the crop size)")
	fs.IntVar(&o.crop, "crop", 0, "center-crop size (0: the model's input size, 224 if dynamic)")
	fs.Var(&o.mean, "mean", "per-channel mean, comma-separated (default: ImageNet's for RGB, 0 for grayscale)")
	fs.Var(&o.std, "std", "per-channel std, comma-separated (default: ImageNet's for RGB, 1 for grayscale)")
	fs.StringVar(&o.labels, "labels", "", "file with one class label per line")
	fs.StringVar(&o.mask, "mask", "", "for a segmentation model ([1,K,H,W] output): write the class map as a colour-coded PNG of the image's size (the image is resized whole to the model's input, not cropped)")
	fs.Float64Var(&o.blend, "blend", 1, "with --mask, the mask's weight over the image: 1 the mask alone, 0.5 half and half")
	return fs, o
}

// cmdClassify implements `bnrun MODEL IMAGE`.
func cmdClassify(args []string, w io.Writer) error {
	fs, o := classifyFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkOrder(pos); err != nil {
		return err
	}
	var m *bnrun.Model
	switch len(pos) {
	case 1:
		// No model: the shipped Fashion-MNIST ResNet built into the binary.
		m, err = bnrun.OpenBytes(fashion.ResNet, o.run.options()...)
	case 2:
		m, err = o.run.open(pos[0])
	default:
		return usageError{"classify wants [MODEL.onnx] IMAGE"}
	}
	if err != nil {
		return err
	}
	defer m.Close()
	prep, err := o.preprocessing(m)
	if err != nil {
		return err
	}
	if o.mask != "" {
		if !(o.blend >= 0 && o.blend <= 1) {
			return usageError{fmt.Sprintf("--blend %v must be between 0 and 1", o.blend)}
		}
		prep.stretch = true // the whole image, as the mask covers it
	}
	// The input's size comes from the file (or --crop): check it against
	// the memory limits and plan for it before allocating anything.
	shape := []int{1, prep.channels, prep.cropH, prep.cropW}
	if err := m.Prepare(shape); err != nil {
		return err
	}
	img, err := loadImage(pos[len(pos)-1])
	if err != nil {
		return err
	}
	pixels, err := prep.apply(img)
	if err != nil {
		return fmt.Errorf("image %s: %w", pos[len(pos)-1], err)
	}
	x := bnrun.NewTensor(shape, pixels)
	in := m.Inputs()[0]
	outs, err := m.Run(context.Background(), map[string]*bnrun.Tensor{in.Name: x})
	if err != nil {
		return err
	}
	y := outs[m.Outputs()[0].Name]
	if y.DType != bnrun.Float32 || len(y.F32) == 0 {
		return fmt.Errorf("output %q is %s %v, want float32 scores", m.Outputs()[0].Name, y.DType, y.Shape)
	}
	if k, h, wd, ok := classMap(y); ok {
		// A segmentation network: each pixel's class, their shares, the mask.
		labels, err := o.classLabels(m, k)
		if err != nil {
			return err
		}
		cls := argmaxClasses(y.F32, k, h*wd)
		printShares(w, cls, k, labels)
		if o.mask == "" {
			return nil
		}
		if err := writeMask(o.mask, img, cls, h, wd, o.blend); err != nil {
			return err
		}
		fmt.Fprintf(w, "mask: %s (%dx%d)\n", o.mask, img.Bounds().Dx(), img.Bounds().Dy())
		return nil
	}
	if o.mask != "" {
		return fmt.Errorf("--mask needs a segmentation model, whose output is [1,K,H,W] class scores; output %q is %v",
			m.Outputs()[0].Name, y.Shape)
	}
	labels, err := o.classLabels(m, len(y.F32))
	if err != nil {
		return err
	}
	probs := probabilities(y.F32)
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	for r := 0; r < min(o.top, len(idx)); r++ {
		c := idx[r]
		if labels[c] == "" {
			fmt.Fprintf(w, "%2d. %6.2f%%  class %d\n", r+1, 100*probs[c], c)
		} else {
			fmt.Fprintf(w, "%2d. %6.2f%%  %s (class %d)\n", r+1, 100*probs[c], labels[c], c)
		}
	}
	return nil
}

// preprocessing derives sizes and normalisation from the model's first
// input, [N, C, H, W] with C of 1 or 3, and the flags.
func (o *classifyOpts) preprocessing(m *bnrun.Model) (*preprocessing, error) {
	if len(m.Inputs()) != 1 {
		return nil, fmt.Errorf("model has %d inputs; classify needs exactly one image input", len(m.Inputs()))
	}
	in := m.Inputs()[0]
	if in.DType != bnrun.Float32 {
		return nil, fmt.Errorf("input %q is %s; classify needs float32", in.Name, in.DType)
	}
	p := &preprocessing{channels: 3, cropH: 224, cropW: 224}
	if in.Shape != nil {
		if len(in.Shape) != 4 {
			return nil, fmt.Errorf("input %s is not an image batch [N,C,H,W]", in)
		}
		if c := in.Shape[1]; c == 1 || c == 3 {
			p.channels = c
		} else if c > 0 {
			return nil, fmt.Errorf("input %s has %d channels; classify handles 1 (grayscale) or 3 (RGB)", in, c)
		}
		if in.Shape[2] > 0 && in.Shape[3] > 0 {
			p.cropH, p.cropW = in.Shape[2], in.Shape[3]
		}
	}
	if o.crop > 0 {
		p.cropH, p.cropW = o.crop, o.crop
	}
	p.resize = o.resize
	if p.resize == 0 {
		p.resize = min(p.cropH, p.cropW)
		if p.channels == 3 && p.cropH == 224 && p.cropW == 224 {
			p.resize = 256
		}
	}
	switch {
	case p.channels == 3:
		p.mean, p.std = []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	default:
		p.mean, p.std = []float32{0}, []float32{1}
	}
	if o.mean != nil {
		p.mean = o.mean
	}
	if o.std != nil {
		p.std = o.std
	}
	if len(p.mean) != p.channels || len(p.std) != p.channels {
		return nil, usageError{fmt.Sprintf("--mean and --std need %d values for this model", p.channels)}
	}
	for _, s := range p.std {
		if s == 0 {
			return nil, usageError{"--std values must be non-zero"}
		}
	}
	return p, nil
}

// classLabels returns n labels: from --labels, else from the model's
// metadata_props ("labels", "classes" or "class_names": a JSON array or a
// comma- or newline-separated list), else ImageNet's for 1000 classes,
// else none (printed as "class i").
func (o *classifyOpts) classLabels(m *bnrun.Model, n int) ([]string, error) {
	var labels []string
	switch {
	case o.labels != "":
		// A label file is text: 64 MiB holds millions of labels.
		data, err := loader.ReadFile(o.labels, 64<<20)
		if err != nil {
			return nil, err
		}
		labels = splitLabels(string(data))
		if len(labels) != n {
			return nil, fmt.Errorf("%s has %d labels, the model outputs %d classes", o.labels, len(labels), n)
		}
		return labels, nil
	default:
		for _, key := range []string{"labels", "classes", "class_names"} {
			if s, ok := m.Metadata()[key]; ok {
				labels = parseLabelList(s)
				break
			}
		}
		if len(labels) != n && n == 1000 {
			labels = splitLabels(imagenetLabels)
		}
	}
	if len(labels) != n {
		labels = make([]string, n) // unnamed: printed as "class i"
	}
	return labels, nil
}

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

func parseLabelList(s string) []string {
	var js []string
	if json.Unmarshal([]byte(s), &js) == nil {
		return js
	}
	if strings.Contains(s, "\n") {
		return splitLabels(s)
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// probabilities returns the scores themselves when they already look like
// probabilities (non-negative, summing to 1), else their softmax:
// p_i = exp(x_i - max) / sum_j exp(x_j - max).
func probabilities(x []float32) []float64 {
	p := make([]float64, len(x))
	sum, isProb := 0.0, true
	for _, v := range x {
		if v < 0 || v > 1 {
			isProb = false
		}
		sum += float64(v)
	}
	if isProb && math.Abs(sum-1) < 1e-3 {
		for i, v := range x {
			p[i] = float64(v)
		}
		return p
	}
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	sum = 0
	for i, v := range x {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// checkOrder turns the common slips in classify's arguments into a usage
// error that says what is wrong, before anything is opened: a model given
// alone, or a model and an image swapped (the model would otherwise fail
// with a protobuf error about an image's bytes). It looks at the file
// names and at the first bytes of the files.
func checkOrder(pos []string) error {
	const order = "usage: bnrun [MODEL.onnx] IMAGE"
	switch len(pos) {
	case 1:
		if looksLikeModel(pos[0]) {
			return usageError{fmt.Sprintf("%s looks like an ONNX model and no IMAGE follows; %s", pos[0], order)}
		}
	case 2:
		kind := imageKind(pos[0])
		switch {
		case kind != "" && looksLikeModel(pos[1]):
			return usageError{fmt.Sprintf("%s is a %s image and %s an ONNX model: the arguments are swapped; %s", pos[0], kind, pos[1], order)}
		case kind != "":
			return usageError{fmt.Sprintf("MODEL %s is a %s image, not an ONNX model; %s", pos[0], kind, order)}
		}
	}
	return nil
}

// looksLikeModel reports whether path names an ONNX model: it ends in
// .onnx and is not an image.
func looksLikeModel(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".onnx") && imageKind(path) == ""
}

// imageKind returns "PNG" or "JPEG" when the file at path starts like one,
// and "" otherwise (also when it cannot be read, or is standard input).
func imageKind(path string) string {
	if path == "-" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	switch b := head[:n]; {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "PNG"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "JPEG"
	}
	return ""
}
