package main

import (
	"image"
	"image/color"
	"math"
	"strconv"

	"pinrec"
)

// infoRegions is the index info key that records index -regions N ("0" or absent: none).
const infoRegions = "regions"

// regionsDiffer reports whether an index holding items was built with another -regions than n
// (an index from before -regions counts as 0).
func regionsDiffer(ix pinrec.Store, n int) bool {
	if ix.Len() == 0 {
		return false
	}
	have, _ := strconv.Atoi(ix.Info()[infoRegions])
	return have != n
}

// countPins counts the IDs that are not region items' IDs.
func countPins(ids []string) int {
	n := 0
	for _, id := range ids {
		if _, ok := pinrec.RegionParent(id); !ok {
			n++
		}
	}
	return n
}

// regionJSON is a result's region in -json output: the box of the best-matching part of the
// pin's image, in its source pixels; absent when the whole image matched best.
type regionJSON = pinrec.Rect

// regionText is the table column of a result's region: empty for the whole image.
func regionText(r *pinrec.Rect) string {
	if r == nil {
		return ""
	}
	return "  [region " + r.String() + "]"
}

// colRegion outlines regions on grid thumbnails.
var colRegion = color.RGBA{0xff, 0x2d, 0x55, 0xff}

// drawRegion outlines r (in the pixels of an image with bounds src) on the thumbnail that
// drawThumb placed at placed, 3 pixels wide, inside the box.
func drawRegion(dst *image.RGBA, placed, src image.Rectangle, r pinrec.Rect) {
	if placed.Empty() || src.Empty() {
		return
	}
	sx := float64(placed.Dx()) / float64(src.Dx())
	sy := float64(placed.Dy()) / float64(src.Dy())
	box := image.Rect(
		placed.Min.X+int(float64(r.X)*sx), placed.Min.Y+int(float64(r.Y)*sy),
		placed.Min.X+int(math.Ceil(float64(r.X+r.W)*sx)), placed.Min.Y+int(math.Ceil(float64(r.Y+r.H)*sy)),
	).Intersect(placed)
	const w = 3
	if box.Dx() < 2*w || box.Dy() < 2*w {
		fill(dst, box, colRegion)
		return
	}
	fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Max.X, box.Min.Y+w), colRegion)
	fill(dst, image.Rect(box.Min.X, box.Max.Y-w, box.Max.X, box.Max.Y), colRegion)
	fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Min.X+w, box.Max.Y), colRegion)
	fill(dst, image.Rect(box.Max.X-w, box.Min.Y, box.Max.X, box.Max.Y), colRegion)
}
