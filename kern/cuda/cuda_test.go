package cuda

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// withDriver makes l the process's driver for the test.
func withDriver(t *testing.T, l *lazyDriver) {
	old := theDriver
	theDriver = l
	t.Cleanup(func() { theDriver = old })
}

// TestMissingDriver points BNRUN_LIBCUDA at a file that does not exist:
// every entry point must return a clean error that names it.
func TestMissingDriver(t *testing.T) {
	const path = "/nonexistent/libcuda.so.1"
	t.Setenv(LibcudaEnv, path)
	withDriver(t, &lazyDriver{})
	err := Available()
	var le *LibraryError
	if !errors.As(err, &le) {
		t.Fatalf("Available() = %v, want a *LibraryError", err)
	}
	for _, want := range []string{"libcuda", path, LibcudaEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if devs, err2 := Devices(); err2 == nil || devs != nil || err2.Error() != err.Error() {
		t.Errorf("Devices() = %v, %v; want nil and the same error", devs, err2)
	}
	if c, err2 := Open(0); err2 == nil || c != nil {
		t.Errorf("Open(0) = %v, %v; want an error", c, err2)
	}
	if _, err2 := DriverVersion(); err2 == nil {
		t.Error("DriverVersion() succeeded")
	}
	t.Log(err)
}

// TestDriverLacksSymbols loads a library that is not the driver: a clean
// error naming the first missing function, no panic.
func TestDriverLacksSymbols(t *testing.T) {
	if !dlSupported {
		t.Skip("no dynamic loading on this platform")
	}
	_, err := loadDriver([]string{"libc.so.6"}, "")
	if err == nil || !strings.Contains(err.Error(), "has no symbol cuGetErrorName") {
		t.Fatalf("loading libc.so.6 as the driver: %v", err)
	}
	t.Log(err)
}

// TestDefaultDriver checks what Available says here: nil with a GPU, else
// a reason that names libcuda (no driver) or the driver's status.
func TestDefaultDriver(t *testing.T) {
	err := Available()
	if err == nil {
		devs, err := Devices()
		if err != nil {
			t.Fatal(err)
		}
		v, _ := DriverVersion()
		t.Logf("CUDA driver %d, devices %v", v, devs)
		return
	}
	var de *Error
	if !strings.Contains(err.Error(), "libcuda") && !errors.As(err, &de) {
		t.Errorf("Available() = %q: names neither libcuda nor a driver status", err)
	}
	t.Logf("no CUDA here: %v", err)
}

// TestErrorText checks the format of driver errors, named by the table
// when the driver cannot name them.
func TestErrorText(t *testing.T) {
	var d *driverAPI
	err := d.check("cuInit", ErrNoDevice)
	if got, want := err.Error(), "cuda: cuInit: CUDA_ERROR_NO_DEVICE (100)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := d.check("cuMemAlloc_v2", 12345).Error(), "cuda: cuMemAlloc_v2: CUresult(12345) (12345)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if d.check("cuInit", Success) != nil {
		t.Error("success is an error")
	}
}

// TestMissingNVRTC points BNRUN_LIBNVRTC at a file that does not exist.
func TestMissingNVRTC(t *testing.T) {
	const path = "/nonexistent/libnvrtc.so"
	t.Setenv(LibnvrtcEnv, path)
	var l lazyNVRTC
	_, err := l.get()
	var le *LibraryError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "libnvrtc") {
		t.Fatalf("got %v, want a *LibraryError naming %s", err, path)
	}
	t.Log(err)
}

// TestPackParams checks the parameter layout Launch gives the driver.
func TestPackParams(t *testing.T) {
	vals, offs, err := packParams([]any{Buffer{ptr: 0xdeadbeef0}, 7, int32(-2), float32(1.5), true, []int32{1, 2, 3}, uint32(9)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 7}; !slices.Equal(offs, want) {
		t.Errorf("offsets %v, want %v", offs, want)
	}
	i32 := func(o int) int32 { return *(*int32)(unsafe.Pointer(&vals[o])) }
	if vals[0] != 0xdeadbeef0 || i32(1) != 7 || i32(2) != -2 || math.Float32frombits(uint32(vals[3])) != 1.5 || i32(4) != 1 || i32(7) != 9 {
		t.Errorf("values %x", vals)
	}
	st := unsafe.Slice((*int32)(unsafe.Pointer(&vals[5])), 3)
	if !slices.Equal(st, []int32{1, 2, 3}) {
		t.Errorf("struct %v", st)
	}
	if _, _, err := packParams([]any{int64(1)}); err == nil {
		t.Error("int64 accepted")
	}
	if math.MaxInt > math.MaxInt32 {
		if _, _, err := packParams([]any{math.MaxInt}); err == nil {
			t.Error("an int beyond 32 bits accepted")
		}
	}
}

// TestPlanBroadcast checks broadcasting shapes and merging dimensions.
func TestPlanBroadcast(t *testing.T) {
	for _, c := range []struct {
		a, b, out, dims, sa, sb []int
	}{
		{[]int{2, 3, 4}, []int{2, 3, 4}, []int{2, 3, 4}, []int{24}, []int{1}, []int{1}},
		{[]int{2, 3, 4, 5}, []int{3, 1, 5}, []int{2, 3, 4, 5}, []int{2, 3, 4, 5}, []int{60, 20, 5, 1}, []int{0, 5, 0, 1}},
		{[]int{2, 3, 4}, []int{1}, []int{2, 3, 4}, []int{24}, []int{1}, []int{0}},
		{[]int{4, 1}, []int{3}, []int{4, 3}, []int{4, 3}, []int{1, 0}, []int{0, 1}},
		{[]int{1, 8, 5, 5}, []int{1, 8, 1, 1}, []int{1, 8, 5, 5}, []int{8, 25}, []int{25, 1}, []int{1, 0}},
		{[]int{}, []int{1, 1}, []int{1, 1}, []int{1}, []int{1}, []int{1}}, // one element: any stride reads it
		{[]int{3, 1, 1}, []int{2, 3, 4, 5}, []int{2, 3, 4, 5}, []int{2, 3, 20}, []int{0, 1, 0}, []int{60, 20, 1}},
	} {
		pl, err := planBroadcast(c.a, c.b)
		if err != nil {
			t.Errorf("%v, %v: %v", c.a, c.b, err)
			continue
		}
		if !slices.Equal(pl.out, c.out) || !slices.Equal(pl.dims, c.dims) || !slices.Equal(pl.sa, c.sa) || !slices.Equal(pl.sb, c.sb) {
			t.Errorf("%v, %v: got out %v dims %v strides %v %v; want %v %v %v %v", c.a, c.b, pl.out, pl.dims, pl.sa, pl.sb, c.out, c.dims, c.sa, c.sb)
		}
	}
	if _, err := planBroadcast([]int{2, 3}, []int{4}); err == nil {
		t.Error("[2 3] and [4] broadcast")
	}
	if _, err := planBroadcast([]int{2, 1, 2, 1, 2, 1, 2, 1, 2}, []int{1, 2, 1, 2, 1, 2, 1, 2, 1}); err == nil {
		t.Error("9 alternating dimensions accepted")
	}
}

// TestGemmCStrides checks Gemm's broadcast of C.
func TestGemmCStrides(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		rs, cs  int
		wantErr bool
	}{
		{[]int{}, 0, 0, false},
		{[]int{5}, 0, 1, false},
		{[]int{1, 5}, 0, 1, false},
		{[]int{3, 1}, 1, 0, false},
		{[]int{3, 5}, 5, 1, false},
		{[]int{4}, 0, 0, true},
		{[]int{3, 5, 1}, 0, 0, true},
	} {
		rs, cs, err := gemmCStrides(c.shape, 3, 5)
		if (err != nil) != c.wantErr || (err == nil && (rs != c.rs || cs != c.cs)) {
			t.Errorf("C %v: got %d, %d, %v", c.shape, rs, cs, err)
		}
	}
}
