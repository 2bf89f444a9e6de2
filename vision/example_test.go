package vision_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/vision"
)

// Classify an image file with the shipped Fashion-MNIST ResNet: decode
// it, preprocess it as the model's input asks (here grayscale 28×28,
// pixel/255), run, and print the most likely class with its name from
// the model's metadata.
func Example() {
	m, err := bnrun.Open("../models/fashion/fashion_resnet/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	img, err := vision.DecodeFile("../testdata/images/fashion/1_trouser.png", nil)
	if err != nil {
		log.Fatal(err)
	}
	prep, err := vision.ForModel(m) // or a vision.Preprocess{...} of your own
	if err != nil {
		log.Fatal(err)
	}
	x, err := prep.Tensor(img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input:", x.Shape)

	out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{m.Inputs()[0].Name: x})
	if err != nil {
		log.Fatal(err)
	}
	scores := out[m.Outputs()[0].Name].F32
	labels := vision.Labels(m, len(scores))
	best := vision.TopK(vision.Softmax(scores), 1)[0]
	fmt.Printf("%s (class %d)\n", labels[best.Index], best.Index)
	// Output:
	// input: [1 1 28 28]
	// Trouser (class 1)
}

// The ImageNet recipe: Resize(256), CenterCrop(224), ToTensor and
// Normalize with ImageNet's mean and std, as torchvision writes it.
func ExamplePreprocess() {
	img, err := vision.DecodeFile("../testdata/images/sample_rgb.jpg", nil)
	if err != nil {
		log.Fatal(err)
	}
	prep := vision.Preprocess{
		Resize: 256, Height: 224, Width: 224,
		Mean: vision.ImageNetMean, Std: vision.ImageNetStd,
	}
	x, err := prep.Tensor(img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(img.Bounds().Size(), "->", x.Shape)
	// Output:
	// (300,200) -> [1 3 224 224]
}

// Scores to probabilities, and the two most likely classes.
func ExampleTopK() {
	probs := vision.Softmax([]float32{1, 3, 0.5, 2.5})
	for _, c := range vision.TopK(probs, 2) {
		fmt.Printf("class %d: %.3f\n", c.Index, c.Score)
	}
	// Output:
	// class 1: 0.548
	// class 3: 0.333
}

// Images come from users, so decoding is bounded; an image over the
// bounds is refused, before it is decoded, with an error that matches
// ErrTooLarge.
func ExampleDecodeOptions() {
	opts := &vision.DecodeOptions{MaxImageBytes: 100 << 10} // 100 KiB of pixels
	_, err := vision.DecodeFile("../testdata/images/sample_rgb.jpg", opts)
	fmt.Println(errors.Is(err, vision.ErrTooLarge))
	// Output:
	// true
}
