package vision

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // GIF decoding (the first frame)
	_ "image/jpeg" // JPEG decoding
	_ "image/png"  // PNG decoding
	"io"
	"os"

	_ "golang.org/x/image/bmp"  // BMP decoding
	_ "golang.org/x/image/tiff" // TIFF decoding
	_ "golang.org/x/image/webp" // WebP decoding
)

// DefaultMaxImageBytes bounds the memory a decoded image takes (its pixels
// as decoded plus their conversion to 8-bit RGBA), checked from the
// file's header before anything is decoded, and the size of a resized
// image before it is allocated.
const DefaultMaxImageBytes = 512 << 20

// DefaultMaxFileBytes bounds the bytes Decode and DecodeFile read.
const DefaultMaxFileBytes = 128 << 20

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

// ErrTooLarge is matched (errors.Is) by the errors of images, files and
// resizes refused for their size or decoding work.
var ErrTooLarge = errors.New("image too large")

// sizeError is an error about a size past a limit: its message as it
// stands, matching ErrTooLarge.
type sizeError struct{ msg string }

func (e sizeError) Error() string        { return e.msg }
func (e sizeError) Is(target error) bool { return target == ErrTooLarge }

// DecodeOptions are the options of Decode, DecodeBytes and DecodeFile.
// The zero value (and nil) decodes as PIL's Image.open does: the pixels as
// stored, EXIF orientation not applied.
type DecodeOptions struct {
	// AutoOrient applies a JPEG's EXIF orientation (tag 0x0112 of the
	// APP1 Exif segment), rotating and flipping the image as
	// PIL's ImageOps.exif_transpose does. Off by default, as PIL's
	// Image.open, and so the usual torchvision pipelines, leave the
	// image as stored.
	AutoOrient bool
	// MaxImageBytes bounds the decoded image's memory (0:
	// DefaultMaxImageBytes).
	MaxImageBytes int64
	// MaxFileBytes bounds the bytes Decode and DecodeFile read (0:
	// DefaultMaxFileBytes).
	MaxFileBytes int64
}

func (o *DecodeOptions) maxImage() int64 {
	if o == nil || o.MaxImageBytes <= 0 {
		return DefaultMaxImageBytes
	}
	return o.MaxImageBytes
}

func (o *DecodeOptions) maxFile() int64 {
	if o == nil || o.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}

// Decode reads an image from r, at most opts.MaxFileBytes of it, and
// decodes it with DecodeBytes. opts may be nil.
func Decode(r io.Reader, opts *DecodeOptions) (image.Image, error) {
	limit := opts.maxFile()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, sizeError{fmt.Sprintf("image data is larger than %d bytes", limit)}
	}
	return DecodeBytes(data, opts)
}

// DecodeFile reads the image file at path (a regular file, a pipe or a
// device, at most opts.MaxFileBytes of it) and decodes it with
// DecodeBytes; its errors name the file. opts may be nil.
func DecodeFile(path string, opts *DecodeOptions) (image.Image, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("image %s is a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := opts.maxFile()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, sizeError{fmt.Sprintf("image %s is larger than %d bytes", path, limit)}
	}
	img, err := DecodeBytes(data, opts)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes a PNG, JPEG, GIF (its first frame), BMP, TIFF or
// WebP image held in data. It refuses, from the header and before
// decoding, images whose pixels would take more than opts.MaxImageBytes
// and JPEGs whose scans would take time out of proportion to their size.
// A GIF's transparent palette entry keeps its colour, as PIL keeps it
// (Go's decoder makes it transparent black). With opts.AutoOrient a JPEG's
// EXIF orientation is applied. opts may be nil.
func DecodeBytes(data []byte, opts *DecodeOptions) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	// Decoding takes width*height*bytesPerPixel; converting to 8-bit RGBA
	// (or orienting) up to 4 bytes a pixel more; a progressive JPEG keeps
	// 2 bytes of coefficients per pixel and component while it decodes.
	perPixel := bytesPerPixel(cfg.ColorModel) + 4
	pixels := int64(cfg.Width) * int64(cfg.Height)
	var js jpegStructure
	if format == "jpeg" {
		js = scanJPEG(data)
		if js.progressive {
			perPixel += 2 * int64(js.components)
		}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || pixels*perPixel > opts.maxImage() {
		return nil, sizeError{fmt.Sprintf("%s of %dx%d pixels is empty or too large", format, cfg.Width, cfg.Height)}
	}
	if js.scans > maxJPEGScans || int64(js.scans)*pixels > maxJPEGScanPixels {
		return nil, sizeError{fmt.Sprintf("jpeg of %dx%d pixels in %d scans is more decoding work than bnrun takes on (at most %d scans, %d pixels over all scans)",
			cfg.Width, cfg.Height, js.scans, maxJPEGScans, int64(maxJPEGScanPixels))}
	}
	var r io.Reader = bytes.NewReader(data)
	if format == "gif" {
		if i := gifTransparencyFlag(data); i >= 0 {
			// The same bytes with the flag cleared, without copying them.
			r = io.MultiReader(bytes.NewReader(data[:i]), bytes.NewReader([]byte{data[i] &^ 1}), bytes.NewReader(data[i+1:]))
		}
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.AutoOrient && js.orientation > 1 {
		img = orient(img, js.orientation)
	}
	return img, nil
}

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

// jpegStructure is what scanJPEG learns from a JPEG's markers.
type jpegStructure struct {
	scans       int  // SOS markers
	progressive bool // SOF2 (or the other progressive SOFs)
	components  int  // in the frame header
	orientation int  // EXIF orientation 1..8 from the first APP1 Exif segment; 0 when none
}

// scanJPEG walks the marker segments of a JPEG file (and the entropy-coded
// data after each SOS) in one pass over its bytes, counting scans and
// reading the EXIF orientation. It stops at EOI or at the end of the data;
// what it does not understand it leaves to the decoder.
func scanJPEG(data []byte) jpegStructure {
	var js jpegStructure
	exifSeen := false
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
		case m == 0xe1 && !exifSeen && bytes.HasPrefix(seg, []byte("Exif\x00\x00")): // APP1 Exif
			exifSeen = true
			js.orientation = exifOrientation(seg[6:])
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

// gifTransparencyFlag returns the offset of the packed byte of the GIF's
// first graphic control extension when its bit 0 ("a transparent colour
// index is given") is set, and -1 otherwise. Decoding with that bit
// cleared keeps the entry's colour, as PIL's convert("RGB") keeps it,
// where Go's decoder makes it transparent black. It walks the blocks
// before the first image descriptor; what it does not understand it leaves
// to the decoder.
func gifTransparencyFlag(data []byte) int {
	// Header (6 bytes), logical screen descriptor (7): its packed field
	// says whether a global colour table of 3·2^(n+1) bytes follows.
	const lsd = 6 + 7
	if len(data) < lsd {
		return -1
	}
	i := lsd
	if data[10]&0x80 != 0 {
		i += 3 << (data[10]&7 + 1)
	}
	for i+1 < len(data) {
		if data[i] != 0x21 {
			return -1 // an image descriptor (0x2c), the trailer or garbage
		}
		// An extension: its label, then sub-blocks until one of length 0.
		label := data[i+1]
		j := i + 2
		if label == 0xf9 && j+1 < len(data) && data[j] == 4 {
			// Graphic control: block size 4, then the packed field.
			if data[j+1]&1 != 0 {
				return j + 1
			}
			return -1
		}
		for j < len(data) && data[j] != 0 {
			j += 1 + int(data[j])
		}
		i = j + 1
	}
	return -1
}
