package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// Hostile images and IDX files: each must fail with an error naming the
// file, never panic, hang or allocate what a header claims beyond the
// caps. docs/robustness.md lists the messages these tests observe.

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

// testImage reads a shipped test image.
func testImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
		{"empty file", nil, []string{"image empty file: image: unknown format"}},
		{"not an image", []byte("GIF89a but not really"), []string{"image not an image: image: unknown format"}},
		{"PNG cut in its header", png[:20], []string{"image PNG cut in its header: unexpected EOF"}},
		{"PNG cut in its data", png[:len(png)/2], []string{"image PNG cut in its data: png: invalid format: not enough pixel data"}},
		{"PNG with a corrupt data byte", flip(png, idat+20), []string{"image PNG with a corrupt data byte: flate: corrupt input before offset 68"}},
		{"PNG with a corrupt header CRC", flip(png, 30), []string{"image PNG with a corrupt header CRC: png: invalid format: invalid checksum"}},
		{"PNG of 2^20×2^20 pixels", hostilePNG(1<<20, 1<<20, 8, 6, nil),
			[]string{"image PNG of 2^20×2^20 pixels: png of 1048576x1048576 pixels is empty or too large"}},
		{"PNG of 2^31-1 pixels square", hostilePNG(1<<31-1, 1<<31-1, 8, 2, nil),
			[]string{"image PNG of 2^31-1 pixels square: png: unsupported feature: dimension overflow"}},
		{"PNG of 0 pixels", hostilePNG(0, 28, 8, 0, nil), []string{"image PNG of 0 pixels: png: invalid format: non-positive dimension"}},
		{"PNG whose data stops short", hostilePNG(28, 28, 8, 0, zlibBytes(make([]byte, 100))),
			[]string{"image PNG whose data stops short: png: invalid format: not enough pixel data"}},
		{"JPEG cut in its header", jpg[:100], []string{"image JPEG cut in its header: unexpected EOF"}},
		{"JPEG cut in its data", jpg[:len(jpg)/2], []string{"image JPEG cut in its data: invalid JPEG format: short Huffman data"}},
		{"JPEG of 65535×65535 pixels", jpegWithSize(t, 65535, 65535),
			[]string{"image JPEG of 65535×65535 pixels: jpeg of 65535x65535 pixels is empty or too large"}},
		{"JPEG of 0 pixels", jpegWithSize(t, 0, 64), []string{"image JPEG of 0 pixels: jpeg of 0x64 pixels is empty or too large"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeImage(c.data, c.name)
			hostileCheck(t, err, c.want...)
		})
	}
	// Through the file path, the error names the file.
	p := filepath.Join(t.TempDir(), "cut.png")
	if err := os.WriteFile(p, png[:len(png)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadImage(p)
	hostileCheck(t, err, "image "+p+": png: invalid format: not enough pixel data")
}

// TestHostileImageAllocation measures what a tiny file declaring many
// pixels makes decoding allocate before its data runs out: the decoders
// allocate the whole image first, so the pixel cap of decodeImage, not the
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
			_, err := decodeImage(c.data, c.name)
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

func TestHostileIDX(t *testing.T) {
	head := func(rank byte, dims ...uint32) []byte {
		b := []byte{0, 0, 8, rank}
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"dims beyond the cap", head(3, 1<<20, 1<<20, 1<<20), "IDX dims [1048576 1048576] declare more than 1073741824 bytes"},
		{"dims overflowing", head(4, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), "IDX dims [4294967295] declare more than"},
		{"data shorter than the dims", append(head(2, 10, 10), make([]byte, 99)...), "IDX dims [10 10] need 100 bytes of data, the file has 99"},
		{"data longer than the dims", append(head(2, 10, 10), make([]byte, 101)...), "IDX dims [10 10] need 100 bytes of data, the file has 101"},
		{"header cut short", head(3, 10)[:6], "truncated IDX header"},
		{"rank 0", head(0), "IDX rank 0, want 1 to 4"},
		{"float elements", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "IDX element type 0x0d is not unsigned bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.idx")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readIDX(p)
			hostileCheck(t, err, p, c.want)
		})
	}
}
