package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestFloatsAdvised checks on Linux that a chunk's memory is advised as
// huge-page memory: the mapping that holds a buffer of Floats carries the
// hg flag in /proc/self/smaps (set by MADV_HUGEPAGE whatever the system's
// setting, on a kernel with transparent huge pages).
func TestFloatsAdvised(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("the kernel has no transparent huge pages")
	}
	for _, n := range []int{minBytes / 4, chunkBytes/4 + 1} {
		s := Floats(n)
		s[0], s[n-1] = 1, 1
		flags, err := vmFlags(uintptr(unsafe.Pointer(&s[0])))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Errorf("Floats(%d): its mapping's VmFlags %q lack hg", n, flags)
		}
	}
	// a small buffer is an ordinary allocation
	if s := Floats(10); cap(s) != 10 {
		t.Errorf("Floats(10) has capacity %d", cap(s))
	}
}

// vmFlags returns the VmFlags line of the mapping of /proc/self/smaps
// that holds address a.
func vmFlags(a uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= a && a < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", a)
}
