package pinrec_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"pinrec"
)

// A tiny 2-d index of colours by (warmth, brightness).
func exampleIndex() *pinrec.Index {
	ix, err := pinrec.NewIndex(2)
	if err != nil {
		log.Fatal(err)
	}
	err = ix.Add(
		pinrec.Item{ID: "sunset.jpg", Vector: []float32{0.9, 0.6}, Meta: map[string]string{"album": "beach"}},
		pinrec.Item{ID: "dunes.jpg", Vector: []float32{0.8, 0.7}, Meta: map[string]string{"album": "desert"}},
		pinrec.Item{ID: "glacier.jpg", Vector: []float32{0.1, 0.9}, Meta: map[string]string{"album": "mountains"}},
		pinrec.Item{ID: "night.jpg", Vector: []float32{0.2, 0.1}, Meta: map[string]string{"album": "city"}},
		pinrec.Item{ID: "lagoon.jpg", Vector: []float32{0.3, 0.8}, Meta: map[string]string{"album": "beach"}},
	)
	if err != nil {
		log.Fatal(err)
	}
	return ix
}

func ExampleIndex_Search() {
	ix := exampleIndex()
	results, err := ix.Search(context.Background(), []float32{0.85, 0.65}, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Printf("%-12s %.3f %s\n", r.ID, r.Distance, r.Meta["album"])
	}
	// Output:
	// sunset.jpg   0.071 beach
	// dunes.jpg    0.071 desert
	// lagoon.jpg   0.570 beach
}

func ExampleIndex_Similar() {
	ix := exampleIndex()
	// "More like this" for an indexed image: the image itself is left out.
	results, err := ix.Similar(context.Background(), "glacier.jpg", 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Printf("%s %.3f\n", r.ID, r.Distance)
	}
	// Output:
	// lagoon.jpg 0.224
	// dunes.jpg 0.728
}

func ExampleWithFilter() {
	ix := exampleIndex()
	beachOnly := pinrec.WithFilter(func(id string, meta map[string]string) bool {
		return meta["album"] == "beach"
	})
	results, err := ix.Search(context.Background(), []float32{0.2, 0.2}, 5, beachOnly)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.ID)
	}
	// Output:
	// lagoon.jpg
	// sunset.jpg
}

func ExampleIndex_SearchBatch() {
	ix := exampleIndex()
	queries := [][]float32{{0, 1}, {1, 0}}
	batch, err := ix.SearchBatch(context.Background(), queries, 1)
	if err != nil {
		log.Fatal(err)
	}
	for i, results := range batch {
		fmt.Println(queries[i], "->", results[0].ID)
	}
	// Output:
	// [0 1] -> glacier.jpg
	// [1 0] -> sunset.jpg
}

func ExampleIndex_Add() {
	ix := exampleIndex()
	// Adding an existing ID replaces its vector and metadata, in place.
	if err := ix.Add(pinrec.Item{ID: "night.jpg", Vector: []float32{0.25, 0.15}}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ix.Len(), ix.IDs())

	// Bad input is an error to test with errors.Is, never a panic.
	err := ix.Add(pinrec.Item{ID: "odd.jpg", Vector: []float32{1, 2, 3}})
	fmt.Println(errors.Is(err, pinrec.ErrDimMismatch), err)
	// Output:
	// 5 [sunset.jpg dunes.jpg glacier.jpg night.jpg lagoon.jpg]
	// true add "odd.jpg": length 3, index dimension 2: pinrec: dimension mismatch
}

func ExampleIndex_Remove() {
	ix := exampleIndex()
	if err := ix.Remove("dunes.jpg", "night.jpg"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ix.IDs())
	err := ix.Remove("missing.jpg")
	fmt.Println(errors.Is(err, pinrec.ErrNotFound))
	// Output:
	// [sunset.jpg glacier.jpg lagoon.jpg]
	// true
}
