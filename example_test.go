package bnrun_test

import (
	"context"
	"fmt"
	"log"

	"github.com/bnrun/bnrun"
)

// Open a model, look at its inputs, run it on a batch of two and read the
// most likely class of each image.
func Example() {
	m, err := bnrun.Open("testdata/models/lenet_bn_op17/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	in := m.Inputs()[0]
	fmt.Println("input:", in)

	// Two 28x28 grayscale images: a dark one and a bright one.
	x := bnrun.NewTensor([]int{2, 1, 28, 28}, nil)
	for i := 28 * 28; i < len(x.F32); i++ {
		x.F32[i] = 1
	}
	out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{in.Name: x})
	if err != nil {
		log.Fatal(err)
	}
	y := out[m.Outputs()[0].Name]
	fmt.Println("output shape:", y.Shape)
	for n := 0; n < 2; n++ {
		row := y.F32[n*10 : (n+1)*10]
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		fmt.Printf("image %d: class %d\n", n, best)
	}
	// Output:
	// input: input: float32 [batch,1,28,28]
	// output shape: [2 10]
	// image 0: class 3
	// image 1: class 3
}
