package vision

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// goldenCase is one entry of testdata/vision/cases.json, written by
// models/make_vision_goldens.py.
type goldenCase struct {
	Name          string    `json:"name"`
	Image         string    `json:"image"`
	Gray          bool      `json:"gray"`
	ExifTranspose bool      `json:"exif_transpose"`
	Resize        int       `json:"resize"`
	Crop          []int     `json:"crop"`
	Stretch       bool      `json:"stretch"`
	Mean          []float32 `json:"mean"`
	Std           []float32 `json:"std"`
}

// readNpy reads a little-endian float32 .npy file (C order): its shape and
// values.
func readNpy(path string) ([]int, []float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	// Magic (6), version (2), header length (2 in version 1, 4 in 2 and 3).
	if len(data) < 10 || !bytes.HasPrefix(data, []byte("\x93NUMPY")) {
		return nil, nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen, start int
	if data[6] == 1 {
		hlen, start = int(binary.LittleEndian.Uint16(data[8:])), 10
	} else {
		hlen, start = int(binary.LittleEndian.Uint32(data[8:])), 12
	}
	if start+hlen > len(data) {
		return nil, nil, fmt.Errorf("%s: header cut short", path)
	}
	header := string(data[start : start+hlen])
	if !strings.Contains(header, "'descr': '<f4'") || !strings.Contains(header, "'fortran_order': False") {
		return nil, nil, fmt.Errorf("%s: header %q: want little-endian float32 in C order", path, header)
	}
	m := regexp.MustCompile(`'shape': \(([0-9, ]*)\)`).FindStringSubmatch(header)
	if m == nil {
		return nil, nil, fmt.Errorf("%s: no shape in %q", path, header)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil {
			return nil, nil, err
		}
		shape = append(shape, d)
		n *= d
	}
	body := data[start+hlen:]
	if len(body) != 4*n {
		return nil, nil, fmt.Errorf("%s: %d bytes of data for shape %v", path, len(body), shape)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return shape, x, nil
}

// The largest differences, in 8-bit levels, allowed between vision's
// tensors of JPEGs and torchvision's. PIL decodes with libjpeg, which
// upsamples 4:2:0 chroma with a triangle filter where Go's decoder repeats
// each chroma sample, and whose integer IDCT and colour conversion round
// differently. The package doc gives the measured figures.
const (
	jpeg444Bound = 2  // full-resolution chroma (and grayscale): rounding only
	jpeg420Bound = 40 // subsampled chroma: the upsampling filters differ
)

// TestTorchvisionGoldens compares vision's tensors with the ones
// torchvision 0.14 and PIL made of the same files
// (models/make_vision_goldens.py): within one level, the rounding of the
// resampling, for the lossless formats; within jpeg444Bound and
// jpeg420Bound levels for JPEGs, logging each case's largest and mean
// difference.
func TestTorchvisionGoldens(t *testing.T) {
	var manifest struct {
		Cases []goldenCase `json:"cases"`
	}
	data, err := os.ReadFile("../testdata/vision/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Cases) < 30 {
		t.Fatalf("%d cases in cases.json", len(manifest.Cases))
	}
	for _, c := range manifest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			shape, want, err := readNpy(filepath.Join("../testdata/vision", c.Name+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeFile(filepath.Join("../testdata/images", c.Image), &DecodeOptions{AutoOrient: c.ExifTranspose})
			if err != nil {
				t.Fatal(err)
			}
			p := Preprocess{Gray: c.Gray, Resize: c.Resize, Stretch: c.Stretch, Mean: c.Mean, Std: c.Std}
			if len(c.Crop) == 2 {
				p.Height, p.Width = c.Crop[0], c.Crop[1]
			}
			x, err := p.Tensor(img)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(x.Shape) != fmt.Sprint(append([]int{1}, shape...)) {
				t.Fatalf("shape %v, torchvision's %v", x.Shape, shape)
			}
			// The difference in 8-bit levels: (x - mean)/std scaled back.
			plane := len(want) / shape[0]
			worst, sum, at, over1 := 0.0, 0.0, 0, 0
			for i := range want {
				s := 1.0
				if len(c.Std) > 0 {
					s = float64(c.Std[i/plane])
				}
				d := math.Abs(float64(x.F32[i])-float64(want[i])) * s * 255
				sum += d
				if d > worst {
					worst, at = d, i
				}
				if d > 1+1e-3 {
					over1++
				}
			}
			bound, kind := 1.0, "lossless"
			if strings.HasSuffix(c.Image, ".jpg") {
				bound, kind = jpeg444Bound, "JPEG 4:4:4"
				if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio != image.YCbCrSubsampleRatio444 {
					bound, kind = jpeg420Bound, "JPEG with subsampled chroma"
				}
			}
			t.Logf("%s (%s): largest difference %.2f levels (value %d), mean %.3f, %d of %d values more than 1 level apart",
				c.Image, kind, worst, at, sum/float64(len(want)), over1, len(want))
			if worst > bound+1e-3 {
				t.Errorf("%s: value %d is %v, torchvision's %v: %.2f levels apart, more than %v",
					c.Image, at, x.F32[at], want[at], worst, bound)
			}
		})
	}
}
