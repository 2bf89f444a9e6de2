package vision

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
)

// exifTIFF encodes the TIFF part of an Exif segment: a header in the
// given byte order and IFD0 holding one entry per tag of entries, each
// {tag, type, count, value}.
func exifTIFF(bo binary.AppendByteOrder, entries ...[4]uint32) []byte {
	b := []byte("II")
	if bo == binary.AppendByteOrder(binary.BigEndian) {
		b = []byte("MM")
	}
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = bo.AppendUint16(b, uint16(e[0]))
		b = bo.AppendUint16(b, uint16(e[1]))
		b = bo.AppendUint32(b, e[2])
		if e[1] == 3 {
			b = bo.AppendUint16(b, uint16(e[3]))
			b = append(b, 0, 0)
		} else {
			b = bo.AppendUint32(b, e[3])
		}
	}
	return bo.AppendUint32(b, 0) // no next IFD
}

// TestExifOrientation: the parser reads tag 0x0112 from IFD0 in either
// byte order and gives 0 for anything malformed or out of range.
func TestExifOrientation(t *testing.T) {
	le, be := binary.AppendByteOrder(binary.LittleEndian), binary.AppendByteOrder(binary.BigEndian)
	other := [4]uint32{0x010f, 2, 4, 0} // Make
	huge := exifTIFF(le, other)
	binary.LittleEndian.PutUint16(huge[8:], 0xffff) // 65535 entries declared, one present
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian SHORT", exifTIFF(le, other, [4]uint32{0x0112, 3, 1, 6}), 6},
		{"big-endian SHORT", exifTIFF(be, [4]uint32{0x0112, 3, 1, 8}, other), 8},
		{"LONG", exifTIFF(be, [4]uint32{0x0112, 4, 1, 3}), 3},
		{"no orientation", exifTIFF(le, other), 0},
		{"out of range", exifTIFF(le, [4]uint32{0x0112, 3, 1, 9}), 0},
		{"zero", exifTIFF(le, [4]uint32{0x0112, 3, 1, 0}), 0},
		{"wrong type", exifTIFF(le, [4]uint32{0x0112, 2, 1, 6}), 0},
		{"count 2", exifTIFF(le, [4]uint32{0x0112, 3, 2, 6}), 0},
		{"bad magic", append([]byte("II\x2b\x00"), exifTIFF(le, [4]uint32{0x0112, 3, 1, 6})[4:]...), 0},
		{"bad byte order", append([]byte("IM"), exifTIFF(le, [4]uint32{0x0112, 3, 1, 6})[2:]...), 0},
		{"IFD offset past the end", append(exifTIFF(le)[:4], 0xff, 0xff, 0xff, 0xff), 0},
		{"entry cut short", exifTIFF(le, [4]uint32{0x0112, 3, 1, 6})[:18], 0},
		{"more entries declared than present", huge, 0},
		{"empty", nil, 0},
	}
	for _, c := range cases {
		if got := exifOrientation(c.data); got != c.want {
			t.Errorf("%s: orientation %d, want %d", c.name, got, c.want)
		}
	}
	if js := scanJPEG(testImage(t, "exif6.jpg")); js.orientation != 6 {
		t.Errorf("exif6.jpg: orientation %d, want 6", js.orientation)
	}
	if js := scanJPEG(testImage(t, "sample_rgb.jpg")); js.orientation != 0 {
		t.Errorf("sample_rgb.jpg: orientation %d, want none", js.orientation)
	}
}

// TestAutoOrient: EXIF orientation is applied only when asked for; gray
// JPEGs turn as colour ones do.
func TestAutoOrient(t *testing.T) {
	data := testImage(t, "exif6.jpg")
	plain, err := DecodeBytes(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	turned, err := DecodeBytes(data, &DecodeOptions{AutoOrient: true})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Bounds().Size() != image.Pt(64, 48) || turned.Bounds().Size() != image.Pt(48, 64) {
		t.Fatalf("sizes %v and %v, want 64x48 as stored and 48x64 turned", plain.Bounds().Size(), turned.Bounds().Size())
	}
	// Orientation 6 turns clockwise: the turned image's top-right pixel is
	// the stored top-left.
	r0, g0, b0 := rgb8(plain.At(0, 0))
	r1, g1, b1 := rgb8(turned.At(47, 0))
	if r0 != r1 || g0 != g1 || b0 != b1 {
		t.Errorf("turned (47,0) = %d,%d,%d, stored (0,0) = %d,%d,%d", r1, g1, b1, r0, g0, b0)
	}
	// Gray: orient keeps *image.Gray and agrees with the colour path.
	g := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range g.Pix {
		g.Pix[i] = uint8(17 * i)
	}
	rgba := image.NewRGBA(g.Bounds())
	for y := range 3 {
		for x := range 5 {
			v := g.GrayAt(x, y).Y
			rgba.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	for o := 1; o <= 8; o++ {
		og, oc := orient(g, o), orient(rgba, o).(*image.RGBA)
		gg, ok := og.(*image.Gray)
		if !ok || gg.Bounds() != oc.Bounds() {
			t.Fatalf("orientation %d: %T %v vs %v", o, og, og.Bounds(), oc.Bounds())
		}
		for i, v := range gg.Pix {
			if oc.Pix[4*i] != v {
				t.Fatalf("orientation %d: gray and colour paths differ at %d", o, i)
			}
		}
	}
}

// TestPixelPaths: toBase's per-type readers give exactly what the
// generic path (rgb8 of At) gives, for every shipped image and for image
// types the decoders make less often.
func TestPixelPaths(t *testing.T) {
	imgs := map[string]image.Image{}
	paths, _ := filepath.Glob("../testdata/images/*.*")
	more, _ := filepath.Glob("../testdata/images/*/*.png")
	for _, p := range append(paths, more...) {
		img, err := DecodeFile(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		imgs[p] = img
	}
	r := image.Rect(1, 2, 8, 7) // an origin off zero
	fill := func(set func(x, y int, v uint8)) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				set(x, y, uint8(37*x+11*y))
			}
		}
	}
	g16, n64, rgba, cmyk, rgba64 := image.NewGray16(r), image.NewNRGBA64(r), image.NewRGBA(r), image.NewCMYK(r), image.NewRGBA64(r)
	fill(func(x, y int, v uint8) {
		g16.SetGray16(x, y, color.Gray16{Y: uint16(v)<<8 | 0x5a})
		n64.SetNRGBA64(x, y, color.NRGBA64{uint16(v) << 8, 0x1234, uint16(255-v) << 8, uint16(v) * 200})
		a := v / 2
		rgba.SetRGBA(x, y, color.RGBA{a / 3, a / 2, a, a}) // premultiplied, translucent
		cmyk.SetCMYK(x, y, color.CMYK{v, 255 - v, v / 2, v / 3})
		rgba64.SetRGBA64(x, y, color.RGBA64{uint16(v) << 7, 0x1000, 0x2000, 0x8000})
	})
	imgs["gray16"], imgs["nrgba64"], imgs["rgba translucent"], imgs["cmyk"], imgs["rgba64 (generic)"] = g16, n64, rgba, cmyk, rgba64
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewNYCbCrA(r, ratio)
		for i := range y.Y {
			y.Y[i], y.A[i] = uint8(13*i), uint8(7*i)
		}
		for i := range y.Cb {
			y.Cb[i], y.Cr[i] = uint8(29*i), uint8(255-23*i)
		}
		imgs["ycbcr "+ratio.String()] = &y.YCbCr
		// NYCbCrA (lossy WebP with alpha): the colour as stored, as PIL's
		// convert("RGB") takes it, where the generic path unpremultiplies.
		at, want := rgbAt(y), rgbAt(&y.YCbCr)
		for py := r.Min.Y; py < r.Max.Y; py++ {
			for px := r.Min.X; px < r.Max.X; px++ {
				r0, g0, b0 := at(px, py)
				r1, g1, b1 := want(px, py)
				if r0 != r1 || g0 != g1 || b0 != b1 {
					t.Fatalf("NYCbCrA %v at (%d,%d): %d,%d,%d, the colour as stored %d,%d,%d", ratio, px, py, r0, g0, b0, r1, g1, b1)
				}
			}
		}
	}
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{10, 20, 30, 0}, color.RGBA{40, 50, 60, 255}})
	fill(func(x, y int, v uint8) { pal.SetColorIndex(x, y, v%3) }) // index 2: past the palette, black
	imgs["paletted"] = pal
	for name, img := range imgs {
		if _, ok := img.(*image.NYCbCrA); ok {
			continue // the colour as stored, checked above
		}
		at := rgbAt(img)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r0, g0, b0 := at(x, y)
				var r1, g1, b1 uint8 // black for an index past the palette (At panics)
				if p, ok := img.(*image.Paletted); !ok || int(p.ColorIndexAt(x, y)) < len(p.Palette) {
					r1, g1, b1 = rgb8(img.At(x, y))
				}
				if r0 != r1 || g0 != g1 || b0 != b1 {
					t.Fatalf("%s (%T) at (%d,%d): %d,%d,%d, the generic path %d,%d,%d", name, img, x, y, r0, g0, b0, r1, g1, b1)
				}
			}
		}
	}
}

// TestGIFTransparentColour: a GIF's transparent palette entry keeps its
// colour (as PIL's convert("RGB") keeps it); image/gif alone makes it
// transparent black.
func TestGIFTransparentColour(t *testing.T) {
	data := testImage(t, "scene.gif")
	raw, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeBytes(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, q := raw.(*image.Paletted), img.(*image.Paletted)
	if _, _, _, a := p.Palette[3].RGBA(); a != 0 {
		t.Fatal("scene.gif: entry 3 is not transparent")
	}
	if _, _, _, a := q.Palette[3].RGBA(); a != 0xffff {
		t.Errorf("entry 3 decoded as %v, want opaque", q.Palette[3])
	}
	n := bytes.Count(q.Pix, []byte{3})
	if n == 0 || !bytes.Equal(p.Pix, q.Pix) {
		t.Errorf("%d pixels of entry 3; pixels equal: %v", n, bytes.Equal(p.Pix, q.Pix))
	}
	// No flag in a GIF cut before its blocks or without a colour table.
	for _, d := range [][]byte{data[:12], data[:13], []byte("GIF89a"), data[:13+3<<(data[10]&7+1)]} {
		if i := gifTransparencyFlag(d); i != -1 {
			t.Errorf("flag at %d in %q", i, d)
		}
	}
	if i := gifTransparencyFlag(data); i < 0 || data[i]&1 == 0 || data[i-2] != 0xf9 || data[i-1] != 4 {
		t.Errorf("flag at %d", i)
	}
}

// TestDecodeLimits: the file and image caps are options, and their errors
// match ErrTooLarge.
func TestDecodeLimits(t *testing.T) {
	data := testImage(t, "sample_rgb.jpg")
	if _, err := Decode(bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	_, err := Decode(bytes.NewReader(data), &DecodeOptions{MaxFileBytes: 1000})
	hostileCheck(t, err, "image data is larger than 1000 bytes")
	// 300×200 YCbCr: (3 + 4) bytes a pixel.
	_, err = DecodeBytes(data, &DecodeOptions{MaxImageBytes: 300*200*7 - 1})
	hostileCheck(t, err, "jpeg of 300x200 pixels is empty or too large")
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("%v does not match ErrTooLarge", err)
	}
	if _, err := DecodeBytes(data, &DecodeOptions{MaxImageBytes: 300 * 200 * 7}); err != nil {
		t.Error(err)
	}
	_, err = DecodeFile(t.TempDir(), nil)
	hostileCheck(t, err, "is a directory")
	if _, err := DecodeFile(filepath.Join(t.TempDir(), "none.png"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A resize past the image cap.
	strip := image.NewGray(image.Rect(0, 0, 60000, 1))
	_, err = Preprocess{Resize: 256, Height: 224, Width: 224}.Tensor(strip)
	hostileCheck(t, err, "resizing the 60000x1 image to a shorter side of 256 gives 15360000x256 pixels, more than the 536870912-byte image limit")
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("%v does not match ErrTooLarge", err)
	}
	_, err = Preprocess{Height: 1 << 20, Width: 1 << 20}.Tensor(strip)
	hostileCheck(t, err, "an output of 1048576x1048576 pixels is more than the 536870912-byte image limit")
}

// TestPreprocessOptions: field checks, batches, sizes, ForModel.
func TestPreprocessOptions(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque
		}
	}
	bad := []struct {
		p    Preprocess
		want string
	}{
		{Preprocess{Resize: -1}, "negative size"},
		{Preprocess{Height: 5}, "height 5 and width 0: give both or neither"},
		{Preprocess{Stretch: true}, "stretch needs a height and a width"},
		{Preprocess{Mean: []float32{0.5}, Std: []float32{1}}, "1 means and 1 stds for 3 channels"},
		{Preprocess{Gray: true, Mean: []float32{0.5}}, "1 means and 0 stds for 1 channels"},
		{Preprocess{Gray: true, Mean: []float32{0.5}, Std: []float32{0}}, "a std of 0"},
	}
	for _, c := range bad {
		_, err := c.p.Tensor(img)
		hostileCheck(t, err, c.want)
	}
	if _, err := (Preprocess{}).Tensor(); err == nil {
		t.Error("no images: no error")
	}
	// The zero value: the image whole, x = pixel/255.
	x, err := Preprocess{}.Tensor(img)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(x.Shape) != "[1 3 30 40]" || x.F32[1] != float32(4)/255 || x.F32[1200] != float32(1)/255 {
		t.Errorf("zero Preprocess: shape %v, values %v %v", x.Shape, x.F32[1], x.F32[1200])
	}
	// A batch: the same image twice gives the same planes twice.
	p := Preprocess{Resize: 20, Height: 16, Width: 16, Mean: ImageNetMean, Std: ImageNetStd}
	if fmt.Sprint(p.Shape(2)) != "[2 3 16 16]" {
		t.Errorf("Shape(2) = %v", p.Shape(2))
	}
	b, err := p.Tensor(img, img)
	if err != nil {
		t.Fatal(err)
	}
	n := 3 * 16 * 16
	if fmt.Sprint(b.Shape) != "[2 3 16 16]" || !slices.Equal(b.F32[:n], b.F32[n:]) {
		t.Errorf("batch of 2: shape %v, images equal %v", b.Shape, slices.Equal(b.F32[:n], b.F32[n:]))
	}
	// Without a crop, images of different shapes cannot share a batch.
	_, err = Preprocess{Resize: 10}.Tensor(img, image.NewGray(image.Rect(0, 0, 30, 30)))
	hostileCheck(t, err, "image 1 comes out 10x10, image 0 13x10")

	m, err := bnrun.Open("../models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fp, err := ForModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if !fp.Gray || fp.Resize != 28 || fp.Height != 28 || fp.Width != 28 || fp.Mean != nil || fp.Stretch {
		t.Errorf("ForModel(fashion_resnet) = %+v", fp)
	}
	if DefaultResize(224, 224, false) != 256 || DefaultResize(224, 224, true) != 224 || DefaultResize(32, 48, false) != 32 {
		t.Error("DefaultResize")
	}
}

// TestScores: Softmax, Probabilities and TopK.
func TestScores(t *testing.T) {
	p := Softmax([]float32{1, 2, 3, 1000})
	if math.Abs(p[3]-1) > 1e-12 || p[0] != 0 {
		t.Errorf("Softmax with a large logit: %v", p)
	}
	p = Softmax([]float32{0, float32(math.Log(3))})
	if math.Abs(p[0]-0.25) > 1e-7 || math.Abs(p[1]-0.75) > 1e-7 {
		t.Errorf("Softmax(0, ln 3) = %v, want 0.25 0.75", p)
	}
	if q := Probabilities([]float32{0.25, 0.75}); q[0] != 0.25 || q[1] != 0.75 {
		t.Errorf("Probabilities of probabilities: %v", q)
	}
	if q := Probabilities([]float32{0.25, 0.25}); math.Abs(q[0]-0.5) > 1e-12 {
		t.Errorf("scores in [0,1] not summing to 1 are logits: %v", q)
	}
	nan := float32(math.NaN())
	top := TopK([]float32{0.5, nan, 2, 0.5, -1}, 10)
	want := []int{2, 0, 3, 4, 1}
	for i, c := range top {
		if c.Index != want[i] {
			t.Fatalf("TopK order %v, want indices %v", top, want)
		}
	}
	if len(TopK([]float64{1, 2, 3}, 2)) != 2 || len(TopK([]float32{1}, -1)) != 0 || len(TopK([]float32{}, 3)) != 0 {
		t.Error("TopK lengths")
	}
	if c := TopK([]float64{0.1, 0.7, 0.2}, 1)[0]; c.Index != 1 || c.Score != 0.7 {
		t.Errorf("TopK 1: %+v", c)
	}
}

// TestLabels: from model metadata, ImageNet's, from a file, parsed lists.
func TestLabels(t *testing.T) {
	m, err := bnrun.Open("../models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if l := Labels(m, 10); len(l) != 10 || l[0] != "T-shirt/top" || l[9] != "Ankle boot" {
		t.Errorf("fashion labels: %q", l)
	}
	if l := Labels(m, 7); len(l) != 7 || l[0] != "" {
		t.Errorf("7 classes: %q, want 7 unnamed", l)
	}
	if l := Labels(m, 1000); len(l) != 1000 || l[0] != "tench" {
		t.Errorf("1000 classes: ImageNet's, got %d", len(l))
	}
	for _, c := range []struct{ in, want string }{
		{`["a", " b ", "c,d"]`, `["a" " b " "c,d"]`},
		{"x\n y \nz\n", `["x" "y" "z"]`},
		{"p, q ,r", `["p" "q" "r"]`},
	} {
		if got := fmt.Sprintf("%q", ParseLabels(c.in)); got != c.want {
			t.Errorf("ParseLabels(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	p := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(p, []byte("cat\ndog \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := ReadLabels(p); err != nil || fmt.Sprintf("%q", l) != `["cat" "dog"]` {
		t.Errorf("ReadLabels: %q, %v", l, err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := ReadLabels("/dev/zero")
		hostileCheck(t, err, "a character device, not a regular file")
	}
}

// TestJPEGRoundTrip: a JPEG Go writes decodes to the size it had, gray
// stays gray, and preprocessing a gray JPEG as RGB repeats the plane.
func TestJPEGRoundTrip(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 16, 12))
	for i := range g.Pix {
		g.Pix[i] = uint8(3 * i)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	img, err := DecodeBytes(buf.Bytes(), &DecodeOptions{AutoOrient: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok || img.Bounds() != g.Bounds() {
		t.Fatalf("%T %v", img, img.Bounds())
	}
	x, err := Preprocess{}.Tensor(img)
	if err != nil {
		t.Fatal(err)
	}
	n := 16 * 12
	if !slices.Equal(x.F32[:n], x.F32[n:2*n]) || !slices.Equal(x.F32[:n], x.F32[2*n:]) {
		t.Error("a gray image as RGB: planes differ")
	}
	if !strings.Contains(fmt.Sprint(x.Shape), "3 12 16") {
		t.Errorf("shape %v", x.Shape)
	}
}
