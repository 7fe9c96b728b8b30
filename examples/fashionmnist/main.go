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
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"

	"pinrec/internal/fashionmnist"
)

func main() {
	dir := flag.String("dir", fashionmnist.DefaultDir, "folder holding the idx `files` (*-images-idx3-ubyte.gz, *-labels-idx1-ubyte.gz)")
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
	sp := map[string]fashionmnist.Split{"test": fashionmnist.Test, "train": fashionmnist.Train}[*split]
	if sp == "" {
		fmt.Fprintf(os.Stderr, "fashionmnist: -split %q: want test or train\n", *split)
		os.Exit(2)
	}
	written, kept, err := extract(sp.ImagesPath(*dir), sp.LabelsPath(*dir), *out, *perClass)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fashionmnist:", err)
		os.Exit(1)
	}
	fmt.Printf("fashionmnist: %d images in %s (%d written, %d already there)\n", written+kept, *out, written, kept)
}

// extract writes up to perClass images of each class into out/CLASS/NNNNN.png.
func extract(imagesPath, labelsPath, out string, perClass int) (written, kept int, err error) {
	pixels, labels, err := fashionmnist.LoadFiles(imagesPath, labelsPath)
	if err != nil {
		return 0, 0, err
	}
	count := make([]int, len(fashionmnist.Classes))
	for i, c := range labels {
		if count[c] >= perClass {
			continue
		}
		count[c]++
		var buf bytes.Buffer
		if err := png.Encode(&buf, pixels.Gray(i)); err != nil {
			return written, kept, err
		}
		path := filepath.Join(out, fashionmnist.Classes[c], fmt.Sprintf("%05d.png", i))
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
