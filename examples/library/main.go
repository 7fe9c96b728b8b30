// Command library is a program outside the pinrec module that uses it for search only: it
// builds an index of a few vectors, saves and loads it, and prints the items nearest to a
// query. It is the copyable starting point for a Go program that imports pinrec (see
// README.md beside it): its go.mod reaches pinrec through a replace directive.
//
// It needs no TensorFlow: build it with CGO_ENABLED=0, or with -tags notensorflow when the
// program needs cgo for something else. make test builds and runs it both ways.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pinrec"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "library:", err)
		os.Exit(1)
	}
}

// pins are four items in a 3-d space; the query is nearest to "red-dress", then "red-skirt".
var pins = []pinrec.Item{
	{ID: "red-dress", Vector: []float32{1, 0, 0}, Meta: map[string]string{"kind": "dress"}},
	{ID: "red-skirt", Vector: []float32{0.8, 0.3, 0}, Meta: map[string]string{"kind": "skirt"}},
	{ID: "blue-dress", Vector: []float32{0, 0, 1}, Meta: map[string]string{"kind": "dress"}},
	{ID: "green-bag", Vector: []float32{0, 1, 0}, Meta: map[string]string{"kind": "bag"}},
}

func run(ctx context.Context, w io.Writer) error {
	ix, err := pinrec.NewIndex(3)
	if err != nil {
		return err
	}
	if err := ix.Add(pins...); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pinrec-library-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pins.idx")
	if err := ix.Save(path); err != nil {
		return err
	}

	// Any kind of index file opens as a pinrec.Store; the code below only needs a Searcher.
	st, err := pinrec.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	var s pinrec.Searcher = st
	query := []float32{0.9, 0.1, 0}
	results, err := s.Search(ctx, query, 3)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "nearest to %v among %d items:\n", query, s.Len())
	for _, r := range results {
		fmt.Fprintf(w, "%-10s %.4f\n", r.ID, r.Distance)
	}
	dresses, err := s.Similar(ctx, "red-dress", 1, pinrec.WithMeta("kind", "dress"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dress most like red-dress: %s\n", dresses[0].ID)
	return nil
}
