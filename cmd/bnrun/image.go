package main

import (
	"bytes"
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

// maxImageFileBytes bounds the bytes read from an image file, a pipe or
// standard input.
const maxImageFileBytes = 128 << 20

// JPEG decoding walks every block of the image once per scan, so a small
// progressive file with many near-empty scans costs time out of all
// proportion to its size. These bound it: at most maxJPEGScans scans, and
// at most maxJPEGScanPixels pixels decoded over all scans (about a second
// of decoding; a 6000×4000 photo with libjpeg's 10 progressive scans
// takes 240 million).
const (
	maxJPEGScans      = 256
	maxJPEGScanPixels = 2 << 30
)

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

// decodeImage decodes a PNG or JPEG image held in data, refusing huge
// ones before allocating them and JPEGs whose scans would take time out of
// proportion to their size.
func decodeImage(data []byte, name string) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", name, err)
	}
	// Decoding takes width*height*bytesPerPixel; converting to 8-bit RGBA
	// up to 4 bytes a pixel more; a progressive JPEG keeps 2 bytes of
	// coefficients per pixel and component while it decodes.
	perPixel := bytesPerPixel(cfg.ColorModel) + 4
	pixels := int64(cfg.Width) * int64(cfg.Height)
	var js jpegStructure
	if format == "jpeg" {
		js = scanJPEG(data)
		if js.progressive {
			perPixel += 2 * int64(js.components)
		}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || pixels*perPixel > maxImageBytes {
		return nil, fmt.Errorf("image %s: %s of %dx%d pixels is empty or too large", name, format, cfg.Width, cfg.Height)
	}
	if js.scans > maxJPEGScans || int64(js.scans)*pixels > maxJPEGScanPixels {
		return nil, fmt.Errorf("image %s: jpeg of %dx%d pixels in %d scans is more decoding work than bnrun takes on (at most %d scans, %d pixels over all scans)",
			name, cfg.Width, cfg.Height, js.scans, maxJPEGScans, int64(maxJPEGScanPixels))
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", name, err)
	}
	return img, nil
}

// jpegStructure is what scanJPEG learns from a JPEG's markers.
type jpegStructure struct {
	scans       int  // SOS markers
	progressive bool // SOF2 (or the other progressive SOFs)
	components  int  // in the frame header
}

// scanJPEG walks the marker segments of a JPEG file (and the entropy-coded
// data after each SOS) in one pass over its bytes, counting scans. It
// stops at EOI or at the end of the data; what it does not understand it
// leaves to the decoder.
func scanJPEG(data []byte) jpegStructure {
	var js jpegStructure
	i := 2 // past SOI
	for i+1 < len(data) {
		if data[i] != 0xff {
			return js // not at a marker: the decoder will say why
		}
		m := data[i+1]
		i += 2
		switch {
		case m == 0xff: // fill byte
			i--
			continue
		case m == 0xd9: // EOI
			return js
		case m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7):
			continue // markers without a length
		}
		if i+1 >= len(data) {
			return js
		}
		// The length counts itself (two bytes) and the segment.
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 {
			return js
		}
		seg := data[i+2 : min(i+n, len(data))]
		i += n
		switch {
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc: // SOFn
			js.progressive = js.progressive || m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce
			if len(seg) >= 6 {
				js.components = int(seg[5])
			}
		case m == 0xda: // SOS: entropy-coded data follows until the next marker
			js.scans++
			for i+1 < len(data) {
				if data[i] == 0xff && data[i+1] != 0 && (data[i+1] < 0xd0 || data[i+1] > 0xd7) {
					break
				}
				i++
			}
		}
	}
	return js
}

// readImageFile reads an image from a file, a pipe, or standard input when
// path is "-", at most maxImageFileBytes of it.
func readImageFile(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("image %s is a directory", path)
		}
		// Regular files, pipes and character devices are read the same
		// way: as a stream, bounded.
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImageFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", path, err)
	}
	if len(data) > maxImageFileBytes {
		return nil, fmt.Errorf("image %s is larger than %d bytes", path, maxImageFileBytes)
	}
	return data, nil
}

// loadImage reads and decodes the image at path ("-": standard input).
func loadImage(path string) (image.Image, error) {
	data, err := readImageFile(path)
	if err != nil {
		return nil, err
	}
	return decodeImage(data, path)
}

// preprocessing is what torchvision's Resize, CenterCrop, ToTensor and
// Normalize do for ImageNet models, with sizes taken from the model.
type preprocessing struct {
	channels     int // 1 (grayscale) or 3 (RGB)
	resize       int // shorter side after resizing; 0 means no resize
	cropH, cropW int
	stretch      bool      // resize the whole image to cropW×cropH instead (no crop)
	mean, std    []float32 // one per channel
}

// apply turns an image into a [channels, cropH, cropW] float32 tensor:
// resize so the shorter side is p.resize (bilinear, antialiased when
// shrinking), crop the centre, scale 8-bit values to [0,1], then
// x' = (x - mean[c]) / std[c]. It refuses a resize whose result would be
// larger than maxImageBytes (a 60000×1 strip resized to a shorter side of
// 256) before allocating it.
func (p *preprocessing) apply(img image.Image) ([]float32, error) {
	src := toBaseImage(img, p.channels)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if p.stretch && (w != p.cropW || h != p.cropH) {
		// torchvision's Resize((H, W)): the whole image, the aspect ratio
		// not kept.
		var dst draw.Image
		r := image.Rect(0, 0, p.cropW, p.cropH)
		if p.channels == 1 {
			dst = image.NewGray(r)
		} else {
			dst = image.NewRGBA(r)
		}
		draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		src, w, h = dst, p.cropW, p.cropH
		b = src.Bounds()
	} else if p.resize > 0 && min(w, h) != p.resize {
		// torchvision: the long side becomes int(resize * long / short).
		nw, nh := int64(p.resize), int64(p.resize)
		if w < h {
			nh = int64(p.resize) * int64(h) / int64(w)
		} else {
			nw = int64(p.resize) * int64(w) / int64(h)
		}
		// 1 byte a pixel for Gray, 4 for RGBA; nw, nh < 2^31·2^31 each
		// cannot overflow once each is checked against the cap.
		perPixel := int64(4)
		if p.channels == 1 {
			perPixel = 1
		}
		if nw > maxImageBytes || nh > maxImageBytes || nw*nh*perPixel > maxImageBytes {
			return nil, fmt.Errorf("resizing the %dx%d image to a shorter side of %d gives %dx%d pixels, more than the %d-byte image limit",
				w, h, p.resize, nw, nh, maxImageBytes)
		}
		var dst draw.Image
		r := image.Rect(0, 0, int(nw), int(nh))
		if p.channels == 1 {
			dst = image.NewGray(r)
		} else {
			dst = image.NewRGBA(r)
		}
		draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		src, w, h = dst, int(nw), int(nh)
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
				px = pixel8(src, b.Min.X+sx, b.Min.Y+sy)
			}
			for c := 0; c < p.channels; c++ {
				// x' = (v/255 - mean) / std
				out[c*plane+y*p.cropW+x] = (px[c]/255 - p.mean[c]) / p.std[c]
			}
		}
	}
	return out, nil
}

// toBaseImage converts any decoded image to 8-bit Gray or RGBA, so that
// resampling works on 8-bit values as PIL does. Alpha is dropped as PIL's
// convert("RGB") and convert("L") drop it: the colour channels are taken
// as stored (not premultiplied), whatever the transparency; 16-bit
// channels keep their high byte.
func toBaseImage(img image.Image, channels int) draw.Image {
	b := img.Bounds()
	if channels == 1 {
		if g, ok := img.(*image.Gray); ok {
			return g
		}
		g := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g.SetGray(x, y, color.Gray{Y: luma(rgb8(img.At(x, y)))})
			}
		}
		return g
	}
	if r, ok := img.(*image.RGBA); ok && r.Opaque() {
		return r
	}
	r := image.NewRGBA(b)
	if n, ok := img.(*image.NRGBA); ok && n.Stride == 4*b.Dx() {
		// The stored colour with alpha set to opaque: PIL's RGBA -> RGB.
		copy(r.Pix, n.Pix[:len(r.Pix)])
		for i := 3; i < len(r.Pix); i += 4 {
			r.Pix[i] = 255
		}
		return r
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb := rgb8(img.At(x, y))
			r.SetRGBA(x, y, color.RGBA{cr, cg, cb, 255})
		}
	}
	return r
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
// image toBaseImage made.
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
