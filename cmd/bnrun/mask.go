package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"sort"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/vision"
)

// classMap reports whether y is a segmentation network's output: one
// image's [1, K, H, W] scores for K ≥ 2 classes over a plane of more than
// one pixel.
func classMap(y *bnrun.Tensor) (k, h, w int, ok bool) {
	if y.DType != bnrun.Float32 || len(y.Shape) != 4 || y.Shape[0] != 1 || y.Shape[1] < 2 || y.Shape[2]*y.Shape[3] < 2 {
		return 0, 0, 0, false
	}
	return y.Shape[1], y.Shape[2], y.Shape[3], true
}

// argmaxClasses returns each pixel's class: the first of the K scores
// y[k][p] that is largest (NaN scores never win; a pixel of NaNs only is
// class 0).
func argmaxClasses(y []float32, k, hw int) []int32 {
	cls := make([]int32, hw)
	for p := range hw {
		best, arg := float32(0), -1
		for c := range k {
			v := y[c*hw+p]
			if v == v && (arg < 0 || v > best) {
				best, arg = v, c
			}
		}
		cls[p] = int32(max(arg, 0))
	}
	return cls
}

// classShares returns the classes present in cls, each with its share of
// the pixels, largest first.
func classShares(cls []int32, k int) []vision.Class {
	count := make([]int, k)
	for _, c := range cls {
		count[c]++
	}
	var out []vision.Class
	for c, n := range count {
		if n > 0 {
			out = append(out, vision.Class{Index: c, Score: float64(n) / float64(len(cls))})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return out
}

// printShares prints the classes present, largest share of pixels first.
func printShares(w io.Writer, shares []vision.Class, labels []string) {
	for r, c := range shares {
		if labels[c.Index] == "" {
			fmt.Fprintf(w, "%2d. %6.2f%% of pixels  class %d\n", r+1, 100*c.Score, c.Index)
		} else {
			fmt.Fprintf(w, "%2d. %6.2f%% of pixels  %s (class %d)\n", r+1, 100*c.Score, labels[c.Index], c.Index)
		}
	}
}

// classColor is class c's colour in the mask: the bits of c spread over
// the high bits of red, green and blue in turn (class 0 black, 1 dark
// red, 2 dark green, 3 olive, ...), as the PASCAL VOC palette does.
func classColor(c int32) color.RGBA {
	var r, g, b uint8
	for j := 7; j >= 0 && c > 0; j-- {
		r |= uint8(c&1) << j
		g |= uint8(c>>1&1) << j
		b |= uint8(c>>2&1) << j
		c >>= 3
	}
	return color.RGBA{r, g, b, 255}
}

// writeMask writes the class map cls (h×w) as a PNG of img's size, each
// pixel the colour of the class at its place in the map (nearest), blended
// over img's pixel with weight 1-alpha when alpha < 1:
//
//	out = alpha·colour + (1 - alpha)·image
func writeMask(path string, img image.Image, cls []int32, h, w int, alpha float64) error {
	b := img.Bounds()
	iw, ih := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, iw, ih))
	for y := range ih {
		my := min(y*h/ih, h-1)
		for x := range iw {
			mx := min(x*w/iw, w-1)
			c := classColor(cls[my*w+mx])
			if alpha < 1 {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				mix := func(m uint8, v uint32) uint8 {
					return uint8(alpha*float64(m) + (1-alpha)*float64(v>>8) + 0.5)
				}
				c = color.RGBA{mix(c.R, r), mix(c.G, g), mix(c.B, bl), 255}
			}
			out.SetRGBA(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
