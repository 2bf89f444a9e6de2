package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/models/fashion"
	"github.com/bnrun/bnrun/npy"
	"github.com/bnrun/bnrun/vision"
)

// runFlags are the flags of every subcommand that runs a model.
type runFlags struct {
	backend string
	threads int
	noFold  bool
	noWino  bool
	wino    bool
	acc     bool
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.backend, "backend", "", "kernel tier: auto, cuda, avx512, avx2, generic or ref (default $BNRUN_BACKEND, else auto: the GPU when usable, else the best CPU tier)")
	fs.IntVar(&r.threads, "threads", 0, "worker goroutines (0: one per CPU)")
	fs.BoolVar(&r.noFold, "no-fold", false, "run the graph as the file has it: no BatchNormalization folding or fusion")
	fs.BoolVar(&r.noWino, "no-winograd", false, "compute every 3×3 convolution directly: slower, with the direct product's smaller rounding error")
	fs.BoolVar(&r.wino, "winograd", false, "compute 3×3 convolutions with Winograd on every layer, also for a model with per-pixel outputs: faster, with a larger rounding error")
	fs.BoolVar(&r.acc, "accurate", false, "sum convolutions in shorter blocks and take Winograd only on layers of 256 channels or more: 1.1 to 1.4 times the time, closer to exact sums than ONNX Runtime (the default for a model with per-pixel outputs)")
}

// check refuses flags that contradict each other.
func (r *runFlags) check() error {
	if r.wino && r.noWino {
		return usageError{"--winograd and --no-winograd contradict each other"}
	}
	if r.wino && r.acc {
		return usageError{"--winograd and --accurate contradict each other"}
	}
	return nil
}

func (r *runFlags) open(path string) (*bnrun.Model, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
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
	if r.wino {
		opts = append(opts, bnrun.WithWinograd())
	}
	if r.acc {
		opts = append(opts, bnrun.WithAccurate())
	}
	return opts
}

// prepFlags are the preprocessing flags of classify and of eval on an
// image folder.
type prepFlags struct {
	resize    int
	crop      int
	mean, std floatList
}

func (o *prepFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&o.resize, "resize", 0, "resize the shorter side to this many pixels (0: 256 for 224-pixel RGB models, else the crop size)")
	fs.IntVar(&o.crop, "crop", 0, "center-crop size (0: the model's input size, 224 if dynamic)")
	fs.Var(&o.mean, "mean", "per-channel mean, comma-separated (default: ImageNet's for RGB, 0 for grayscale)")
	fs.Var(&o.std, "std", "per-channel std, comma-separated (default: ImageNet's for RGB, 1 for grayscale)")
}

// given reports whether any preprocessing flag was set.
func (o *prepFlags) given() bool {
	return o.resize != 0 || o.crop != 0 || o.mean != nil || o.std != nil
}

type classifyOpts struct {
	run    runFlags
	prep   prepFlags
	top    int
	labels string
	mask   string
	blend  float64
	json   bool
	raw    string
}

func classifyFlags() (*flag.FlagSet, *classifyOpts) {
	o := &classifyOpts{}
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	o.run.register(fs)
	o.prep.register(fs)
	fs.IntVar(&o.top, "top", 5, "how many classes to print")
	fs.StringVar(&o.labels, "labels", "", "file with one class label per line")
	fs.StringVar(&o.mask, "mask", "", "for a segmentation model ([1,K,H,W] output): write the class map as a colour-coded PNG of the image's size (the image is resized whole to the model's input, not cropped); one image only")
	fs.Float64Var(&o.blend, "blend", 1, "with --mask, the mask's weight over the image: 1 the mask alone, 0.5 half and half")
	fs.BoolVar(&o.json, "json", false, "print JSON: per image its file and top classes (index, label, probability), or a segmentation's classes with their share of the pixels")
	fs.StringVar(&o.raw, "raw", "", "write the model's first output as a float32 .npy file, the images' outputs stacked along the first axis in the order they were classified")
	return fs, o
}

// classifyResult is one image's result in `bnrun classify --json`.
type classifyResult struct {
	File string `json:"file"`
	// Top holds a classifier's top classes, most probable first.
	Top []classScore `json:"top,omitempty"`
	// Pixels holds a segmentation's classes present, with their share of
	// the pixels in Probability, largest first.
	Pixels []classScore `json:"pixels,omitempty"`
	Mask   string       `json:"mask,omitempty"`
}

// classScore is a class with its probability (or share of pixels).
type classScore struct {
	Index       int     `json:"index"`
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// cmdClassify implements `bnrun [MODEL] IMAGE|DIR...`.
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
	modelName := "(built-in Fashion-MNIST ResNet)"
	switch len(pos) {
	case 0:
		return usageError{"classify wants [MODEL.onnx] IMAGE..."}
	case 1:
		// No model: the shipped Fashion-MNIST ResNet built into the binary.
		if err := o.run.check(); err != nil {
			return err
		}
		m, err = bnrun.OpenBytes(fashion.ResNet, o.run.options()...)
	default:
		m, err = o.run.open(pos[0])
		modelName, pos = pos[0], pos[1:]
	}
	if err != nil {
		return err
	}
	defer m.Close()
	images, err := imageFiles(pos)
	if err != nil {
		return err
	}
	if o.mask != "" && len(images) > 1 {
		return usageError{fmt.Sprintf("--mask writes one image's mask; %d images given", len(images))}
	}
	prep, err := o.prep.preprocessing(m)
	if err != nil {
		return err
	}
	if o.mask != "" {
		if !(o.blend >= 0 && o.blend <= 1) {
			return usageError{fmt.Sprintf("--blend %v must be between 0 and 1", o.blend)}
		}
		prep.Stretch = true // the whole image, as the mask covers it
	}
	// The input's size comes from the file (or --crop): check it against
	// the memory limits and plan for it before allocating anything.
	if err := m.Prepare(prep.Shape(1)); err != nil {
		return err
	}
	var results []classifyResult
	var raw *bnrun.Tensor
	for i, path := range images {
		if len(images) > 1 && !o.json {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s:\n", path)
		}
		y, r, err := o.classifyOne(w, m, prep, path)
		if err != nil {
			return err
		}
		results = append(results, r)
		if o.raw != "" {
			if raw, err = stack(raw, y); err != nil {
				return err
			}
		}
	}
	if o.raw != "" {
		if err := npy.WriteFile(o.raw, raw); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model   string           `json:"model"`
			Results []classifyResult `json:"results"`
		}{modelName, results})
	}
	return nil
}

// classifyOne runs the model on one image and prints its classes (unless
// --json). It returns the model's first output and the result.
func (o *classifyOpts) classifyOne(w io.Writer, m *bnrun.Model, prep vision.Preprocess, path string) (*bnrun.Tensor, classifyResult, error) {
	r := classifyResult{File: path}
	img, err := loadImage(path)
	if err != nil {
		return nil, r, err
	}
	x, err := prep.Tensor(img)
	if err != nil {
		return nil, r, fmt.Errorf("image %s: %w", path, err)
	}
	in := m.Inputs()[0]
	outs, err := m.Run(context.Background(), map[string]*bnrun.Tensor{in.Name: x})
	if err != nil {
		return nil, r, fmt.Errorf("image %s: %w", path, err)
	}
	y := outs[m.Outputs()[0].Name]
	if y.DType != bnrun.Float32 || len(y.F32) == 0 {
		return nil, r, fmt.Errorf("output %q is %s %v, want float32 scores", m.Outputs()[0].Name, y.DType, y.Shape)
	}
	text := w
	if o.json {
		text = io.Discard
	}
	if k, h, wd, ok := classMap(y); ok {
		// A segmentation network: each pixel's class, their shares, the mask.
		labels, err := o.classLabels(m, k)
		if err != nil {
			return nil, r, err
		}
		cls := argmaxClasses(y.F32, k, h*wd)
		shares := classShares(cls, k)
		printShares(text, shares, labels)
		r.Pixels = scores(shares, labels)
		if o.mask == "" {
			return y, r, nil
		}
		if err := writeMask(o.mask, img, cls, h, wd, o.blend); err != nil {
			return nil, r, err
		}
		r.Mask = o.mask
		fmt.Fprintf(text, "mask: %s (%dx%d)\n", o.mask, img.Bounds().Dx(), img.Bounds().Dy())
		return y, r, nil
	}
	if o.mask != "" {
		return nil, r, fmt.Errorf("--mask needs a segmentation model, whose output is [1,K,H,W] class scores; output %q is %v",
			m.Outputs()[0].Name, y.Shape)
	}
	labels, err := o.classLabels(m, len(y.F32))
	if err != nil {
		return nil, r, err
	}
	top := vision.TopK(vision.Probabilities(y.F32), o.top)
	for i, c := range top {
		if labels[c.Index] == "" {
			fmt.Fprintf(text, "%2d. %6.2f%%  class %d\n", i+1, 100*c.Score, c.Index)
		} else {
			fmt.Fprintf(text, "%2d. %6.2f%%  %s (class %d)\n", i+1, 100*c.Score, labels[c.Index], c.Index)
		}
	}
	r.Top = scores(top, labels)
	return y, r, nil
}

// scores pairs classes with their labels for --json.
func scores(cs []vision.Class, labels []string) []classScore {
	out := make([]classScore, len(cs))
	for i, c := range cs {
		out[i] = classScore{Index: c.Index, Label: labels[c.Index], Probability: c.Score}
	}
	return out
}

// stack appends y to acc along the first axis (acc nil: y alone); every
// y must have the same shape but for the first dim.
func stack(acc, y *bnrun.Tensor) (*bnrun.Tensor, error) {
	if acc == nil {
		return bnrun.NewTensor(slices.Clone(y.Shape), slices.Clone(y.F32)), nil
	}
	if len(y.Shape) == 0 || len(y.Shape) != len(acc.Shape) || !slices.Equal(y.Shape[1:], acc.Shape[1:]) {
		return nil, fmt.Errorf("--raw: output shape %v differs from the first image's %v", y.Shape, acc.Shape)
	}
	acc.Shape[0] += y.Shape[0]
	acc.F32 = append(acc.F32, y.F32...)
	return acc, nil
}

// imageFiles expands the IMAGE arguments: a folder stands for the images
// in it (files that start as an image does, not those of sub-folders), in
// order of name.
func imageFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if a == "-" || err != nil || !st.IsDir() {
			out = append(out, a) // loadImage reports what is wrong with it
			continue
		}
		entries, err := os.ReadDir(a) // sorted by name
		if err != nil {
			return nil, err
		}
		n := len(out)
		for _, e := range entries {
			p := filepath.Join(a, e.Name())
			if e.Type().IsRegular() && imageKind(p) != "" {
				out = append(out, p)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no PNG, JPEG, GIF, BMP, TIFF or WebP images in this folder", a)
		}
	}
	return out, nil
}

// preprocessing derives sizes and normalisation from the model's first
// input, [N, C, H, W] with C of 1 or 3 (vision.ForModel), and the flags.
func (o *prepFlags) preprocessing(m *bnrun.Model) (vision.Preprocess, error) {
	p, err := vision.ForModel(m)
	if err != nil {
		return p, err
	}
	if o.crop > 0 {
		p.Height, p.Width = o.crop, o.crop
	}
	if o.resize < 0 {
		return p, usageError{fmt.Sprintf("--resize %d must not be negative", o.resize)}
	}
	p.Resize = o.resize
	if p.Resize == 0 {
		p.Resize = vision.DefaultResize(p.Height, p.Width, p.Gray)
	}
	c := p.Channels()
	if len(p.Mean) == 0 {
		// Grayscale: x = pixel/255, as ToTensor alone gives.
		p.Mean, p.Std = make([]float32, c), make([]float32, c)
		for i := range p.Std {
			p.Std[i] = 1
		}
	}
	if o.mean != nil {
		p.Mean = o.mean
	}
	if o.std != nil {
		p.Std = o.std
	}
	if len(p.Mean) != c || len(p.Std) != c {
		return p, usageError{fmt.Sprintf("--mean and --std need %d values for this model", c)}
	}
	for _, s := range p.Std {
		if s == 0 {
			return p, usageError{"--std values must be non-zero"}
		}
	}
	return p, nil
}

// classLabels returns n labels: from --labels, else from the model's
// metadata or ImageNet's for 1000 classes (vision.Labels), else empty
// ones (printed as "class i").
func (o *classifyOpts) classLabels(m *bnrun.Model, n int) ([]string, error) {
	if o.labels != "" {
		labels, err := vision.ReadLabels(o.labels)
		if err != nil {
			return nil, err
		}
		if len(labels) != n {
			return nil, fmt.Errorf("%s has %d labels, the model outputs %d classes", o.labels, len(labels), n)
		}
		return labels, nil
	}
	return vision.Labels(m, n), nil // "" for unnamed classes: printed as "class i"
}

// checkOrder turns the common slips in classify's arguments into a usage
// error that says what is wrong, before anything is opened: a model given
// alone, or a model and an image swapped (the model would otherwise fail
// with a protobuf error about an image's bytes). It looks at the file
// names and at the first bytes of the files.
func checkOrder(pos []string) error {
	const order = "usage: bnrun [MODEL.onnx] IMAGE..."
	switch {
	case len(pos) == 1:
		if looksLikeModel(pos[0]) {
			return usageError{fmt.Sprintf("%s looks like an ONNX model and no IMAGE follows; %s", pos[0], order)}
		}
	case len(pos) >= 2:
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

// imageKind returns "PNG", "JPEG", "GIF", "BMP", "TIFF" or "WebP" when
// the file at path starts like one, and "" otherwise (also when it cannot
// be read, or is standard input).
func imageKind(path string) string {
	if path == "-" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head [12]byte
	n, _ := io.ReadFull(f, head[:])
	switch b := head[:n]; {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "PNG"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "JPEG"
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return "GIF"
	case bytes.HasPrefix(b, []byte("BM")) && n == 12 && string(b[6:10]) == "\x00\x00\x00\x00": // reserved, zero
		return "BMP"
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return "TIFF"
	case bytes.HasPrefix(b, []byte("RIFF")) && n == 12 && string(b[8:12]) == "WEBP":
		return "WebP"
	}
	return ""
}
