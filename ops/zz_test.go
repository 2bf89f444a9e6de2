package ops

import (
	"fmt"
	"testing"
)

func BenchmarkZZBands(b *testing.B) {
	type L struct {
		name string
		cc   convCase
		reps int
	}
	ls := []L{
		{"stem/full", convCase{n: 1, c: 3, m: 32, in: []int{224, 224}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true}, 1},
		{"stem/band", convCase{n: 1, c: 3, m: 32, in: []int{35, 224}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{0, 1, 0, 1}, bias: true}, 7},
		{"a/full", convCase{n: 1, c: 32, m: 64, in: []int{112, 112}, k: []int{1, 1}, group: 1, bias: true}, 1},
		{"a/band", convCase{n: 1, c: 32, m: 64, in: []int{17, 112}, k: []int{1, 1}, group: 1, bias: true}, 7},
		{"b/full", convCase{n: 1, c: 64, m: 64, in: []int{112, 112}, k: []int{3, 3}, group: 4, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true}, 1},
		{"b/band", convCase{n: 1, c: 64, m: 64, in: []int{17, 112}, k: []int{3, 3}, group: 4, strides: []int64{2, 2}, pads: []int64{0, 1, 0, 1}, bias: true}, 7},
		{"proj/full", convCase{n: 1, c: 32, m: 64, in: []int{112, 112}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}, bias: true}, 1},
		{"proj/band", convCase{n: 1, c: 32, m: 64, in: []int{16, 112}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}, bias: true}, 7},
	}
	for i, l := range ls {
		ins := l.cc.inputs(uint64(i))
		vals, step, err := prepareOpConst(l.cc.node(), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		out := []*Tensor{NewF32(vals[0].Shape, nil)}
		for _, k := range fastTiers() {
			if k.Name != "avx512" {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", k.Name, l.name), func(b *testing.B) {
				env := nnEnv(k, 1)
				for range b.N {
					for range l.reps {
						if err := step.Run(env, ins, out); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
