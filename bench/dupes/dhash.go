package main

import (
	"image"
	"math"

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

// normPixels is the picture at 16x16 RGB, each value standardised over the picture (mean 0,
// standard deviation 1): the raw-pixel baseline made blind to brightness and contrast (up to
// clipping). A signature for this benchmark, not an embedding of the product.
func normPixels(src image.Image) []float32 {
	small := image.NewRGBA(image.Rect(0, 0, 16, 16))
	draw.BiLinear.Scale(small, small.Bounds(), src, src.Bounds(), draw.Src, nil)
	out := make([]float32, 0, 16*16*3)
	sum, sq := 0.0, 0.0
	for i := 0; i < len(small.Pix); i += 4 {
		for c := range 3 {
			v := float64(small.Pix[i+c])
			out = append(out, float32(v))
			sum += v
			sq += v * v
		}
	}
	n := float64(len(out))
	mean := sum / n
	sd := math.Sqrt(max(sq/n-mean*mean, 1e-6))
	for i := range out {
		out[i] = float32((float64(out[i]) - mean) / sd)
	}
	return out
}
