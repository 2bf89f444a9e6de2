package kern

import "sync"

// Reference is the oracle tier: direct-loop convolutions and transposed
// convolutions (2-D and 3-D), and triple-loop matrix multiply, written for obviousness
// rather than speed. Every faster tier is tested against it, and it is
// kept forever.
var Reference = &Tier{
	Name:            "ref",
	Conv:            convRef,
	ConvScratch:     noConvScratch,
	ConvTranspose:   convTransposeRef,
	Conv3D:          conv3DRef,
	ConvTranspose3D: convTranspose3DRef,
	Gemm:            gemmRef,
}

// Generic is the portable Go tier and the default: convolution as a
// product of the weights with an implicit im2col matrix (a direct loop for
// depthwise convolutions), and a cache-blocked, register-blocked SGEMM,
// both spread over Env.Par. It needs no scratch memory.
var Generic = &Tier{
	Name:        "generic",
	Conv:        convGeneric,
	ConvScratch: noConvScratch,
	Gemm:        gemmGeneric,
}

// noConvScratch is the ConvScratch of tiers whose Conv needs no scratch.
func noConvScratch(*ConvGeom) int { return 0 }

var (
	tiersMu sync.RWMutex
	tiers   = []*Tier{Reference, Generic}
)

// RegisterTier adds a kernel tier (an assembly or accelerator one) so that
// TierByName finds it and operators size their scratch for it too. A tier
// registered under an existing name replaces it.
func RegisterTier(k *Tier) {
	tiersMu.Lock()
	defer tiersMu.Unlock()
	for i, t := range tiers {
		if t.Name == k.Name {
			tiers[i] = k
			return
		}
	}
	tiers = append(tiers, k)
}

// TierByName returns the tier named name ("ref", "generic", or one added
// with RegisterTier), or nil when there is none.
func TierByName(name string) *Tier {
	tiersMu.RLock()
	defer tiersMu.RUnlock()
	for _, t := range tiers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ConvScratch is the per-worker scratch a Conv step declares for g: the
// most that any known tier's ConvScratch asks, since Prepare does not know
// which tier will run it.
func ConvScratch(g *ConvGeom) int {
	tiersMu.RLock()
	defer tiersMu.RUnlock()
	s := 0
	for _, t := range tiers {
		if t.ConvScratch != nil {
			s = max(s, t.ConvScratch(g))
		}
	}
	return s
}

// preference lists tier names from the most to the least preferred for
// automatic selection.
var preference = []string{"avx512", "avx2", "generic"}

// Best returns the fastest tier this machine can run: the assembly tiers
// registered for the CPU, else Generic.
func Best() *Tier {
	for _, name := range preference {
		if t := TierByName(name); t != nil {
			return t
		}
	}
	return Generic
}

// TierNames lists the registered tiers' names.
func TierNames() []string {
	tiersMu.RLock()
	defer tiersMu.RUnlock()
	names := make([]string, len(tiers))
	for i, t := range tiers {
		names[i] = t.Name
	}
	return names
}
