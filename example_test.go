package bnrun_test

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/png"
	"log"
	"os"

	"github.com/bnrun/bnrun"
)

// Open the shipped Fashion-MNIST ResNet, feed it a 28x28 grayscale image
// scaled to [0,1], and read the most likely class with its name from the
// model's metadata.
func Example() {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	in := m.Inputs()[0]
	fmt.Println("input:", in)

	f, err := os.Open("testdata/images/fashion/1_trouser.png")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	gray := img.(*image.Gray)
	x := bnrun.NewTensor([]int{1, 1, 28, 28}, nil)
	for i, p := range gray.Pix {
		x.F32[i] = float32(p) / 255
	}

	out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{in.Name: x})
	if err != nil {
		log.Fatal(err)
	}
	logits := out[m.Outputs()[0].Name].F32
	best := 0
	for c := range logits {
		if logits[c] > logits[best] {
			best = c
		}
	}
	var classes []string
	if err := json.Unmarshal([]byte(m.Metadata()["labels"]), &classes); err != nil {
		log.Fatal(err)
	}
	fmt.Println("class:", best, classes[best])
	// Output:
	// input: input: float32 [batch,1,28,28]
	// class: 1 Trouser
}

// Errors name what went wrong for people and match a sentinel for
// programs: here an input of the wrong size.
func Example_errors() {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	x := bnrun.NewTensor([]int{1, 1, 32, 32}, nil)
	_, err = m.Run(context.Background(), map[string]*bnrun.Tensor{m.Inputs()[0].Name: x})
	var ie *bnrun.InputError
	switch {
	case errors.As(err, &ie) && errors.Is(err, bnrun.ErrInputShape):
		fmt.Println("bad shape for", ie.Input)
	case errors.Is(err, bnrun.ErrUnsupported), errors.Is(err, bnrun.ErrMemoryLimit), errors.Is(err, bnrun.ErrClosed):
		fmt.Println("other:", err)
	}
	fmt.Println(err)
	// Output:
	// bad shape for input
	// input "input": got shape [1,1,32,32], the model wants [batch,1,28,28]
}

//go:embed testdata/tiny/model.onnx
var embedded embed.FS

// A model can ship inside the program: embed it and open it from the
// embed.FS (any fs.FS works; external data files beside it are read from
// the same FS).
func ExampleOpenFS() {
	m, err := bnrun.OpenFS(embedded, "testdata/tiny/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.Inputs()[0], "->", m.Outputs()[0])
	fmt.Println("default opset:", m.Info().Opsets[""])
	// Output:
	// x: float32 [N,2,6,6] -> y: float32 [N,4]
	// default opset: 13
}
