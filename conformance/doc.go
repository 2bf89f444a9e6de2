// Package conformance holds no code: its test runs the ONNX node tests
// that onnx-go ships as Go code through bnrun's loader and runtime on every
// kernel tier. It is a module of its own so that onnx-go, gorgonia and
// their dependencies, which only this test needs, stay out of the module
// graph of programs that import bnrun. Run it with
//
//	cd conformance && go test ./...
package conformance
