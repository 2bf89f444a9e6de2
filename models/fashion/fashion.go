// Package fashion holds the Fashion-MNIST networks that bnrun ships, trained
// by models/train_fashion.py: a BN-LeNet, a small ResNet and a small
// DenseNet, each taking float32 [N,1,28,28] pixels in [0,1] and returning
// ten logits, with the class names in their metadata. The ResNet is
// embedded here (fashion_resnet), so that `bnrun IMAGE` works with no model file; every
// model's folder also holds PyTorch goldens (test_data_set_*) and PyTorch's
// predictions on the 10,000 test images (predictions.txt). It imports
// nothing of bnrun.
package fashion

import _ "embed"

// ResNet is the ONNX file of the shipped Fashion-MNIST ResNet, the default
// model of the bnrun command.
//
//go:embed fashion_resnet/model.onnx
var ResNet []byte

// Classes are Fashion-MNIST's ten classes, in label order.
var Classes = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}
