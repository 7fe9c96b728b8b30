package pinrec_test

import (
	"context"
	"fmt"

	"pinrec"
)

// Region items live in the same index as the pins; SearchPins returns each pin once, at its
// best-matching vector, with that region's box (nil: the whole image).
func ExampleSearchPins() {
	ix, _ := pinrec.NewIndex(2)
	// An outfit whose image vector is far from the query, but one of whose parts is near.
	_ = pinrec.PutPin(ix, pinrec.Item{ID: "outfit.jpg", Vector: []float32{10, 10}},
		[]pinrec.Region{
			{Box: pinrec.Rect{X: 0, Y: 0, W: 120, H: 200}, Vector: []float32{1, 0}},
			{Box: pinrec.Rect{X: 120, Y: 0, W: 120, H: 200}, Vector: []float32{5, 5}},
		})
	_ = pinrec.PutPin(ix, pinrec.Item{ID: "shoe.jpg", Vector: []float32{0, 2}}, nil)

	res, _ := pinrec.SearchPins(context.Background(), ix, []float32{0, 0}, 2)
	for _, r := range res {
		fmt.Printf("%s %.1f %v\n", r.ID, r.Distance, r.Region)
	}
	fmt.Println(ix.Len(), "items,", len(pinrec.RegionIDs(ix, "outfit.jpg")), "of them regions of outfit.jpg")
	_ = pinrec.RemovePins(ix, "outfit.jpg")
	fmt.Println(ix.Len(), "item after removing the outfit")
	// Output:
	// outfit.jpg 1.0 0,0,120,200
	// shoe.jpg 2.0 <nil>
	// 4 items, 2 of them regions of outfit.jpg
	// 1 item after removing the outfit
}

// A crop query embeds part of an image: the rectangle is in pixels of the upright image.
func ExampleParseRect() {
	r, err := pinrec.ParseRect("40,10,120,200")
	fmt.Println(r, err)
	fmt.Println(r.In(150, 300)) // 40+120 > 150
	// Output:
	// 40,10,120,200 <nil>
	// pinrec: bad rectangle: 40,10,120,200 reaches outside the 150x300 image
}
