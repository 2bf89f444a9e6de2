package cuda

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// TestOpCodes checks, without a GPU, that kern's operator codes (what a
// step's device description carries and the launchers pass on) are
// kernels.cu's BIN_*, PAD_* and RED_* codes, each one of them.
func TestOpCodes(t *testing.T) {
	defs := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define ((?:BIN|PAD|RED)_[A-Z0-9]+) (-?[0-9]+)$`).FindAllStringSubmatch(kernelSource, -1) {
		v, err := strconv.Atoi(m[2])
		if err != nil {
			t.Fatal(err)
		}
		defs[m[1]] = v
	}
	check := func(prefix string, n int, name func(int) string) {
		t.Helper()
		seen := 0
		for c := range n {
			def := prefix + strings.ToUpper(strings.TrimPrefix(name(c), "Reduce"))
			v, ok := defs[def]
			if !ok || v != c {
				t.Errorf("%s is %d in kern, %d (defined %v) in kernels.cu", def, c, v, ok)
			}
			seen++
		}
		for d := range defs {
			if strings.HasPrefix(d, prefix) {
				seen--
			}
		}
		if seen != 0 {
			t.Errorf("kern has %d %s* codes, kernels.cu %d", n, prefix, n-seen)
		}
	}
	count := func(valid func(int) bool) int {
		n := 0
		for valid(n) {
			n++
		}
		return n
	}
	check("BIN_", count(func(i int) bool { return kern.BinaryOp(i).Valid() }), func(i int) string { return kern.BinaryOp(i).String() })
	check("PAD_", count(func(i int) bool { return kern.PadMode(i).Valid() }), func(i int) string { return kern.PadMode(i).String() })
	check("RED_", count(func(i int) bool { return kern.ReduceOp(i).Valid() }), func(i int) string { return kern.ReduceOp(i).String() })
}
