package bnrun_test

import (
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// TestBackendSelection checks how the kernel tier is chosen: auto picks
// the best tier the CPU runs, WithBackend forces one, BNRUN_BACKEND applies
// when the option is absent, and bad names are clear errors.
func TestBackendSelection(t *testing.T) {
	const model = "testdata/models/lenet_bn_op17/model.onnx"
	backendOf := func(opts ...bnrun.Option) (string, error) {
		m, err := bnrun.Open(model, opts...)
		if err != nil {
			return "", err
		}
		defer m.Close()
		return m.Backend(), nil
	}
	t.Setenv(bnrun.BackendEnv, "")
	want := kern.Best().Name
	if ok, _ := cudaUsable(); ok {
		want = "cuda"
	}
	for _, auto := range [][]bnrun.Option{nil, {bnrun.WithBackend("auto")}, {bnrun.WithBackend("")}} {
		if got, err := backendOf(auto...); err != nil || got != want {
			t.Errorf("auto: backend %q, %v; want %q", got, err, want)
		}
	}
	t.Logf("tiers on this machine: %v; auto picks %s", kern.TierNames(), kern.Best().Name)
	for _, name := range kern.TierNames() {
		if got, err := backendOf(bnrun.WithBackend(name)); err != nil || got != name {
			t.Errorf("WithBackend(%q): backend %q, %v", name, got, err)
		}
	}
	for _, name := range []string{"avx512", "avx2"} {
		if kern.TierByName(name) != nil {
			continue
		}
		_, err := backendOf(bnrun.WithBackend(name))
		if err == nil || !strings.Contains(err.Error(), "not available on this machine") {
			t.Errorf("WithBackend(%q) on a CPU without it: %v", name, err)
		}
	}
	if _, err := backendOf(bnrun.WithBackend("tpu")); err == nil || !strings.Contains(err.Error(), `unknown backend "tpu"`) {
		t.Errorf("WithBackend(tpu): %v", err)
	}

	t.Setenv(bnrun.BackendEnv, "generic")
	if got, err := backendOf(); err != nil || got != "generic" {
		t.Errorf("%s=generic: backend %q, %v", bnrun.BackendEnv, got, err)
	}
	if got, err := backendOf(bnrun.WithBackend("ref")); err != nil || got != "ref" {
		t.Errorf("WithBackend(ref) over %s=generic: backend %q, %v", bnrun.BackendEnv, got, err)
	}
	t.Setenv(bnrun.BackendEnv, "bogus")
	if _, err := backendOf(); err == nil || !strings.Contains(err.Error(), bnrun.BackendEnv) {
		t.Errorf("%s=bogus: %v", bnrun.BackendEnv, err)
	}
}
