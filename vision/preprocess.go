package vision

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"

	"golang.org/x/image/draw"

	"github.com/bnrun/bnrun"
)

// ImageNetMean and ImageNetStd are the per-channel (R, G, B) mean and
// standard deviation torchvision's ImageNet models are trained with.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Preprocess turns images into a model's input tensor as torchvision's
// transforms do on PIL images:
//
//	Image.open(f).convert("RGB")          (or "L" with Gray)
//	Resize(Resize)                        (or Resize((Height, Width)) with Stretch)
//	CenterCrop((Height, Width))
//	ToTensor()
//	Normalize(Mean, Std)
//
// The zero value takes an RGB image whole, as ToTensor alone does.
type Preprocess struct {
	// Gray makes one channel, PIL's convert("L"), instead of three,
	// convert("RGB").
	Gray bool
	// Resize is the shorter side after resizing, the longer one becoming
	// int(Resize·longer/shorter) as torchvision's Resize(int) makes it
	// (bilinear, antialiased when shrinking). 0: no resize.
	Resize int
	// Height and Width are the output's size: the centre crop taken after
	// resizing (zero-padded where it is larger than the image, as
	// torchvision pads). 0 and 0: the resized image whole.
	Height, Width int
	// Stretch resizes the whole image to Height×Width, the aspect ratio not
	// kept, as torchvision's Resize((Height, Width)) does, instead of
	// Resize and a crop.
	Stretch bool
	// Mean and Std normalise each channel: x' = (x - Mean[c]) / Std[c],
	// with x = pixel/255 in [0, 1]. Empty: no normalisation.
	Mean, Std []float32
	// MaxImageBytes bounds the resized image and the output (0:
	// DefaultMaxImageBytes), checked before they are allocated.
	MaxImageBytes int64
}

// Channels is the tensor's channel count: 1 with Gray, else 3.
func (p Preprocess) Channels() int {
	if p.Gray {
		return 1
	}
	return 3
}

// Shape is the shape of the tensor Tensor makes of n images:
// [n, Channels, Height, Width]. It is meaningful only when Height and
// Width are set.
func (p Preprocess) Shape(n int) []int {
	return []int{n, p.Channels(), p.Height, p.Width}
}

// DefaultResize is the shorter side torchvision's ImageNet recipe resizes
// to before a centre crop of height×width: 256 for a 224×224 RGB crop
// (Resize(256) + CenterCrop(224)), else the crop's shorter side.
func DefaultResize(height, width int, gray bool) int {
	if !gray && height == 224 && width == 224 {
		return 256
	}
	return min(height, width)
}

// ForModel returns the preprocessing of an image classifier whose one
// input is float32 [N, C, H, W] with C of 1 or 3: Gray for one channel,
// Height and Width the input's (224 where dynamic), Resize by
// DefaultResize, and ImageNet's mean and std for RGB (none for gray).
func ForModel(m *bnrun.Model) (Preprocess, error) {
	if len(m.Inputs()) != 1 {
		return Preprocess{}, fmt.Errorf("model has %d inputs, not one image input", len(m.Inputs()))
	}
	in := m.Inputs()[0]
	if in.DType != bnrun.Float32 {
		return Preprocess{}, fmt.Errorf("input %q is %s, not float32", in.Name, in.DType)
	}
	p := Preprocess{Height: 224, Width: 224}
	if in.Shape != nil {
		if len(in.Shape) != 4 {
			return Preprocess{}, fmt.Errorf("input %s is not an image batch [N,C,H,W]", in)
		}
		switch c := in.Shape[1]; {
		case c == 1:
			p.Gray = true
		case c > 0 && c != 3:
			return Preprocess{}, fmt.Errorf("input %s has %d channels, not 1 (grayscale) or 3 (RGB)", in, c)
		}
		if in.Shape[2] > 0 && in.Shape[3] > 0 {
			p.Height, p.Width = in.Shape[2], in.Shape[3]
		}
	}
	p.Resize = DefaultResize(p.Height, p.Width, p.Gray)
	if !p.Gray {
		p.Mean, p.Std = slices.Clone(ImageNetMean), slices.Clone(ImageNetStd)
	}
	return p, nil
}

// check reports what is wrong with p's fields.
func (p Preprocess) check() error {
	c := p.Channels()
	switch {
	case p.Resize < 0 || p.Height < 0 || p.Width < 0:
		return fmt.Errorf("negative size: resize %d, %dx%d", p.Resize, p.Width, p.Height)
	case (p.Height == 0) != (p.Width == 0):
		return fmt.Errorf("height %d and width %d: give both or neither", p.Height, p.Width)
	case p.Stretch && p.Height == 0:
		return errors.New("stretch needs a height and a width")
	case len(p.Mean) != len(p.Std) || (len(p.Mean) != 0 && len(p.Mean) != c):
		return fmt.Errorf("%d means and %d stds for %d channels", len(p.Mean), len(p.Std), c)
	}
	for _, s := range p.Std {
		if s == 0 {
			return errors.New("a std of 0")
		}
	}
	return nil
}

// Tensor preprocesses the images into one float32 tensor
// [len(imgs), Channels, H, W]; every image must come out of the same
// size (they do when Height and Width are set).
func (p Preprocess) Tensor(imgs ...image.Image) (*bnrun.Tensor, error) {
	if len(imgs) == 0 {
		return nil, errors.New("no images")
	}
	var data []float32
	var h, w int
	for i, img := range imgs {
		x, ih, iw, err := p.apply(img)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			h, w = ih, iw
			data = make([]float32, 0, len(imgs)*len(x))
		} else if ih != h || iw != w {
			return nil, fmt.Errorf("image %d comes out %dx%d, image 0 %dx%d", i, iw, ih, w, h)
		}
		data = append(data, x...)
	}
	return bnrun.NewTensor([]int{len(imgs), p.Channels(), h, w}, data), nil
}

// apply turns an image into a [Channels, h, w] float32 tensor: resize so
// the shorter side is p.Resize (bilinear, antialiased when shrinking,
// golang.org/x/image/draw's BiLinear on 8-bit pixels: within one level of
// PIL's), crop the centre, scale 8-bit values to [0,1], then
// x' = (x - mean[c]) / std[c]. It refuses a resize whose result would be
// larger than the image limit (a 60000×1 strip resized to a shorter side
// of 256) before allocating it.
func (p Preprocess) apply(img image.Image) (out []float32, cropH, cropW int, err error) {
	if err := p.check(); err != nil {
		return nil, 0, 0, err
	}
	limit := p.MaxImageBytes
	if limit <= 0 {
		limit = DefaultMaxImageBytes
	}
	channels := p.Channels()
	// 1 byte a pixel for Gray, 4 for RGBA.
	perPixel := int64(4)
	if p.Gray {
		perPixel = 1
	}
	if int64(p.Height)*int64(p.Width)*int64(channels)*4 > limit {
		return nil, 0, 0, sizeError{fmt.Sprintf("an output of %dx%d pixels is more than the %d-byte image limit", p.Width, p.Height, limit)}
	}
	src := toBase(img, p.Gray)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	newImage := func(w, h int) draw.Image {
		r := image.Rect(0, 0, w, h)
		if p.Gray {
			return image.NewGray(r)
		}
		return image.NewRGBA(r)
	}
	if p.Stretch {
		if w != p.Width || h != p.Height {
			// torchvision's Resize((H, W)): the whole image, the aspect
			// ratio not kept.
			dst := newImage(p.Width, p.Height)
			draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
			src, w, h = dst, p.Width, p.Height
			b = src.Bounds()
		}
	} else if p.Resize > 0 && min(w, h) != p.Resize {
		// torchvision: the long side becomes int(resize * long / short).
		nw, nh := int64(p.Resize), int64(p.Resize)
		if w < h {
			nh = int64(p.Resize) * int64(h) / int64(w)
		} else {
			nw = int64(p.Resize) * int64(w) / int64(h)
		}
		// nw, nh < 2^31·2^31 each cannot overflow once each is checked
		// against the cap.
		if nw > limit || nh > limit || nw*nh*perPixel > limit {
			return nil, 0, 0, sizeError{fmt.Sprintf("resizing the %dx%d image to a shorter side of %d gives %dx%d pixels, more than the %d-byte image limit",
				w, h, p.Resize, nw, nh, limit)}
		}
		dst := newImage(int(nw), int(nh))
		draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		src, w, h = dst, int(nw), int(nh)
		b = src.Bounds()
	}
	cropH, cropW = p.Height, p.Width
	if cropH == 0 {
		cropH, cropW = h, w
	}
	mean, std := p.Mean, p.Std
	if len(mean) == 0 {
		mean, std = []float32{0, 0, 0}, []float32{1, 1, 1}
	}
	// CenterCrop: top = round((h - cropH) / 2), half to even as Python does.
	top := int(math.RoundToEven(float64(h-cropH) / 2))
	left := int(math.RoundToEven(float64(w-cropW) / 2))
	plane := cropH * cropW
	out = make([]float32, channels*plane)
	for y := range cropH {
		sy := top + y
		for x := range cropW {
			sx := left + x
			var px [3]float32
			if sy >= 0 && sy < h && sx >= 0 && sx < w {
				// Outside the image (a crop larger than the image) stays 0,
				// as torchvision pads.
				px = pixel8(src, b.Min.X+sx, b.Min.Y+sy)
			}
			for c := range channels {
				// x' = (v/255 - mean) / std
				out[c*plane+y*cropW+x] = (px[c]/255 - mean[c]) / std[c]
			}
		}
	}
	return out, cropH, cropW, nil
}

// toBase converts any decoded image to 8-bit Gray or opaque RGBA, so that
// resampling works on 8-bit values as PIL does. Alpha is dropped as PIL's
// convert("RGB") and convert("L") drop it: the colour channels are taken
// as stored (not premultiplied), whatever the transparency; 16-bit
// channels keep their high byte.
func toBase(img image.Image, gray bool) draw.Image {
	b := img.Bounds()
	if gray {
		if g, ok := img.(*image.Gray); ok {
			return g
		}
		at := rgbAt(img)
		g := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := g.Pix[(y-b.Min.Y)*g.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				row[x-b.Min.X] = luma(at(x, y))
			}
		}
		return g
	}
	if r, ok := img.(*image.RGBA); ok && r.Opaque() {
		return r
	}
	at := rgbAt(img)
	r := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := r.Pix[(y-b.Min.Y)*r.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			i := 4 * (x - b.Min.X)
			row[i], row[i+1], row[i+2] = at(x, y)
			row[i+3] = 255
		}
	}
	return r
}

// rgbAt returns a function giving the pixel (x, y) of img as rgb8 gives
// it, reading the common image types directly (no colour interface per
// pixel).
func rgbAt(img image.Image) func(x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x, y)]
			return v, v, v
		}
	case *image.Gray16:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x, y)] // the high byte, first
			return v, v, v
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) { return unpremultiply(m.RGBAAt(x, y)) }
	case *image.NRGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x, y)
			return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	case *image.NRGBA64:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x, y) // big-endian 16-bit values: high bytes at 0, 2, 4
			return m.Pix[i], m.Pix[i+2], m.Pix[i+4]
		}
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) {
			c := m.YCbCrAt(x, y)
			return color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		}
	case *image.NYCbCrA:
		return func(x, y int) (uint8, uint8, uint8) {
			c := m.YCbCrAt(x, y) // the colour as stored, before alpha
			return color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		}
	case *image.CMYK:
		return func(x, y int) (uint8, uint8, uint8) {
			c := m.CMYKAt(x, y)
			return color.CMYKToRGB(c.C, c.M, c.Y, c.K)
		}
	case *image.Paletted:
		// Each palette entry once; an index past the palette is black.
		pal := make([][3]uint8, 256)
		for i, c := range m.Palette {
			if i < len(pal) && c != nil {
				pal[i][0], pal[i][1], pal[i][2] = rgb8(c)
			}
		}
		return func(x, y int) (uint8, uint8, uint8) {
			c := pal[m.Pix[m.PixOffset(x, y)]]
			return c[0], c[1], c[2]
		}
	}
	return func(x, y int) (uint8, uint8, uint8) { return rgb8(img.At(x, y)) }
}

// unpremultiply returns a premultiplied colour's 8-bit red, green and
// blue before alpha was applied, as color.NRGBA64Model computes them
// (black where alpha is 0), taking the high byte.
func unpremultiply(c color.RGBA) (r, g, b uint8) {
	switch c.A {
	case 255:
		return c.R, c.G, c.B
	case 0:
		return 0, 0, 0
	}
	a := uint32(c.A) * 0x101
	un := func(v uint8) uint8 { return uint8(uint32(v) * 0x101 * 0xffff / a >> 8) }
	return un(c.R), un(c.G), un(c.B)
}

// rgb8 returns a colour's 8-bit red, green and blue as stored before any
// alpha was applied: Go's RGBA() is premultiplied, PIL's values are not.
// A fully transparent pixel of a premultiplied type (image.RGBA) has lost
// its colour and gives black.
func rgb8(c color.Color) (r, g, b uint8) {
	switch c := c.(type) {
	case color.NRGBA:
		return c.R, c.G, c.B
	case color.NRGBA64:
		return uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)
	case color.Gray:
		return c.Y, c.Y, c.Y
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)
}

// luma is PIL's convert("L"): L = R*299/1000 + G*587/1000 + B*114/1000 on
// 8-bit values, in 16.16 fixed point with rounding.
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// pixel8 returns the 8-bit channel values of a pixel of the Gray or RGBA
// image toBase made (or the resize made of it).
func pixel8(img draw.Image, x, y int) [3]float32 {
	switch im := img.(type) {
	case *image.Gray:
		return [3]float32{float32(im.GrayAt(x, y).Y)}
	case *image.RGBA:
		c := im.RGBAAt(x, y)
		return [3]float32{float32(c.R), float32(c.G), float32(c.B)}
	}
	r, g, b := rgb8(img.At(x, y))
	return [3]float32{float32(r), float32(g), float32(b)}
}
