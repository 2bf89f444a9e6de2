package kern

// Numeric is the set of element types bnrun computes with.
type Numeric interface {
	~float32 | ~int64
}
