package cuda

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
)

// RequireNVRTCEnv, set to 1 (as CI does), makes a missing NVRTC a test
// failure instead of a skip.
const requireNVRTCEnv = "BNRUN_REQUIRE_NVRTC"

// needNVRTC skips the test when NVRTC cannot be loaded, or fails it when
// $BNRUN_REQUIRE_NVRTC is 1.
func needNVRTC(t *testing.T) {
	t.Helper()
	if _, _, err := NVRTCVersion(); err != nil {
		if os.Getenv(requireNVRTCEnv) == "1" {
			t.Fatalf("NVRTC is required (%s=1): %v", requireNVRTCEnv, err)
		}
		t.Skipf("no NVRTC: %v (install Debian's libnvrtc11.2, or set %s)", err, LibnvrtcEnv)
	}
}

// TestCompileKernels compiles kernels.cu for compute_80 and compute_90
// and checks that every kernel is an entry of the PTX.
func TestCompileKernels(t *testing.T) {
	needNVRTC(t)
	major, minor, _ := NVRTCVersion()
	archs, err := NVRTCArchs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %d.%d (%s), architectures %v", major, minor, theNVRTC.api.lib, archs)
	for _, arch := range []int{80, 90} {
		name := fmt.Sprintf("compute_%d", arch)
		t.Run(name, func(t *testing.T) {
			if archs != nil && !slices.Contains(archs, arch) {
				t.Skipf("NVRTC %d.%d cannot compile for %s (it supports %v)", major, minor, name, archs)
			}
			ptx, err := KernelPTX(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kernelNames {
				re := regexp.MustCompile(`(?m)^\.visible \.entry ` + regexp.QuoteMeta(k) + `\(`)
				if !re.Match(ptx) {
					t.Errorf("%s: no entry %s in the PTX", name, k)
				}
			}
			target := regexp.MustCompile(`(?m)^\.target sm_(\d+)`).FindSubmatch(ptx)
			if target == nil || string(target[1]) != fmt.Sprint(arch) {
				t.Errorf("%s: PTX .target is %q, want sm_%d", name, target, arch)
			}
			t.Logf("%s: %d bytes of PTX", name, len(ptx))
		})
	}
}

// TestCompileError checks that a compilation error returns NVRTC's log.
func TestCompileError(t *testing.T) {
	needNVRTC(t)
	_, log, err := Compile(`extern "C" __global__ void broken(float* y) { y[0] = undefined_name; }`, "broken.cu", "compute_80")
	var ne *NVRTCError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, want an *NVRTCError", err)
	}
	if !regexp.MustCompile(`undefined_name`).MatchString(log) {
		t.Errorf("log %q does not name the undefined identifier", log)
	}
	t.Logf("error: %v; log: %s", err, log)
}
