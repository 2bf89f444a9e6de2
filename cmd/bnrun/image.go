package main

import (
	"fmt"
	"image"
	"os"

	"github.com/bnrun/bnrun/vision"
)

// loadImage reads and decodes the image at path, or standard input when
// path is "-", with vision's limits: at most 128 MiB read, the decoded
// size checked from the header before decoding. Errors name the file.
func loadImage(path string) (image.Image, error) {
	if path == "-" {
		img, err := vision.Decode(os.Stdin, nil)
		if err != nil {
			return nil, fmt.Errorf("image -: %w", err)
		}
		return img, nil
	}
	return vision.DecodeFile(path, nil)
}
