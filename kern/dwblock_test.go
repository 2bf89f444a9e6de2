package kern

import "testing"

// TestDwBlockPays checks when a tier with DwBlockL2 takes the one pass:
// always on two workers; on one, only blocks with an expansion whose
// output, the depthwise layer's input, does not fit in the cache.
func TestDwBlockPays(t *testing.T) {
	spec, _ := Twin.Spec()
	spec.DwBlockL2, spec.DwBlockMinPixels = 1<<20, 0
	k := NewBlockedTier(spec)
	block := func(c0, c1, hw int) *DwBlock {
		p := &DwBlock{Expand: c0 > 0, Project: true}
		p.GD = ConvGeom{N: 1, C: c1, H: hw, W: hw, M: c1, KH: 3, KW: 3, OH: hw, OW: hw,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: c1}
		p.GP = ConvGeom{N: 1, C: c1, H: hw, W: hw, M: 24, KH: 1, KW: 1, OH: hw, OW: hw, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		if c0 > 0 {
			p.GE = ConvGeom{N: 1, C: c0, H: hw, W: hw, M: c1, KH: 1, KW: 1, OH: hw, OW: hw, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		}
		return p
	}
	for _, tt := range []struct {
		name        string
		p           *DwBlock
		one, twoWrk bool
	}{
		{"72 channels at 56×56 (882 KiB)", block(24, 72, 56), false, true},
		{"144 channels at 56×56 (1.7 MiB)", block(24, 144, 56), true, true},
		{"84 channels at 56×56 (just over 1 MiB)", block(24, 84, 56), true, true},
		{"no expansion, 32 channels at 112×112", block(0, 32, 112), false, true},
	} {
		if got := k.DwBlockOK(tt.p, 1); got != tt.one {
			t.Errorf("%s, one worker: DwBlockOK = %v, want %v", tt.name, got, tt.one)
		}
		if got := k.DwBlockOK(tt.p, 2); got != tt.twoWrk {
			t.Errorf("%s, two workers: DwBlockOK = %v, want %v", tt.name, got, tt.twoWrk)
		}
	}
	// Without DwBlockL2 every block takes it on one worker too.
	spec.DwBlockL2 = 0
	if k := NewBlockedTier(spec); !k.DwBlockOK(block(24, 72, 56), 1) || !k.DwBlockOK(block(0, 32, 112), 1) {
		t.Errorf("DwBlockL2 = 0: a block runs conv by conv on one worker")
	}
}
