package pinrec_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"pinrec"
)

// Save an index, load it back (into memory, or memory-mapped and read-only), and search it.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "pinrec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pins.idx")

	ix, err := pinrec.NewIndex(3)
	if err != nil {
		log.Fatal(err)
	}
	err = ix.Add(
		pinrec.Item{ID: "red-dress.jpg", Vector: []float32{1, 0, 0}, Meta: map[string]string{"board": "dresses"}},
		pinrec.Item{ID: "pink-dress.jpg", Vector: []float32{0.9, 0.1, 0}, Meta: map[string]string{"board": "dresses"}},
		pinrec.Item{ID: "blue-bag.jpg", Vector: []float32{0, 0, 1}, Meta: map[string]string{"board": "bags"}},
	)
	if err != nil {
		log.Fatal(err)
	}
	ix.SetInfo("model", "resnet50")
	if err := ix.Save(path); err != nil { // atomic: a crash leaves the old file or the new one
		log.Fatal(err)
	}

	loaded, err := pinrec.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Len(), loaded.Dim(), loaded.IDs(), loaded.Info()["model"])

	mapped, err := pinrec.Load(path, pinrec.WithMmap())
	if err != nil {
		log.Fatal(err)
	}
	defer mapped.Close() // releases the mapping
	res, err := mapped.Similar(context.Background(), "red-dress.jpg", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %.3f %s\n", res[0].ID, res[0].Distance, res[0].Meta["board"])
	err = mapped.Add(pinrec.Item{ID: "new.jpg", Vector: []float32{0, 1, 0}})
	fmt.Println(errors.Is(err, pinrec.ErrReadOnly))

	// Output:
	// 3 3 [red-dress.jpg pink-dress.jpg blue-bag.jpg] resnet50
	// pink-dress.jpg 0.141 dresses
	// true
}

// Errors from Load say what is wrong with the file, and name it.
func ExampleLoad_errors() {
	dir, err := os.MkdirTemp("", "pinrec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte("not an index"), 0o644); err != nil {
		log.Fatal(err)
	}
	_, err = pinrec.Load(path)
	fmt.Println(errors.Is(err, pinrec.ErrBadFormat), errors.Is(err, pinrec.ErrChecksum))
	// Output:
	// true false
}
