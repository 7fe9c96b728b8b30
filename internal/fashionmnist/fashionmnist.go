// Package fashionmnist reads Fashion-MNIST from its idx files, as Debian's
// dataset-fashion-mnist package installs them in DefaultDir:
//
//	t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz    (test split, 10,000 images)
//	train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   (train split, 60,000 images)
//
// An idx file, once gunzipped, is the magic 0x00 0x00 0x08 NDIM (unsigned bytes, NDIM
// dimensions), NDIM big-endian uint32 sizes, then the bytes in row-major order. Images are
// N x 28 x 28 grey bytes (0 for the background); labels are N bytes from 0 to 9, indexes into
// Classes. Sizes are bounded (2^20 a dimension, 2^30 bytes in all) before anything is allocated.
package fashionmnist

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
)

// DefaultDir is where Debian's dataset-fashion-mnist package puts the idx files.
const DefaultDir = "/usr/share/datasets/fashion-mnist"

// Classes are the label names, by label number, made safe for file names.
var Classes = []string{
	"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
}

// Split names a part of the dataset by the prefix of its files.
type Split string

const (
	Test  Split = "t10k"  // 10,000 images
	Train Split = "train" // 60,000 images
)

// ImagesPath is the images file of split s in dir.
func (s Split) ImagesPath(dir string) string {
	return filepath.Join(dir, string(s)+"-images-idx3-ubyte.gz")
}

// LabelsPath is the labels file of split s in dir.
func (s Split) LabelsPath(dir string) string {
	return filepath.Join(dir, string(s)+"-labels-idx1-ubyte.gz")
}

// Images are N grey images of Rows x Cols pixels, one after the other in Pix.
type Images struct {
	N, Rows, Cols int
	Pix           []byte
}

// Gray is image i. It shares its pixels with m. It panics if i is out of range.
func (m *Images) Gray(i int) *image.Gray {
	if i < 0 || i >= m.N {
		panic(fmt.Sprintf("fashionmnist: image %d of %d", i, m.N))
	}
	size := m.Rows * m.Cols
	return &image.Gray{Pix: m.Pix[i*size : (i+1)*size : (i+1)*size], Stride: m.Cols, Rect: image.Rect(0, 0, m.Cols, m.Rows)}
}

// Load reads the images and labels of split in dir and checks that they are as many.
func Load(dir string, split Split) (*Images, []byte, error) {
	return LoadFiles(split.ImagesPath(dir), split.LabelsPath(dir))
}

// LoadFiles reads the images and labels files given by path and checks that they are as many.
func LoadFiles(imagesPath, labelsPath string) (*Images, []byte, error) {
	labels, err := ReadLabels(labelsPath)
	if err != nil {
		return nil, nil, err
	}
	images, err := ReadImages(imagesPath)
	if err != nil {
		return nil, nil, err
	}
	if len(labels) != images.N {
		return nil, nil, fmt.Errorf("%s has %d labels but %s has %d images", labelsPath, len(labels), imagesPath, images.N)
	}
	return images, labels, nil
}

// ReadImages reads a gzipped idx file of images (3 dimensions).
func ReadImages(path string) (*Images, error) {
	dims, data, err := readFile(path, 3)
	if err != nil {
		return nil, err
	}
	return &Images{N: dims[0], Rows: dims[1], Cols: dims[2], Pix: data}, nil
}

// ReadLabels reads a gzipped idx file of labels (1 dimension), each one an index into Classes.
func ReadLabels(path string) ([]byte, error) {
	_, data, err := readFile(path, 1)
	if err != nil {
		return nil, err
	}
	for _, c := range data {
		if int(c) >= len(Classes) {
			return nil, fmt.Errorf("%s: label %d out of range", path, c)
		}
	}
	return data, nil
}

func readFile(path string, ndim int) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	dims, data, err := decode(zr, ndim)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// decode reads an idx stream of unsigned bytes with ndim dimensions (not gzipped).
func decode(r io.Reader, ndim int) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, err
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || int(magic[3]) != ndim {
		return nil, nil, fmt.Errorf("not an idx file of %d-d unsigned bytes", ndim)
	}
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, err
		}
		if d == 0 || d > 1<<20 {
			return nil, nil, fmt.Errorf("dimension %d out of range", d)
		}
		dims[i] = int(d)
		total *= int(d)
		if total > 1<<30 {
			return nil, nil, errors.New("too large")
		}
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, err
	}
	return dims, data, nil
}
