package vision

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// fuzzSeeds are the shipped test images of at most 4 KB (the fuzzer
// minimises each new input it keeps, in time quadratic in its size) and
// tiny images of each format encoded here.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	paths, _ := filepath.Glob("../testdata/images/*.*")
	more, _ := filepath.Glob("../testdata/images/*/*.*")
	for _, p := range append(paths, more...) {
		switch filepath.Ext(p) {
		case ".png", ".jpg", ".gif", ".bmp", ".tif", ".webp":
			if data, err := os.ReadFile(p); err == nil && len(data) <= 4<<10 {
				seeds = append(seeds, data)
			}
		}
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, 6, 4))
	gray := image.NewGray(rgba.Bounds())
	pal := image.NewPaletted(rgba.Bounds(), color.Palette{color.Black, color.White, color.NRGBA{200, 10, 20, 128}})
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(41 * i)
	}
	for i := range gray.Pix {
		gray.Pix[i], pal.Pix[i] = uint8(9*i), uint8(i%3)
	}
	enc := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	for _, img := range []image.Image{rgba, gray, pal} {
		var b bytes.Buffer
		enc(bmp.Encode(&b, img))
		seeds = append(seeds, b.Bytes())
		b = bytes.Buffer{}
		enc(tiff.Encode(&b, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true}))
		seeds = append(seeds, b.Bytes())
		b = bytes.Buffer{}
		enc(png.Encode(&b, img))
		seeds = append(seeds, b.Bytes())
		b = bytes.Buffer{}
		enc(jpeg.Encode(&b, img, nil))
		seeds = append(seeds, b.Bytes())
	}
	var b bytes.Buffer
	enc(gif.Encode(&b, pal, nil))
	seeds = append(seeds, b.Bytes())
	return seeds
}

// FuzzDecodeImage feeds bytes to vision's image path: decoding (with and
// without EXIF orientation) must fail with an error or give an image that
// Preprocess turns into a tensor, never panic or allocate without bound.
// The image cap is 8 MiB here: below the cap a file may legitimately
// decode to that many pixels from a few bytes (a lossless WebP whose
// Huffman codes take no bits a pixel), which at the default 512 MiB takes
// seconds an input and would slow the fuzzer a thousandfold.
func FuzzDecodeImage(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, orient := range []bool{false, true} {
			img, err := DecodeBytes(data, &DecodeOptions{AutoOrient: orient, MaxImageBytes: 8 << 20})
			if err != nil {
				return
			}
			b := img.Bounds()
			if b.Dx()*b.Dy() > 1<<16 {
				return // large but valid: decoding is what is fuzzed here
			}
			for _, gray := range []bool{true, false} {
				p := Preprocess{Gray: gray, Resize: 9, Height: 7, Width: 7}
				if !gray {
					p.Mean, p.Std = ImageNetMean, ImageNetStd
				}
				x, err := p.Tensor(img)
				if err != nil {
					t.Fatal(err)
				}
				if len(x.F32) != p.Channels()*49 {
					t.Fatalf("%d values for %d channels", len(x.F32), p.Channels())
				}
			}
		}
	})
}
