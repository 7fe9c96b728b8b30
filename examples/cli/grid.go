package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"pinrec"
)

// gridCell is one picture of the grid: the query (rank 0) or a result.
type gridCell struct {
	path     string // image file
	name     string // shown in the caption (an ID or the query's path)
	rank     int    // 0 for the query
	distance float32
	region   *pinrec.Rect // a box to outline on the thumbnail (the matching part, the query's crop)
}

// Grid layout, in pixels.
const (
	thumb    = 200 // thumbnails fit in thumb x thumb
	pad      = 14  // space around cells
	gap      = 28  // space between the query column and the results
	perRow   = 5   // results per row
	captionH = 44  // two caption lines under each thumbnail
	footerH  = 22  // one line saying what made the grid
	fontSize = 15
)

var (
	colBackground = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colFrame      = color.RGBA{0xd0, 0xd0, 0xd0, 0xff}
	colMat        = color.RGBA{0xf3, 0xf3, 0xf3, 0xff}
	colQuery      = color.RGBA{0x1f, 0x6f, 0xd1, 0xff}
	colText       = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colSubtle     = color.RGBA{0x60, 0x60, 0x60, 0xff}
	colRule       = color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
)

// gridSize is the width and height of the grid for n results.
func gridSize(n int) (w, h int) {
	cols := min(max(n, 1), perRow)
	rows := max((n+perRow-1)/perRow, 1)
	w = pad + thumb + gap + cols*(thumb+pad)
	h = pad + rows*(thumb+captionH+pad) + footerH
	return w, h
}

// writeGrid draws the query on the left and the results beside it in rank order, perRow to a
// row, each captioned with rank, distance and name, with footer as the last line, and writes
// it as a PNG file.
func writeGrid(out string, query gridCell, results []gridCell, footer string) error {
	img, err := renderGrid(query, results, footer)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("grid %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("grid %s: %w", out, err)
	}
	return nil
}

func renderGrid(query gridCell, results []gridCell, footer string) (*image.RGBA, error) {
	regular, err := newFace(goregular.TTF)
	if err != nil {
		return nil, err
	}
	bold, err := newFace(gobold.TTF)
	if err != nil {
		return nil, err
	}
	w, h := gridSize(len(results))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(colBackground), image.Point{}, draw.Src)

	// The query, framed in blue, and a rule between it and the results.
	drawCell(dst, image.Pt(pad, pad), query, colQuery, 3, bold, regular)
	x := pad + thumb + gap/2
	fill(dst, image.Rect(x, pad, x+1, h-pad-footerH), colRule)
	small, err := newFaceSize(goregular.TTF, fontSize-2)
	if err != nil {
		return nil, err
	}
	drawText(dst, small, colSubtle, image.Pt(pad, h-pad+2), fit(small, footer, w-2*pad))

	for i, c := range results {
		col, row := i%perRow, i/perRow
		at := image.Pt(pad+thumb+gap+col*(thumb+pad), pad+row*(thumb+captionH+pad))
		drawCell(dst, at, c, colFrame, 1, bold, regular)
	}
	return dst, nil
}

func newFace(ttf []byte) (font.Face, error) { return newFaceSize(ttf, fontSize) }

func newFaceSize(ttf []byte, size float64) (font.Face, error) {
	f, err := opentype.Parse(ttf)
	if err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// drawCell draws the thumbnail at `at` with a frame and its two caption lines below.
func drawCell(dst *image.RGBA, at image.Point, c gridCell, frame color.Color, frameW int, bold, regular font.Face) {
	box := image.Rectangle{Min: at, Max: at.Add(image.Pt(thumb, thumb))}
	fill(dst, box.Inset(-frameW), frame)
	fill(dst, box, colMat)
	src, err := pinrec.DecodeFile(c.path)
	if err != nil {
		drawText(dst, regular, colSubtle, image.Pt(box.Min.X+8, box.Min.Y+thumb/2), fit(regular, "image unavailable", thumb-16))
	} else if placed := drawThumb(dst, box, src); c.region != nil {
		drawRegion(dst, placed, src.Bounds(), *c.region) // regions.go
	}
	var first string
	col := colText
	if c.rank == 0 {
		first, col = "query", colQuery
	} else {
		first = fmt.Sprintf("#%d   d = %s", c.rank, formatDistance(c.distance))
	}
	base := box.Max.Y + frameW + 17
	drawText(dst, bold, col, image.Pt(box.Min.X, base), fit(bold, first, thumb))
	drawText(dst, regular, colSubtle, image.Pt(box.Min.X, base+19), fit(regular, shortName(c.name), thumb))
}

// drawThumb scales src into box, keeping its aspect ratio, centred, and returns where it drew
// it. Small images (such as
// Fashion-MNIST's 28x28) are enlarged by a whole factor with nearest-neighbour sampling so
// their pixels stay crisp; others are resampled with Catmull-Rom.
func drawThumb(dst *image.RGBA, box image.Rectangle, src image.Image) image.Rectangle {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	if sw == 0 || sh == 0 {
		return image.Rectangle{}
	}
	scale := min(float64(box.Dx())/float64(sw), float64(box.Dy())/float64(sh))
	var scaler draw.Scaler = draw.CatmullRom
	if scale >= 2 {
		scale = float64(int(scale))
		scaler = draw.NearestNeighbor
	}
	w, h := max(int(float64(sw)*scale+0.5), 1), max(int(float64(sh)*scale+0.5), 1)
	x0 := box.Min.X + (box.Dx()-w)/2
	y0 := box.Min.Y + (box.Dy()-h)/2
	scaler.Scale(dst, image.Rect(x0, y0, x0+w, y0+h), src, sb, draw.Over, nil)
	return image.Rect(x0, y0, x0+w, y0+h)
}

func fill(dst *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func drawText(dst *image.RGBA, face font.Face, c color.Color, at image.Point, s string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(at.X, at.Y)}
	d.DrawString(s)
}

// fit shortens s from the left, with an ellipsis, until it is at most width pixels wide: the
// end of a file name says the most.
func fit(face font.Face, s string, width int) string {
	if font.MeasureString(face, s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[1:]
		t := "…" + string(r)
		if font.MeasureString(face, t).Ceil() <= width {
			return t
		}
	}
	return ""
}

// shortName keeps the last two elements of a path: the file and its folder (the label).
func shortName(name string) string {
	name = filepath.ToSlash(name)
	dir, file := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return file
	}
	return path.Base(dir) + "/" + file
}

// formatDistance prints about four significant digits.
func formatDistance(d float32) string {
	switch {
	case d >= 1000:
		return fmt.Sprintf("%.0f", d)
	case d >= 100:
		return fmt.Sprintf("%.1f", d)
	case d >= 10:
		return fmt.Sprintf("%.2f", d)
	default:
		return fmt.Sprintf("%.3f", d)
	}
}
