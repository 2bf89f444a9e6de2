package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/models/fashion"
	"github.com/bnrun/bnrun/vision"
)

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
		prep.Stretch = true // the whole image, as the mask covers it
	}
	// The input's size comes from the file (or --crop): check it against
	// the memory limits and plan for it before allocating anything.
	if err := m.Prepare(prep.Shape(1)); err != nil {
		return err
	}
	img, err := loadImage(pos[len(pos)-1])
	if err != nil {
		return err
	}
	x, err := prep.Tensor(img)
	if err != nil {
		return fmt.Errorf("image %s: %w", pos[len(pos)-1], err)
	}
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
	for r, c := range vision.TopK(vision.Probabilities(y.F32), o.top) {
		if labels[c.Index] == "" {
			fmt.Fprintf(w, "%2d. %6.2f%%  class %d\n", r+1, 100*c.Score, c.Index)
		} else {
			fmt.Fprintf(w, "%2d. %6.2f%%  %s (class %d)\n", r+1, 100*c.Score, labels[c.Index], c.Index)
		}
	}
	return nil
}

// preprocessing derives sizes and normalisation from the model's first
// input, [N, C, H, W] with C of 1 or 3 (vision.ForModel), and the flags.
func (o *classifyOpts) preprocessing(m *bnrun.Model) (vision.Preprocess, error) {
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
