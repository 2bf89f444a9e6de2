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

// A server that runs one batch size over and over keeps its outputs and
// hands them back: RunInto then reuses their memory, and a warm Run
// allocates nothing.
func ExampleModel_RunInto() {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	x := bnrun.NewTensor([]int{4, 1, 28, 28}, nil)
	outs := make([]*bnrun.Tensor, len(m.Outputs())) // nil: RunInto makes them
	for range 3 {
		// ... fill x.F32 with the next 4 images ...
		if err := m.RunInto(context.Background(), []*bnrun.Tensor{x}, outs); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(m.Outputs()[0].Name, outs[0].Shape)
	// Output:
	// logits [4 10]
}

// Prepare plans for a shape ahead of the first Run at it, and says
// before anything is allocated whether the model can run at that shape
// within its memory limits.
func ExampleModel_Prepare() {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx", bnrun.WithMemoryLimits(0, 64<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for _, batch := range []int{8, 100000} {
		err := m.Prepare([]int{batch, 1, 28, 28})
		switch {
		case errors.Is(err, bnrun.ErrMemoryLimit):
			fmt.Printf("batch %d: over the memory limit\n", batch)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("batch %d: ready\n", batch)
		}
	}
	// Output:
	// batch 8: ready
	// batch 100000: over the memory limit
}

// A Run on a closed model fails with an error that matches ErrClosed.
func ExampleModel_Close() {
	m, err := bnrun.Open("testdata/tiny/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Close(); err != nil {
		log.Fatal(err)
	}
	x := bnrun.NewTensor([]int{1, 2, 6, 6}, nil)
	_, err = m.Run(context.Background(), map[string]*bnrun.Tensor{"x": x})
	fmt.Println(errors.Is(err, bnrun.ErrClosed))
	// Output:
	// true
}
