// Package vision decodes images and turns them into model inputs as
// torchvision's transforms turn PIL images into tensors, then reads the
// model's output as classes. It is what `bnrun MODEL IMAGE` uses, for Go
// programs that run image models with package bnrun.
//
//	img, err := vision.DecodeFile("cat.jpg", nil)
//	prep := vision.Preprocess{Resize: 256, Height: 224, Width: 224,
//		Mean: vision.ImageNetMean, Std: vision.ImageNetStd} // or vision.ForModel(m)
//	x, err := prep.Tensor(img)                               // [1,3,224,224]
//	out, err := m.Run(ctx, map[string]*bnrun.Tensor{m.Inputs()[0].Name: x})
//	probs := vision.Softmax(out[m.Outputs()[0].Name].F32)
//	labels := vision.Labels(m, len(probs))                   // metadata, or ImageNet's
//	for _, c := range vision.TopK(probs, 5) { fmt.Println(labels[c.Index], c.Score) }
//
// # Decoding
//
// Decode, DecodeBytes and DecodeFile read PNG, JPEG, GIF (the first
// frame), BMP, TIFF and WebP. Files come from users, so they are bounded:
// at most 128 MiB is read, the decoded image's memory (512 MiB) is checked
// from the header before anything is decoded, and a progressive JPEG's
// scans are counted before decoding (at most 256, and 2^31 pixels over all
// of them), so that a file of a few hundred bytes cannot make decoding
// allocate gigabytes or run for minutes; those errors match ErrTooLarge.
// DecodeOptions changes the limits.
//
// Pixels are taken as PIL's Image.open(f).convert("RGB") and
// convert("L") take them: alpha is dropped, not composited, leaving each
// pixel's colour as stored (Go's own colour methods premultiply); a GIF's
// transparent palette entry keeps its colour; 16-bit channels keep their
// high byte; gray is PIL's L = R·299/1000 + G·587/1000 + B·114/1000 in
// 16.16 fixed point. A JPEG's EXIF orientation is not applied, as
// Image.open does not apply it; DecodeOptions.AutoOrient applies it as
// ImageOps.exif_transpose does.
//
// # Preprocessing
//
// Preprocess is torchvision's Resize, CenterCrop, ToTensor and Normalize
// (or Resize((H, W)) with Stretch) on 8-bit gray or RGB pixels. Resizing
// is bilinear and antialiased when shrinking (the filter widened by the
// scale factor, as PIL's is), computed by golang.org/x/image/draw.
//
// # Agreement with torchvision
//
// models/make_vision_goldens.py writes the tensors torchvision 0.14 and
// PIL 9.4 make of the images in testdata/images with Resize(32) +
// CenterCrop(28) + ToTensor (+ Normalize with ImageNet's mean and std for
// RGB), and with Resize((28, 36)), a crop larger than the image, no
// resize, and EXIF transposing; TestTorchvisionGoldens compares. The
// differences, in 8-bit levels of the resized pixel (a tensor difference
// times std times 255):
//
//   - PNG (RGB, RGBA, LA, gray, palette with transparency), BMP, GIF,
//     TIFF and lossless WebP: at most 1 level, in all 21 cases. PIL
//     resamples in fixed point with an 8-bit image between its horizontal
//     and vertical passes; x/image/draw in floating point; the roundings
//     differ by one level at most.
//   - JPEG with full-resolution chroma (4:4:4) and grayscale: at most 2
//     levels (mean at most 0.37), from the IDCT's and the colour
//     conversion's rounding (libjpeg's and Go's differ).
//   - JPEG with 4:2:0 chroma, the usual kind: libjpeg (PIL) upsamples the
//     chroma planes with a triangle filter, Go's decoder repeats each
//     chroma sample, so colours differ at sharp colour edges by up to
//     tens of levels before resizing. Resizing averages it away as it
//     shrinks: a 300×200 photo resized to 48×32 is within 2 levels (mean
//     0.43), a 96×64 one 23 levels (mean 1.3, 23% of values more than one
//     level apart), a 60×40 one 34 levels (mean 2.1); the gray conversion
//     of the 96×64 one is within 2. The test allows 40.
//
// # Scores and labels
//
// Softmax and Probabilities turn a model's scores into probabilities (in
// float64), TopK ranks them, and Labels finds class names in the model's
// metadata ("labels", "classes" or "class_names") or gives ImageNet's for
// 1000 classes; ReadLabels reads a file of one label a line.
//
// Package vision imports bnrun, and loader to read label files; bnrun
// does not import vision, and vision must not import the command.
package vision
