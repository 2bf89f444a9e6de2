package main

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoding
	_ "image/png"  // PNG decoding
	"io"
	"math"
	"os"

	"golang.org/x/image/draw"
)

// maxImageBytes bounds the memory a decoded input image takes, checked
// from the header (size and colour model) before decoding.
const maxImageBytes = 512 << 20

// bytesPerPixel is how much memory Go's decoders use per pixel for a
// colour model (8, the most, for models it does not know).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// decodeImage reads a PNG or JPEG image, refusing huge ones before
// allocating them.
func decodeImage(r io.ReadSeeker, name string) (image.Image, error) {
	br := bufio.NewReader(r)
	cfg, format, err := image.DecodeConfig(br)
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", name, err)
	}
	// Decoding takes width*height*bytesPerPixel; converting to 8-bit RGBA
	// up to 4 bytes a pixel more.
	if cfg.Width <= 0 || cfg.Height <= 0 ||
		int64(cfg.Width)*int64(cfg.Height)*(bytesPerPixel(cfg.ColorModel)+4) > maxImageBytes {
		return nil, fmt.Errorf("image %s: %s of %dx%d pixels is empty or too large", name, format, cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", name, err)
	}
	return img, nil
}

func loadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeImage(f, path)
}

// preprocessing is what torchvision's Resize, CenterCrop, ToTensor and
// Normalize do for ImageNet models, with sizes taken from the model.
type preprocessing struct {
	channels     int // 1 (grayscale) or 3 (RGB)
	resize       int // shorter side after resizing; 0 means no resize
	cropH, cropW int
	mean, std    []float32 // one per channel
}

// apply turns an image into a [channels, cropH, cropW] float32 tensor:
// resize so the shorter side is p.resize (bilinear, antialiased when
// shrinking), crop the centre, scale 8-bit values to [0,1], then
// x' = (x - mean[c]) / std[c].
func (p *preprocessing) apply(img image.Image) []float32 {
	src := toBaseImage(img, p.channels)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if p.resize > 0 && min(w, h) != p.resize {
		// torchvision: the long side becomes int(resize * long / short).
		nw, nh := p.resize, p.resize
		if w < h {
			nh = int(int64(p.resize) * int64(h) / int64(w))
		} else {
			nw = int(int64(p.resize) * int64(w) / int64(h))
		}
		var dst draw.Image
		if p.channels == 1 {
			dst = image.NewGray(image.Rect(0, 0, nw, nh))
		} else {
			dst = image.NewRGBA(image.Rect(0, 0, nw, nh))
		}
		draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		src, w, h = dst, nw, nh
		b = src.Bounds()
	}
	// CenterCrop: top = round((h - cropH) / 2), half to even as Python does.
	top := int(math.RoundToEven(float64(h-p.cropH) / 2))
	left := int(math.RoundToEven(float64(w-p.cropW) / 2))
	plane := p.cropH * p.cropW
	out := make([]float32, p.channels*plane)
	for y := 0; y < p.cropH; y++ {
		sy := top + y
		for x := 0; x < p.cropW; x++ {
			sx := left + x
			var px [3]float32
			if sy >= 0 && sy < h && sx >= 0 && sx < w {
				// Outside the image (a crop larger than the image) stays 0,
				// as torchvision pads.
				px = pixel8(src, b.Min.X+sx, b.Min.Y+sy, p.channels)
			}
			for c := 0; c < p.channels; c++ {
				// x' = (v/255 - mean) / std
				out[c*plane+y*p.cropW+x] = (px[c]/255 - p.mean[c]) / p.std[c]
			}
		}
	}
	return out
}

// toBaseImage converts any decoded image to 8-bit Gray or RGBA, so that
// resampling works on 8-bit values as PIL does.
func toBaseImage(img image.Image, channels int) draw.Image {
	b := img.Bounds()
	if channels == 1 {
		if g, ok := img.(*image.Gray); ok {
			return g
		}
		g := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g.SetGray(x, y, color.Gray{Y: luma(img.At(x, y))})
			}
		}
		return g
	}
	if r, ok := img.(*image.RGBA); ok {
		return r
	}
	r := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r.SetRGBA(x, y, color.RGBA{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8), 255})
		}
	}
	return r
}

// luma is PIL's convert("L"): L = R*299/1000 + G*587/1000 + B*114/1000 on
// 8-bit values, in 16.16 fixed point with rounding.
func luma(c color.Color) uint8 {
	if g, ok := c.(color.Gray); ok {
		return g.Y
	}
	r, g, b, _ := c.RGBA()
	r, g, b = r>>8, g>>8, b>>8
	return uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
}

// pixel8 returns the 8-bit channel values of a Gray or RGBA pixel.
func pixel8(img draw.Image, x, y, channels int) [3]float32 {
	switch im := img.(type) {
	case *image.Gray:
		return [3]float32{float32(im.GrayAt(x, y).Y)}
	case *image.RGBA:
		c := im.RGBAAt(x, y)
		return [3]float32{float32(c.R), float32(c.G), float32(c.B)}
	}
	r, g, b, _ := img.At(x, y).RGBA()
	if channels == 1 {
		return [3]float32{float32(luma(img.At(x, y)))}
	}
	return [3]float32{float32(r >> 8), float32(g >> 8), float32(b >> 8)}
}
