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
	"strings"
	"time"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/vision"
)

type evalOpts struct {
	run      runFlags
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
	fs.StringVar(&o.images, "images", "", "IDX file of 8-bit images, gzip or raw (e.g. t10k-images-idx3-ubyte.gz)")
	fs.StringVar(&o.labels, "labels", "", "IDX file of labels, gzip or raw (optional: without it no accuracy is printed)")
	fs.IntVar(&o.batch, "batch", 100, "images per Run")
	fs.IntVar(&o.limit, "limit", 0, "evaluate only the first N images (0: all)")
	fs.StringVar(&o.out, "out", "", "write per-image predictions to this file (- for standard output)")
	fs.StringVar(&o.format, "format", "", "predictions format: csv or jsonl (default: from --out's extension, else csv)")
	fs.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
	return fs, o
}

// prediction is one image's result, as written by --out.
type prediction struct {
	Index      int     `json:"index"`
	Label      int     `json:"label"`
	Predicted  int     `json:"predicted"`
	Name       string  `json:"class"`
	Confidence float64 `json:"confidence"`
}

// cmdEval implements `bnrun eval MODEL.onnx --images FILE --labels FILE`.
func cmdEval(args []string, stdout, stderr io.Writer) error {
	fs, o := evalFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.images == "" {
		return usageError{"eval wants MODEL.onnx and --images FILE"}
	}
	if o.batch < 1 {
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
	m, err := o.run.open(pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	imgs, err := readIDX(o.images)
	if err != nil {
		return err
	}
	if len(imgs.dims) != 3 {
		return fmt.Errorf("%s: dims %v, want [count, rows, cols]", o.images, imgs.dims)
	}
	count, rows, cols := imgs.dims[0], imgs.dims[1], imgs.dims[2]
	var labels []byte
	if o.labels != "" {
		l, err := readIDX(o.labels)
		if err != nil {
			return err
		}
		if len(l.dims) != 1 || l.dims[0] != count {
			return fmt.Errorf("%s: dims %v, want [%d] to match the images", o.labels, l.dims, count)
		}
		labels = l.data
	}
	if o.limit > 0 && o.limit < count {
		count = o.limit
	}
	in := m.Inputs()
	if len(in) != 1 || len(in[0].Shape) != 4 || (in[0].Shape[1] != 1 && in[0].Shape[1] != -1) ||
		(in[0].Shape[2] >= 0 && in[0].Shape[2] != rows) || (in[0].Shape[3] >= 0 && in[0].Shape[3] != cols) {
		return fmt.Errorf("model input %v does not take [N,1,%d,%d] grayscale images", in, rows, cols)
	}
	if in[0].Shape[0] >= 0 && in[0].Shape[0] != o.batch {
		o.batch = in[0].Shape[0] // a model with a fixed batch size
	}
	var names []string // class names, once the output size is known
	var pw *predictionWriter
	if o.out != "" {
		if pw, err = newPredictionWriter(o.out, format, stdout); err != nil {
			return err
		}
	}
	// A fixed batch in the file, or --batch, sizes the input: checked
	// against the memory limits before it is allocated.
	if err := m.Prepare([]int{o.batch, 1, rows, cols}); err != nil {
		return err
	}
	prog := newProgress(o.progress, stderr, count)
	start := time.Now()
	plane := rows * cols
	x := bnrun.NewTensor([]int{o.batch, 1, rows, cols}, nil)
	outs := make([]*bnrun.Tensor, len(m.Outputs()))
	correct := 0
	ctx := context.Background()
	for b0 := 0; b0 < count; b0 += o.batch {
		n := min(o.batch, count-b0)
		if n != x.Shape[0] {
			if in[0].Shape[0] >= 0 {
				// A fixed-batch model: pad the last batch with zeros.
				clear(x.F32[n*plane:])
			} else {
				x = bnrun.NewTensor([]int{n, 1, rows, cols}, x.F32[:n*plane])
			}
		}
		// x = pixel / 255, as torchvision's ToTensor
		for i, v := range imgs.data[b0*plane : (b0+n)*plane] {
			x.F32[i] = float32(v) / 255
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
		}
		for i := 0; i < n; i++ {
			scores := y.F32[i*k : (i+1)*k]
			p := prediction{Index: b0 + i, Label: -1, Predicted: argmax32(scores)}
			p.Confidence = vision.Probabilities(scores)[p.Predicted]
			p.Name = names[p.Predicted]
			if labels != nil {
				p.Label = int(labels[b0+i])
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
	if labels != nil {
		fmt.Fprintf(stdout, "accuracy %.2f%% (%d of %d correct)", 100*float64(correct)/float64(max(count, 1)), correct, count)
	} else {
		fmt.Fprintf(stdout, "%d images classified", count)
	}
	fmt.Fprintf(stdout, " in %.2fs (%.0f images/s)\n", elapsed.Seconds(), float64(count)/math.Max(elapsed.Seconds(), 1e-9))
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
}

func newPredictionWriter(path, format string, stdout io.Writer) (*predictionWriter, error) {
	pw := &predictionWriter{format: format}
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
		fmt.Fprintln(pw.w, "index,label,predicted,class,confidence")
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
