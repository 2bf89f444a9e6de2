package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile IDX files and image files: each must fail with an error naming
// the file, never panic, hang or allocate what a header claims beyond the
// caps (the decoding of hostile images is tested in package vision).
// docs/robustness.md lists the messages these tests observe.

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
	b, err := os.ReadFile(filepath.Join("../../testdata/images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileImageFile: through a file path, the error names the file.
func TestHostileImageFile(t *testing.T) {
	png := testImage(t, "sample28.png")
	p := filepath.Join(t.TempDir(), "cut.png")
	if err := os.WriteFile(p, png[:len(png)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadImage(p)
	hostileCheck(t, err, "image "+p+": png: invalid format: not enough pixel data")
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
