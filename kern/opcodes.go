package kern

import "strconv"

// The operator codes a step's device description carries (ops.BinaryDev,
// ops.PadDev, ops.ReduceDev): declared once here, where both package ops,
// which writes them, and package kern/cuda, whose kernels read them, can
// see them. Their values are kern/cuda/kernels.cu's BIN_*, PAD_* and RED_*
// codes (kern/cuda's tests check it).

// BinaryOp is an elementwise binary operator.
type BinaryOp int32

// The binary operators.
const (
	BinaryAdd BinaryOp = iota
	BinarySub
	BinaryMul
	BinaryDiv
	BinaryMax // NaN if either operand is NaN
	BinaryMin // NaN if either operand is NaN
	BinaryPow // a to the power b, float32
)

// binaryNames are the binary operators' ONNX names.
var binaryNames = [...]string{BinaryAdd: "Add", BinarySub: "Sub", BinaryMul: "Mul", BinaryDiv: "Div",
	BinaryMax: "Max", BinaryMin: "Min", BinaryPow: "Pow"}

// Valid reports whether o is one of the binary operators.
func (o BinaryOp) Valid() bool { return o >= 0 && int(o) < len(binaryNames) }

// String returns the ONNX operator o computes ("Add", ...), or
// "BinaryOp(n)" for an unknown one.
func (o BinaryOp) String() string { return codeName(binaryNames[:], int(o), "BinaryOp") }

// PadMode is a Pad's mode: what fills the positions outside the input.
type PadMode int32

// The pad modes with a device kernel (ONNX's "wrap" has none).
const (
	PadConstant PadMode = iota // a constant value
	PadReflect                 // the input mirrored about its edge, the edge not repeated
	PadEdge                    // the edge value repeated
)

// padNames are the pad modes' ONNX names.
var padNames = [...]string{PadConstant: "constant", PadReflect: "reflect", PadEdge: "edge"}

// Valid reports whether m is one of the pad modes.
func (m PadMode) Valid() bool { return m >= 0 && int(m) < len(padNames) }

// String returns m's ONNX name ("constant", "reflect" or "edge"), or
// "PadMode(n)" for an unknown one.
func (m PadMode) String() string { return codeName(padNames[:], int(m), "PadMode") }

// ReduceOp is a reduction's rule.
type ReduceOp int32

// The reductions of the values x of each output element, as ONNX's
// operators of their names define them (a NaN is the maximum and the
// minimum; m is the maximum):
//
//	Sum Σx, Mean Σx/count, Max max x, Min min x, Prod Πx, L1 Σ|x|,
//	L2 √(Σx²), SumSquare Σx², LogSum log Σx, LogSumExp m + log Σexp(x-m)
const (
	ReduceSum ReduceOp = iota
	ReduceMean
	ReduceMax
	ReduceMin
	ReduceProd
	ReduceL1
	ReduceL2
	ReduceSumSquare
	ReduceLogSum
	ReduceLogSumExp
)

// reduceNames are the reductions' ONNX operators.
var reduceNames = [...]string{ReduceSum: "ReduceSum", ReduceMean: "ReduceMean", ReduceMax: "ReduceMax", ReduceMin: "ReduceMin",
	ReduceProd: "ReduceProd", ReduceL1: "ReduceL1", ReduceL2: "ReduceL2", ReduceSumSquare: "ReduceSumSquare",
	ReduceLogSum: "ReduceLogSum", ReduceLogSumExp: "ReduceLogSumExp"}

// Valid reports whether o is one of the reductions.
func (o ReduceOp) Valid() bool { return o >= 0 && int(o) < len(reduceNames) }

// String returns the ONNX operator o computes ("ReduceSum", ...), or
// "ReduceOp(n)" for an unknown one.
func (o ReduceOp) String() string { return codeName(reduceNames[:], int(o), "ReduceOp") }

// codeName returns names[i], or kind(i) when i is out of range.
func codeName(names []string, i int, kind string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return kind + "(" + strconv.Itoa(i) + ")"
}
