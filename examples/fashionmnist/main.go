// Command fashionmnist writes a class-balanced sample of Fashion-MNIST as PNG files, one
// subfolder per class, so that pinrec (or any image tool) can read it.
//
//	fashionmnist -split test -per-class 100 -out demo/images
//
// It reads the idx files of Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist) or any folder given with -dir. Each image is written as
// CLASS/NNNNN.png, NNNNN being its position in the split, so a file always holds the same image.
// Files that already hold the right bytes are left alone (their modification time too), so
// running it again does not make an index sync re-embed anything.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
)

// Classes are the Fashion-MNIST label names, by label number, made safe for file names.
var Classes = []string{
	"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
}

func main() {
	dir := flag.String("dir", "/usr/share/datasets/fashion-mnist", "folder holding the idx `files` (*-images-idx3-ubyte.gz, *-labels-idx1-ubyte.gz)")
	split := flag.String("split", "test", "which split: test (t10k, 10,000 images) or train (60,000)")
	out := flag.String("out", "", "output `folder` (required)")
	perClass := flag.Int("per-class", 100, "images per class, the first ones of each class in the split")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: fashionmnist [-dir DIR] [-split test|train] [-per-class N] -out FOLDER")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 0 || *perClass < 1 {
		flag.Usage()
		os.Exit(2)
	}
	prefix := map[string]string{"test": "t10k", "train": "train"}[*split]
	if prefix == "" {
		fmt.Fprintf(os.Stderr, "fashionmnist: -split %q: want test or train\n", *split)
		os.Exit(2)
	}
	written, kept, err := extract(
		filepath.Join(*dir, prefix+"-images-idx3-ubyte.gz"),
		filepath.Join(*dir, prefix+"-labels-idx1-ubyte.gz"),
		*out, *perClass)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fashionmnist:", err)
		os.Exit(1)
	}
	fmt.Printf("fashionmnist: %d images in %s (%d written, %d already there)\n", written+kept, *out, written, kept)
}

// extract writes up to perClass images of each class into out/CLASS/NNNNN.png.
func extract(imagesPath, labelsPath, out string, perClass int) (written, kept int, err error) {
	labels, err := readIdx(labelsPath, 1)
	if err != nil {
		return 0, 0, err
	}
	pixels, err := readIdx(imagesPath, 3)
	if err != nil {
		return 0, 0, err
	}
	n := len(labels.data)
	if labels.dims[0] != pixels.dims[0] {
		return 0, 0, fmt.Errorf("%s has %d labels but %s has %d images", labelsPath, n, imagesPath, pixels.dims[0])
	}
	rows, cols := pixels.dims[1], pixels.dims[2]
	count := make([]int, len(Classes))
	for i := 0; i < n; i++ {
		c := int(labels.data[i])
		if c >= len(Classes) {
			return written, kept, fmt.Errorf("%s: label %d out of range", labelsPath, c)
		}
		if count[c] >= perClass {
			continue
		}
		count[c]++
		img := &image.Gray{Pix: pixels.data[i*rows*cols : (i+1)*rows*cols], Stride: cols, Rect: image.Rect(0, 0, cols, rows)}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return written, kept, err
		}
		path := filepath.Join(out, Classes[c], fmt.Sprintf("%05d.png", i))
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, buf.Bytes()) {
			kept++
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, kept, err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return written, kept, err
		}
		written++
	}
	return written, kept, nil
}

type idx struct {
	dims []int
	data []byte
}

// readIdx reads a gzipped idx file of unsigned bytes with the given number of dimensions.
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
		return idx{}, errors.New(path + ": too large")
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(zr, data); err != nil {
		return idx{}, fmt.Errorf("%s: %w", path, err)
	}
	return idx{dims: dims, data: data}, nil
}
