package main

import (
	"image"

	"golang.org/x/image/draw"
)

// dHash is the difference hash: the picture in grey at 9x8, one bit per horizontally adjacent
// pair (is the left pixel brighter?), 64 bits. It is returned as a 64-d vector of 0s and 1s, so
// that the Euclidean distance between two hashes is the square root of their Hamming distance
// and the same index and grouping apply.
func dHash(src image.Image) []float32 {
	small := image.NewGray(image.Rect(0, 0, 9, 8))
	grey := image.NewGray(src.Bounds())
	draw.Draw(grey, grey.Bounds(), src, src.Bounds().Min, draw.Src)
	draw.BiLinear.Scale(small, small.Bounds(), grey, grey.Bounds(), draw.Src, nil)
	out := make([]float32, 64)
	for y := range 8 {
		for x := range 8 {
			if small.GrayAt(x, y).Y > small.GrayAt(x+1, y).Y {
				out[y*8+x] = 1
			}
		}
	}
	return out
}
