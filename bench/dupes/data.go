package main

import (
	"image"

	"pinrec/internal/fashionmnist"
)

// loadFashion reads the Fashion-MNIST test images (28x28 grey).
func loadFashion(dir string) ([]*image.Gray, error) {
	m, err := fashionmnist.ReadImages(fashionmnist.Test.ImagesPath(dir))
	if err != nil {
		return nil, err
	}
	out := make([]*image.Gray, m.N)
	for i := range out {
		out[i] = m.Gray(i)
	}
	return out, nil
}
