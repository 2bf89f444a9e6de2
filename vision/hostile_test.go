package vision

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

// Hostile images: each must fail with an error, never panic, hang or
// allocate what a header claims beyond the caps. docs/robustness.md lists
// the messages these tests observe. Images with transparency must give
// the pixels PIL gives.

// hostileCheck fails the test unless err contains every string of want,
// and logs it (go test -v prints the messages).
func hostileCheck(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("error: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// testImage reads a shipped test image.
func testImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngChunk encodes one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// hostilePNG is a PNG whose header declares w×h pixels of the given bit
// depth and colour type, followed by idat (zlib data, possibly too short)
// and the end chunk.
func hostilePNG(w, h uint32, depth, color byte, idat []byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, color, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	if idat != nil {
		b = append(b, pngChunk("IDAT", idat)...)
	}
	return append(b, pngChunk("IEND", nil)...)
}

// zlibBytes compresses b.
func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// jpegWithSize is the shipped JPEG with its frame header's height and
// width replaced.
func jpegWithSize(t *testing.T, w, h uint16) []byte {
	t.Helper()
	b := testImage(t, "sample_rgb.jpg")
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in sample_rgb.jpg")
	}
	// FF C0, length (2), precision (1), height (2), width (2)
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// webpWithSize is the shipped lossless WebP (a plain VP8L file) with
// the width and height in its header replaced. A lossless WebP of one
// colour takes no bits a pixel: 2.5 KB decode to 8000×8000 pixels (274
// MiB, half a second), so the image cap is what bounds such files.
func webpWithSize(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := testImage(t, "scene.webp")
	if string(b[12:16]) != "VP8L" || b[20] != 0x2f {
		t.Fatal("scene.webp is not a plain VP8L file")
	}
	// After the signature byte 0x2f: 14 bits width-1, 14 bits height-1
	// (least significant first), alpha, version.
	v := binary.LittleEndian.Uint32(b[21:])
	v = v&^(1<<28-1) | (w - 1) | (h-1)<<14
	binary.LittleEndian.PutUint32(b[21:], v)
	return b
}

// TestHostileImages: broken and hostile files fail with the decoder's
// error or a size error, before anything large is allocated.
func TestHostileImages(t *testing.T) {
	png := testImage(t, "sample28.png")
	jpg := testImage(t, "sample_rgb.jpg")
	flip := func(b []byte, at int) []byte {
		c := append([]byte(nil), b...)
		c[at] ^= 0xff
		return c
	}
	idat := bytes.Index(png, []byte("IDAT")) + 4
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty file", nil, []string{"image: unknown format"}},
		{"not an image", []byte("neither PNG nor JPEG"), []string{"image: unknown format"}},
		{"GIF header and text", []byte("GIF89a but not really"), []string{"gif of 25120x29813 pixels is empty or too large"}},
		{"PNG cut in its header", png[:20], []string{"unexpected EOF"}},
		{"PNG cut in its data", png[:len(png)/2], []string{"png: invalid format: not enough pixel data"}},
		{"PNG with a corrupt data byte", flip(png, idat+20), []string{"flate: corrupt input before offset 68"}},
		{"PNG with a corrupt header CRC", flip(png, 30), []string{"png: invalid format: invalid checksum"}},
		{"PNG of 2^20×2^20 pixels", hostilePNG(1<<20, 1<<20, 8, 6, nil),
			[]string{"png of 1048576x1048576 pixels is empty or too large"}},
		{"PNG of 2^31-1 pixels square", hostilePNG(1<<31-1, 1<<31-1, 8, 2, nil),
			[]string{"png: unsupported feature: dimension overflow"}},
		{"PNG of 0 pixels", hostilePNG(0, 28, 8, 0, nil), []string{"png: invalid format: non-positive dimension"}},
		{"PNG whose data stops short", hostilePNG(28, 28, 8, 0, zlibBytes(make([]byte, 100))),
			[]string{"png: invalid format: not enough pixel data"}},
		{"JPEG cut in its header", jpg[:100], []string{"unexpected EOF"}},
		{"JPEG cut in its data", jpg[:len(jpg)/2], []string{"invalid JPEG format: short Huffman data"}},
		{"JPEG of 65535×65535 pixels", jpegWithSize(t, 65535, 65535),
			[]string{"jpeg of 65535x65535 pixels is empty or too large"}},
		{"WebP of 16384×16384 pixels", webpWithSize(t, 16384, 16384),
			[]string{"webp of 16384x16384 pixels is empty or too large"}},
		{"JPEG of 0 pixels", jpegWithSize(t, 0, 64), []string{"jpeg of 0x64 pixels is empty or too large"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeBytes(c.data, nil)
			hostileCheck(t, err, c.want...)
		})
	}
	// Through DecodeFile, the error names the file.
	p := filepath.Join(t.TempDir(), "cut.png")
	if err := os.WriteFile(p, png[:len(png)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := DecodeFile(p, nil)
	hostileCheck(t, err, "image "+p+": png: invalid format: not enough pixel data")
}

// TestHostileImageAllocation measures what a tiny file declaring many
// pixels makes decoding allocate before its data runs out: the decoders
// allocate the whole image first, so the pixel cap of DecodeBytes, not the
// file size, bounds it, at up to 8 bytes a pixel (16-bit RGBA). 4000×4000
// keeps the test light; docs/robustness.md gives the figures at the cap.
func TestHostileImageAllocation(t *testing.T) {
	const w, h = 4000, 4000
	cases := []struct {
		name string
		data []byte
	}{
		{"PNG 8-bit gray", hostilePNG(w, h, 8, 0, zlibBytes(make([]byte, 1000)))},
		{"PNG 16-bit RGBA", hostilePNG(w, h, 16, 6, zlibBytes(make([]byte, 1000)))},
		{"JPEG baseline", jpegWithSize(t, w, h)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ms goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			_, err := DecodeBytes(c.data, nil)
			goruntime.ReadMemStats(&ms)
			got := ms.TotalAlloc - before
			t.Logf("%d-byte file declaring %dx%d: %d MiB allocated, error: %v", len(c.data), w, h, got>>20, err)
			if err == nil {
				t.Error("no error")
			}
			if limit := uint64(9*w*h + 16<<20); got > limit {
				t.Errorf("%d bytes allocated for a %d-byte file, more than %d", got, len(c.data), limit)
			}
		})
	}
}

// progressiveScans returns the shipped progressive JPEG with its first
// AC scan that refines nothing (Ss > 0, Ah = 0: decoding it again is
// valid) repeated extra times, and with its frame size set to w×h when
// w > 0.
func progressiveScans(t *testing.T, extra int, w, h uint16) []byte {
	t.Helper()
	data := testImage(t, "progressive.jpg")
	var scan []byte
	for i := 0; i+4 < len(data) && scan == nil; i++ {
		if data[i] != 0xff || data[i+1] != 0xda {
			continue
		}
		// FF DA, length (2), Ns (1), Ns × (Cs, Td/Ta), Ss, Se, Ah/Al
		ns := int(data[i+4])
		ss, ah := data[i+5+2*ns], data[i+7+2*ns]>>4
		if ss == 0 || ah != 0 {
			continue
		}
		end := bytes.Index(data[i+2:], []byte{0xff, 0xda}) // the next scan
		if end < 0 {
			t.Fatal("progressive.jpg: the first AC scan is the last")
		}
		scan = data[i : i+2+end]
	}
	if scan == nil {
		t.Fatal("progressive.jpg: no first AC scan")
	}
	eoi := len(data) - 2
	out := append([]byte(nil), data[:eoi]...)
	for range extra {
		out = append(out, scan...)
	}
	out = append(out, 0xff, 0xd9)
	if w > 0 {
		i := bytes.Index(out, []byte{0xff, 0xc2})
		// FF C2, length (2), precision (1), height (2), width (2)
		binary.BigEndian.PutUint16(out[i+5:], h)
		binary.BigEndian.PutUint16(out[i+7:], w)
	}
	return out
}

// TestHostileJPEGScans: Go's decoder walks every block once per scan, so
// scans are capped, by count and by pixels over all scans; a genuine
// progressive JPEG still decodes.
func TestHostileJPEGScans(t *testing.T) {
	data := testImage(t, "progressive.jpg")
	js := scanJPEG(data)
	if !js.progressive || js.components != 3 || js.scans != 10 {
		t.Fatalf("progressive.jpg read as %+v, want progressive, 3 components, libjpeg's 10 scans", js)
	}
	if _, err := DecodeBytes(data, nil); err != nil {
		t.Fatal(err)
	}
	if js := scanJPEG(testImage(t, "sample_rgb.jpg")); js.progressive || js.scans != 1 {
		t.Fatalf("sample_rgb.jpg read as %+v, want one baseline scan", js)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"3000 scans", progressiveScans(t, 2990, 0, 0),
			"jpeg of 60x40 pixels in 3000 scans is more decoding work than bnrun takes on"},
		{"100 scans of 6000×4000", progressiveScans(t, 90, 6000, 4000),
			"jpeg of 6000x4000 pixels in 100 scans is more decoding work than bnrun takes on"},
		{"10 scans of 8000×8000 (coefficients past the memory cap)", progressiveScans(t, 0, 8000, 8000),
			"jpeg of 8000x8000 pixels is empty or too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := DecodeBytes(c.data, nil)
			hostileCheck(t, err, c.want)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v does not match ErrTooLarge", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("refusing took %v", took)
			}
		})
	}
	// 10 extra scans of the small image are fine.
	if _, err := DecodeBytes(progressiveScans(t, 10, 0, 0), nil); err != nil {
		t.Errorf("20 scans of 60x40: %v", err)
	}
}

// TestImageAlphaAsPIL: images with transparency give the pixels PIL's
// convert("RGB") and convert("L") give (testdata/images/alpha, made by
// models/make_images.py), not Go's premultiplied values.
func TestImageAlphaAsPIL(t *testing.T) {
	dir := "../testdata/images/alpha"
	for _, name := range []string{"rgba", "la", "p_trns"} {
		t.Run(name, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join(dir, name+".png"), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range []int{3, 1} {
				ext := map[int]string{3: ".rgb", 1: ".l"}[ch]
				want, err := os.ReadFile(filepath.Join(dir, name+ext))
				if err != nil {
					t.Fatal(err)
				}
				base := toBase(img, ch == 1)
				b := base.Bounds()
				var got []byte
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						px := pixel8(base, x, y)
						for c := range ch {
							got = append(got, byte(px[c]))
						}
					}
				}
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, PIL has %d", ext, len(got), len(want))
				}
				diff := 0
				for i := range got {
					if got[i] != want[i] {
						if diff == 0 {
							t.Errorf("%s: value %d is %d, PIL's is %d", ext, i, got[i], want[i])
						}
						diff++
					}
				}
				if diff > 0 {
					t.Errorf("%s: %d of %d values differ from PIL's", ext, diff, len(got))
				}
			}
		})
	}
}

// TestPreprocessingMatchesTorchvisionGeometry: Resize keeps the aspect
// ratio and CenterCrop takes the middle.
func TestPreprocessingMatchesTorchvisionGeometry(t *testing.T) {
	// A 40x20 image whose pixel value encodes its column: resize to
	// shorter side 10 (20x10), crop 10x10 from column 5.
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 0; x < 40; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8(x * 6)})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	decoded, err := DecodeBytes(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := Preprocess{Gray: true, Resize: 10, Height: 10, Width: 10}
	xt, err := p.Tensor(decoded)
	if err != nil {
		t.Fatal(err)
	}
	x := xt.F32
	if fmt.Sprint(xt.Shape) != "[1 1 10 10]" {
		t.Fatalf("shape %v", xt.Shape)
	}
	// Output column c comes from resized column 5+c, i.e. source columns
	// around 2*(5+c)+0.5, whose value is about 6*(10+2c+0.5)/255.
	for c := 0; c < 10; c++ {
		want := 6 * (10 + 2*float32(c) + 0.5) / 255
		if d := x[c] - want; d > 0.02 || d < -0.02 {
			t.Errorf("column %d = %v, want about %v", c, x[c], want)
		}
	}
}
