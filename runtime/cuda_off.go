//go:build nocuda

package runtime

import (
	"context"
	"errors"

	"github.com/bnrun/bnrun/ir"
)

// cudaBuilt says whether this build has the CUDA backend (the nocuda
// build tag leaves it out).
const cudaBuilt = false

// errNoCUDABuild is what asking for CUDA gives in this build.
var errNoCUDABuild = errors.New("cuda: this bnrun was built without CUDA (the nocuda build tag)")

// gpu stands for a CUDA device; this build has none.
type gpu struct{}

func openGPU() (*gpu, error)  { return nil, errNoCUDABuild }
func (g *gpu) String() string { return "" }
func (g *gpu) close()         {}

// gpuPlan stands for a plan on the device; this build makes none.
type gpuPlan struct{}

func newGPUPlan(g *gpu, p *Program, pl *Plan) (*gpuPlan, error) { return nil, errNoCUDABuild }
func (gp *gpuPlan) evict()                                      {}
func (gp *gpuPlan) acquire()                                    {}
func (gp *gpuPlan) release()                                    {}
func (gp *gpuPlan) run(ctx context.Context, p *Program, pl *Plan, inputs, outs []*ir.Tensor) error {
	return errNoCUDABuild
}
