package main

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"pinrec"
)

// classes are the Fashion-MNIST label names, as examples/fashionmnist names its folders.
var classes = []string{
	"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
}

// loadFashion reads the 10,000 Fashion-MNIST test images from dir and embeds them with the
// raw-pixel embedding of pinrec index -embedding pixels (16x16 RGB, 768 values), the one
// make bench-hybrid uses. IDs are CLASS/NNNNN.png as examples/fashionmnist writes them.
func loadFashion(ctx context.Context, dir string) (*pinrec.Index, error) {
	labels, err := readIdx(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 1)
	if err != nil {
		return nil, err
	}
	pixels, err := readIdx(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 3)
	if err != nil {
		return nil, err
	}
	n, rows, cols := pixels.dims[0], pixels.dims[1], pixels.dims[2]
	if labels.dims[0] != n {
		return nil, fmt.Errorf("%d labels for %d images", labels.dims[0], n)
	}
	enc, err := pinrec.NewPixelEmbedder(16)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	ix, err := pinrec.NewIndex(enc.Info().Dim)
	if err != nil {
		return nil, err
	}
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		var imgs []image.Image
		for i := lo; i < min(lo+batch, n); i++ {
			g := image.NewGray(image.Rect(0, 0, cols, rows))
			copy(g.Pix, pixels.data[i*rows*cols:(i+1)*rows*cols])
			imgs = append(imgs, g)
		}
		vecs, err := enc.Embed(ctx, imgs...)
		if err != nil {
			return nil, err
		}
		for j, v := range vecs {
			i := lo + j
			id := fmt.Sprintf("%s/%05d.png", classes[labels.data[i]], i)
			if err := ix.Add(pinrec.Item{ID: id, Vector: v}); err != nil {
				return nil, err
			}
		}
	}
	return ix, nil
}

type idx struct {
	dims []int
	data []byte
}

// readIdx reads a gzipped idx file of unsigned bytes with ndim dimensions.
func readIdx(path string, ndim int) (idx, error) {
	f, err := os.Open(path)
	if err != nil {
		return idx{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return idx{}, fmt.Errorf("%s: %w", path, err)
	}
	var magic [4]byte
	if _, err := io.ReadFull(zr, magic[:]); err != nil {
		return idx{}, fmt.Errorf("%s: %w", path, err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || int(magic[3]) != ndim {
		return idx{}, fmt.Errorf("%s: not an idx file of %d-d unsigned bytes", path, ndim)
	}
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(zr, binary.BigEndian, &d); err != nil {
			return idx{}, fmt.Errorf("%s: %w", path, err)
		}
		if d == 0 || d > 1<<20 {
			return idx{}, fmt.Errorf("%s: dimension %d out of range", path, d)
		}
		dims[i] = int(d)
		total *= int(d)
	}
	if total > 1<<30 {
		return idx{}, fmt.Errorf("%s: too large", path)
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(zr, data); err != nil {
		return idx{}, fmt.Errorf("%s: %w", path, err)
	}
	return idx{dims: dims, data: data}, nil
}
