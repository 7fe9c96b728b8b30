package dupes_test

import (
	"context"
	"fmt"
	"log"

	"pinrec"
	"pinrec/dupes"
)

// Group an index's near-duplicates at a given threshold and hide them in a result list.
func Example() {
	ix, err := pinrec.NewIndex(2)
	if err != nil {
		log.Fatal(err)
	}
	ix.Add(
		pinrec.Item{ID: "boot.jpg", Vector: []float32{0, 0}},
		pinrec.Item{ID: "boot-resized.jpg", Vector: []float32{0.1, 0}},
		pinrec.Item{ID: "boot-copy.jpg", Vector: []float32{0, 0}},
		pinrec.Item{ID: "bag.jpg", Vector: []float32{5, 5}},
		pinrec.Item{ID: "shirt.jpg", Vector: []float32{-5, 5}},
	)
	ctx := context.Background()
	r, err := dupes.Find(ctx, ix, dupes.WithThreshold(0.5))
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range r.Near {
		fmt.Println("near:", g.Members)
	}
	for _, g := range r.Exact {
		fmt.Println("exact:", g.Members)
	}

	res, _ := ix.Search(ctx, []float32{1, 1}, 4)
	c, err := dupes.Collapse(ix, res, r.Calibration.Threshold)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range c.Results(3) {
		fmt.Println(s.ID)
	}
	fmt.Println(c.HiddenCount(), "similar hidden")
	// Output:
	// near: [{boot.jpg 0 } {boot-copy.jpg 0 same vector} {boot-resized.jpg 0.1 }]
	// exact: [{boot.jpg 0 } {boot-copy.jpg 0 same vector}]
	// boot-resized.jpg
	// bag.jpg
	// 2 similar hidden
}

// Calibrate a threshold from nearest-neighbour distances: most pictures sit about 10 apart,
// a few copies much closer.
func ExampleCalibrateDistances() {
	nn := []float32{0.4, 0.5, 0.6}
	for i := range 60 {
		nn = append(nn, 9+float32(i%7)*0.4) // distinct pictures: 9 to 11.4
	}
	c := dupes.CalibrateDistances(nn)
	fmt.Printf("%s %.3g %d\n", c.Rule, c.Threshold, c.Below)
	// Output:
	// tail 8.13 3
}

// Check one new picture's vector against an index before adding it.
func ExampleCheck() {
	ix, _ := pinrec.NewIndex(2)
	ix.Add(
		pinrec.Item{ID: "boot.jpg", Vector: []float32{0, 0}},
		pinrec.Item{ID: "bag.jpg", Vector: []float32{5, 5}},
	)
	found, _, err := dupes.Check(context.Background(), ix, []float32{0.2, 0}, dupes.WithThreshold(0.5))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found)
	// Output:
	// [{boot.jpg 0.2 }]
}
