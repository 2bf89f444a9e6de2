package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/vision"
)

type evalOpts struct {
	run      runFlags
	prep     prepFlags
	images   string
	labels   string
	batch    int
	limit    int
	out      string
	format   string
	progress string
}

func evalFlags() (*flag.FlagSet, *evalOpts) {
	o := &evalOpts{}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	o.run.register(fs)
	fs.StringVar(&o.images, "images", "", "IDX file of 8-bit images, gzip or raw (e.g. t10k-images-idx3-ubyte.gz), or a folder with one sub-folder of images per class (torchvision's ImageFolder: classes numbered in order of name)")
	fs.StringVar(&o.labels, "labels", "", "with an IDX file: IDX file of labels, gzip or raw (optional: without it no accuracy is printed)")
	fs.IntVar(&o.batch, "batch", 0, "images per Run (0: 100 for an IDX file, 8 for a folder)")
	fs.IntVar(&o.limit, "limit", 0, "evaluate only the first N images (0: all)")
	fs.StringVar(&o.out, "out", "", "write per-image predictions to this file (- for standard output)")
	fs.StringVar(&o.format, "format", "", "predictions format: csv or jsonl (default: from --out's extension, else csv)")
	fs.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
	o.prep.register(fs) // for image folders
	return fs, o
}

// prediction is one image's result, as written by --out.
type prediction struct {
	Index      int     `json:"index"`
	Label      int     `json:"label"`
	Predicted  int     `json:"predicted"`
	Name       string  `json:"class"`
	Confidence float64 `json:"confidence"`
	// File is the image's path, for an image folder.
	File string `json:"file,omitempty"`
}

// evalSource is a data set eval classifies: images preprocessed into a
// model's input, with their labels.
type evalSource interface {
	// count is the number of images.
	count() int
	// shape is one image's input shape, [C, H, W].
	shape() []int
	// fill writes images i to i+n-1, preprocessed, into x.
	fill(i, n int, x []float32) error
	// label is image i's class, or -1 when the set has no labels.
	label(i int) int
	// className names class c, or "" to take the model's label.
	className(c int) string
	// file names image i's file, or "".
	file(i int) string
}

// cmdEval implements `bnrun eval MODEL.onnx --images FILE|DIR [--labels FILE]`.
func cmdEval(args []string, stdout, stderr io.Writer) error {
	fs, o := evalFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.images == "" {
		return usageError{"eval wants MODEL.onnx and --images FILE"}
	}
	if o.batch < 0 {
		return usageError{"--batch must be at least 1"}
	}
	format := o.format
	if format == "" {
		format = "csv"
		if ext := strings.ToLower(filepath.Ext(o.out)); ext == ".jsonl" || ext == ".json" {
			format = "jsonl"
		}
	}
	if format != "csv" && format != "jsonl" {
		return usageError{fmt.Sprintf("--format %q: want csv or jsonl", format)}
	}
	folder := false
	if st, err := os.Stat(o.images); err == nil && st.IsDir() {
		folder = true
	}
	switch {
	case folder && o.labels != "":
		return usageError{"--labels is for IDX files; an image folder's sub-folders are its classes"}
	case !folder && o.prep.given():
		return usageError{"--resize, --crop, --mean and --std are for image folders; IDX images are taken as pixel/255"}
	}
	m, err := o.run.open(pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	var src evalSource
	if folder {
		if o.batch == 0 {
			o.batch = 8
		}
		src, err = openImageFolder(o.images, m, &o.prep)
	} else {
		if o.batch == 0 {
			o.batch = 100
		}
		src, err = openIDXSet(o.images, o.labels, m)
	}
	if err != nil {
		return err
	}
	count := src.count()
	if o.limit > 0 && o.limit < count {
		count = o.limit
	}
	in := m.Inputs()
	fixedBatch := len(in[0].Shape) > 0 && in[0].Shape[0] >= 0
	if fixedBatch {
		o.batch = in[0].Shape[0] // a model with a fixed batch size
	}
	var names []string // class names, once the output size is known
	var pw *predictionWriter
	if o.out != "" {
		if pw, err = newPredictionWriter(o.out, format, folder, stdout); err != nil {
			return err
		}
	}
	// A fixed batch in the file, or --batch, sizes the input: checked
	// against the memory limits before it is allocated.
	shape := append([]int{o.batch}, src.shape()...)
	if err := m.Prepare(shape); err != nil {
		return err
	}
	prog := newProgress(o.progress, stderr, count)
	start := time.Now()
	plane := shape[1] * shape[2] * shape[3]
	x := bnrun.NewTensor(shape, nil)
	outs := make([]*bnrun.Tensor, len(m.Outputs()))
	correct, labelled := 0, false
	ctx := context.Background()
	for b0 := 0; b0 < count; b0 += o.batch {
		n := min(o.batch, count-b0)
		if n != x.Shape[0] {
			if fixedBatch {
				// A fixed-batch model: pad the last batch with zeros.
				clear(x.F32[n*plane:])
			} else {
				x = bnrun.NewTensor(append([]int{n}, shape[1:]...), x.F32[:n*plane])
			}
		}
		if err := src.fill(b0, n, x.F32[:n*plane]); err != nil {
			return err
		}
		if err := m.RunInto(ctx, []*bnrun.Tensor{x}, outs); err != nil {
			return fmt.Errorf("images %d to %d: %w", b0, b0+n-1, err)
		}
		y := outs[0]
		k := len(y.F32) / x.Shape[0]
		if k == 0 || len(y.F32) != k*x.Shape[0] {
			return fmt.Errorf("output %v does not hold one score vector per image", y.Shape)
		}
		if len(names) != k {
			if names, err = (&classifyOpts{}).classLabels(m, k); err != nil {
				return err
			}
			for c := range names {
				if s := src.className(c); s != "" {
					names[c] = s
				}
			}
		}
		for i := 0; i < n; i++ {
			scores := y.F32[i*k : (i+1)*k]
			p := prediction{Index: b0 + i, Label: src.label(b0 + i), Predicted: argmax32(scores), File: src.file(b0 + i)}
			p.Confidence = vision.Probabilities(scores)[p.Predicted]
			p.Name = names[p.Predicted]
			if p.Label >= 0 {
				labelled = true
				if p.Label == p.Predicted {
					correct++
				}
			}
			if pw != nil {
				if err := pw.write(p); err != nil {
					return err
				}
			}
		}
		prog.update(b0+n, correct)
	}
	prog.done()
	if pw != nil {
		if err := pw.close(); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	if labelled {
		fmt.Fprintf(stdout, "accuracy %.2f%% (%d of %d correct)", 100*float64(correct)/float64(max(count, 1)), correct, count)
	} else {
		fmt.Fprintf(stdout, "%d images classified", count)
	}
	fmt.Fprintf(stdout, " in %.2fs (%.0f images/s)\n", elapsed.Seconds(), float64(count)/math.Max(elapsed.Seconds(), 1e-9))
	return nil
}

// idxSet is an IDX file of images and, optionally, one of labels.
type idxSet struct {
	rows, cols int
	images     *idx
	labels     []byte
}

// openIDXSet reads the IDX files and checks that the model takes their
// images: [N,1,rows,cols], taken as pixel/255.
func openIDXSet(images, labels string, m *bnrun.Model) (*idxSet, error) {
	imgs, err := readIDX(images)
	if err != nil {
		return nil, err
	}
	if len(imgs.dims) != 3 {
		return nil, fmt.Errorf("%s: dims %v, want [count, rows, cols]", images, imgs.dims)
	}
	s := &idxSet{images: imgs, rows: imgs.dims[1], cols: imgs.dims[2]}
	if labels != "" {
		l, err := readIDX(labels)
		if err != nil {
			return nil, err
		}
		if len(l.dims) != 1 || l.dims[0] != imgs.dims[0] {
			return nil, fmt.Errorf("%s: dims %v, want [%d] to match the images", labels, l.dims, imgs.dims[0])
		}
		s.labels = l.data
	}
	in := m.Inputs()
	if len(in) != 1 || len(in[0].Shape) != 4 || (in[0].Shape[1] != 1 && in[0].Shape[1] != -1) ||
		(in[0].Shape[2] >= 0 && in[0].Shape[2] != s.rows) || (in[0].Shape[3] >= 0 && in[0].Shape[3] != s.cols) {
		return nil, fmt.Errorf("model input %v does not take [N,1,%d,%d] grayscale images", in, s.rows, s.cols)
	}
	return s, nil
}

func (s *idxSet) count() int             { return s.images.dims[0] }
func (s *idxSet) shape() []int           { return []int{1, s.rows, s.cols} }
func (s *idxSet) className(c int) string { return "" }
func (s *idxSet) file(i int) string      { return "" }

func (s *idxSet) label(i int) int {
	if s.labels == nil {
		return -1
	}
	return int(s.labels[i])
}

// fill writes x = pixel / 255, as torchvision's ToTensor.
func (s *idxSet) fill(i, n int, x []float32) error {
	plane := s.rows * s.cols
	for j, v := range s.images.data[i*plane : (i+n)*plane] {
		x[j] = float32(v) / 255
	}
	return nil
}

// imageFolder is torchvision's ImageFolder layout: one sub-folder per
// class, classes numbered in order of name, each class's images the
// files under its folder (sub-folders too) with an image extension, in
// order of path.
type imageFolder struct {
	classes []string
	files   []string
	labels  []int
	prep    vision.Preprocess
}

// imageExts are the extensions of the files an image folder's classes
// hold: torchvision's (but for PPM and PGM, which bnrun does not decode)
// and GIF.
var imageExts = []string{".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}

// openImageFolder lists the classes and images under dir and sets up the
// preprocessing classify does for the model (vision.ForModel and the
// flags).
func openImageFolder(dir string, m *bnrun.Model, pf *prepFlags) (*imageFolder, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	f := &imageFolder{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := len(f.classes)
		f.classes = append(f.classes, e.Name())
		err := filepath.WalkDir(filepath.Join(dir, e.Name()), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && slices.Contains(imageExts, strings.ToLower(filepath.Ext(path))) {
				f.files = append(f.files, path)
				f.labels = append(f.labels, c)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("%s: no class folders (an image folder holds one sub-folder of images per class)", dir)
	}
	if len(f.files) == 0 {
		return nil, fmt.Errorf("%s: no images (%s) in its %d class folders", dir, strings.Join(imageExts, ", "), len(f.classes))
	}
	if f.prep, err = pf.preprocessing(m); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *imageFolder) count() int        { return len(f.files) }
func (f *imageFolder) shape() []int      { return f.prep.Shape(1)[1:] }
func (f *imageFolder) label(i int) int   { return f.labels[i] }
func (f *imageFolder) file(i int) string { return f.files[i] }
func (f *imageFolder) className(c int) string {
	if c < len(f.classes) {
		return f.classes[c]
	}
	return ""
}

// fill decodes and preprocesses images i to i+n-1 into x.
func (f *imageFolder) fill(i, n int, x []float32) error {
	per := len(x) / n
	for j := range n {
		img, err := loadImage(f.files[i+j])
		if err != nil {
			return err
		}
		t, err := f.prep.Tensor(img)
		if err != nil {
			return fmt.Errorf("image %s: %w", f.files[i+j], err)
		}
		copy(x[j*per:(j+1)*per], t.F32)
	}
	return nil
}

func argmax32(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// predictionWriter writes per-image predictions as CSV or JSON lines.
type predictionWriter struct {
	f      *os.File
	w      *bufio.Writer
	format string
	files  bool // a file column in CSV
}

func newPredictionWriter(path, format string, files bool, stdout io.Writer) (*predictionWriter, error) {
	pw := &predictionWriter{format: format, files: files}
	if path == "-" {
		pw.w = bufio.NewWriter(stdout)
	} else {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		pw.f, pw.w = f, bufio.NewWriter(f)
	}
	if format == "csv" {
		if files {
			fmt.Fprintln(pw.w, "index,label,predicted,class,confidence,file")
		} else {
			fmt.Fprintln(pw.w, "index,label,predicted,class,confidence")
		}
	}
	return pw, nil
}

func (pw *predictionWriter) write(p prediction) error {
	if pw.format == "jsonl" {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		pw.w.Write(b)
		return pw.w.WriteByte('\n')
	}
	if pw.files {
		_, err := fmt.Fprintf(pw.w, "%d,%d,%d,%s,%.6f,%s\n", p.Index, p.Label, p.Predicted, csvField(p.Name), p.Confidence, csvField(p.File))
		return err
	}
	_, err := fmt.Fprintf(pw.w, "%d,%d,%d,%s,%.6f\n", p.Index, p.Label, p.Predicted, csvField(p.Name), p.Confidence)
	return err
}

// csvField quotes a field that holds a comma or a quote.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (pw *predictionWriter) close() error {
	if err := pw.w.Flush(); err != nil {
		return err
	}
	if pw.f != nil {
		return pw.f.Close()
	}
	return nil
}

// progress shows how far an evaluation is: a bar redrawn in place on a
// terminal, or a plain line every 10% otherwise.
type progress struct {
	w        io.Writer
	mode     string // bar, lines or none
	total    int
	nextLine int
	start    time.Time
}

func newProgress(mode string, w io.Writer, total int) *progress {
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	return &progress{w: w, mode: mode, total: total, nextLine: total / 10, start: time.Now()}
}

func (p *progress) update(done, correct int) {
	switch p.mode {
	case "bar":
		const width = 30
		fill := width * done / max(p.total, 1)
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d  %.2f%% correct so far  %.1fs",
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, p.total,
			100*float64(correct)/float64(max(done, 1)), time.Since(p.start).Seconds())
	case "lines":
		if done >= p.nextLine || done == p.total {
			fmt.Fprintf(p.w, "%d/%d images (%.0f%%)\n", done, p.total, 100*float64(done)/float64(max(p.total, 1)))
			for p.nextLine <= done && p.total > 0 {
				p.nextLine += max(p.total/10, 1)
			}
		}
	}
}

func (p *progress) done() {
	if p.mode == "bar" {
		fmt.Fprintln(p.w)
	}
}
