package main

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
)

// loadFashion reads the Fashion-MNIST test images (28x28 grey).
func loadFashion(dir string) ([]*image.Gray, error) {
	pix, dims, err := readIdx(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 3)
	if err != nil {
		return nil, err
	}
	n, h, w := dims[0], dims[1], dims[2]
	out := make([]*image.Gray, n)
	for i := range out {
		out[i] = &image.Gray{Pix: pix[i*h*w : (i+1)*h*w], Stride: w, Rect: image.Rect(0, 0, w, h)}
	}
	return out, nil
}

// readIdx reads a gzipped idx file of unsigned bytes with ndim dimensions.
func readIdx(path string, ndim int) ([]byte, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var magic [4]byte
	if _, err := io.ReadFull(zr, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 8 || int(magic[3]) != ndim {
		return nil, nil, fmt.Errorf("%s: not an idx file of %d-d bytes", path, ndim)
	}
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(zr, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if d == 0 || d > 1<<20 {
			return nil, nil, fmt.Errorf("%s: dimension %d out of range", path, d)
		}
		dims[i] = int(d)
		total *= int(d)
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(zr, data); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, dims, nil
}
