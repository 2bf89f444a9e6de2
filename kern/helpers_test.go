package kern

// Test helpers for the kernel library's tests (kerntest has the ones the
// operators' tests share).

// testEnv returns an environment for tier k with the given number of
// workers and no scratch.
func testEnv(k *Tier, workers int) *Env {
	return &Env{K: k, Par: Spawn{Parts: workers}}
}

// fastTiers lists every registered tier but "ref"; testTiers adds the
// twin tiers.
func fastTiers() []*Tier {
	var ks []*Tier
	for _, name := range TierNames() {
		if name != "ref" {
			ks = append(ks, TierByName(name))
		}
	}
	return ks
}

func testTiers() []*Tier { return append(fastTiers(), Twin, TwinPacked) }

// tierWorkers is a tier and a worker count for a benchmark.
type tierWorkers struct {
	k       *Tier
	workers int
}

// benchTiers lists every fast tier at one and two workers.
func benchTiers() []tierWorkers {
	var out []tierWorkers
	for _, k := range fastTiers() {
		out = append(out, tierWorkers{k, 1}, tierWorkers{k, 2})
	}
	return out
}
