package vision

import (
	_ "embed"
	"encoding/json"
	"math"
	"slices"
	"strings"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/loader"
)

//go:embed imagenet_labels.txt
var imagenetLabels string

// maxLabelFileBytes bounds a label file: 64 MiB of text holds millions of
// labels.
const maxLabelFileBytes = 64 << 20

// Class is one class of a model's output: its index and its score (a
// probability after Softmax or Probabilities).
type Class struct {
	Index int
	Score float64
}

// Softmax returns the softmax of the scores, computed and returned in
// float64:
//
//	p_i = exp(x_i - max) / sum_j exp(x_j - max)
//
// A NaN score makes every probability NaN.
func Softmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(x))
	sum := 0.0
	for i, v := range x {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// Probabilities returns the scores themselves (as float64) when they
// already are probabilities (each in [0, 1], summing to 1 within 1e-3, as
// a model ending in Softmax gives), else their Softmax.
func Probabilities(x []float32) []float64 {
	sum := 0.0
	for _, v := range x {
		if !(v >= 0 && v <= 1) {
			return Softmax(x)
		}
		sum += float64(v)
	}
	if math.Abs(sum-1) >= 1e-3 {
		return Softmax(x)
	}
	p := make([]float64, len(x))
	for i, v := range x {
		p[i] = float64(v)
	}
	return p
}

// TopK returns the k highest scores (all of them when k exceeds their
// number), highest first; equal scores keep their order, and NaN ranks
// below every number.
func TopK[F float32 | float64](scores []F, k int) []Class {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		va, vb := scores[a], scores[b]
		switch {
		case va > vb || (va == va && vb != vb): // larger, or b is NaN
			return -1
		case va < vb || (va != va && vb == vb):
			return 1
		}
		return 0
	})
	out := make([]Class, 0, min(max(k, 0), len(idx)))
	for _, i := range idx[:cap(out)] {
		out = append(out, Class{Index: i, Score: float64(scores[i])})
	}
	return out
}

// Labels returns the n class names of m's output: from its metadata
// (metadata_props "labels", "classes" or "class_names": a JSON array of
// strings or a comma- or newline-separated list) when that lists n, else
// ImageNet's 1000 when n is 1000, else n empty strings.
func Labels(m *bnrun.Model, n int) []string {
	var labels []string
	for _, key := range []string{"labels", "classes", "class_names"} {
		if s, ok := m.Metadata()[key]; ok {
			labels = ParseLabels(s)
			break
		}
	}
	if len(labels) == n {
		return labels
	}
	if n == 1000 {
		return ImageNetLabels()
	}
	return make([]string, max(n, 0))
}

// ImageNetLabels returns the 1000 ImageNet class names in the order of
// torchvision's classifiers.
func ImageNetLabels() []string {
	return splitLines(imagenetLabels)
}

// ReadLabels reads a file of one label per line (surrounding space
// trimmed). The file must be a regular file of at most 64 MiB.
func ReadLabels(path string) ([]string, error) {
	data, err := loader.ReadFile(path, maxLabelFileBytes)
	if err != nil {
		return nil, err
	}
	return splitLines(string(data)), nil
}

// ParseLabels reads a list of labels: a JSON array of strings, else one
// label a line when s holds a newline, else comma-separated; each label's
// surrounding space is trimmed (JSON strings are taken as they are).
func ParseLabels(s string) []string {
	var js []string
	if json.Unmarshal([]byte(s), &js) == nil {
		return js
	}
	if strings.Contains(s, "\n") {
		return splitLines(s)
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// splitLines splits text into lines, trimmed, without the empty line a
// final newline would give.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}
