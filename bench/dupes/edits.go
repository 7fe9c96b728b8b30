package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// An edit makes a copy of a picture the way a re-pin arises; param describes the strength.
type edit struct {
	name  string
	mild  bool // counted in dupes_recall (flip is the harder class)
	apply func(src image.Image, rng *rand.Rand) (out image.Image, param string)
}

// edits are the kinds of copy, in the order the table prints them.
var edits = []edit{
	{"exact", true, func(src image.Image, _ *rand.Rand) (image.Image, string) { return clone(src), "same pixels" }},
	{"resize", true, resize},
	{"jpeg", true, recompress},
	{"crop", true, crop},
	{"bright-contrast", true, brightContrast},
	{"text", true, caption},
	{"flip", false, flip},
}

func clone(src image.Image) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	return dst
}

// resize scales by a factor drawn from 50-200%.
func resize(src image.Image, rng *rand.Rand) (image.Image, string) {
	f := 0.5 + 1.5*rng.Float64()
	b := src.Bounds()
	w, h := max(int(float64(b.Dx())*f+0.5), 1), max(int(float64(b.Dy())*f+0.5), 1)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst, fmt.Sprintf("x%.2f", f)
}

// recompress encodes as JPEG at a quality drawn from 30-95 and decodes it again.
func recompress(src image.Image, rng *rand.Rand) (image.Image, string) {
	q := 30 + rng.IntN(66)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: q}); err != nil {
		panic(err) // encoding to memory does not fail
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		panic(err)
	}
	return out, fmt.Sprintf("q%d", q)
}

// crop keeps a window of 90-100% of each side (up to 10% cut), placed at random.
func crop(src image.Image, rng *rand.Rand) (image.Image, string) {
	b := src.Bounds()
	fw, fh := 0.9+0.1*rng.Float64(), 0.9+0.1*rng.Float64()
	w, h := max(int(float64(b.Dx())*fw), 1), max(int(float64(b.Dy())*fh), 1)
	x0, y0 := rng.IntN(b.Dx()-w+1), rng.IntN(b.Dy()-h+1)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), src, b.Min.Add(image.Pt(x0, y0)), draw.Src)
	return dst, fmt.Sprintf("%.0f%%x%.0f%%", 100*fw, 100*fh)
}

// brightContrast changes brightness and contrast by up to +-20% each.
func brightContrast(src image.Image, rng *rand.Rand) (image.Image, string) {
	bright := (rng.Float64()*2 - 1) * 0.2
	contrast := 1 + (rng.Float64()*2-1)*0.2
	dst := clone(src)
	for i := 0; i < len(dst.Pix); i += 4 {
		for c := range 3 {
			v := (float64(dst.Pix[i+c])-128)*contrast + 128 + bright*255
			dst.Pix[i+c] = uint8(math.Round(min(max(v, 0), 255)))
		}
	}
	return dst, fmt.Sprintf("b%+.0f%%,c%+.0f%%", 100*bright, 100*(contrast-1))
}

var words = []string{"pinned", "@home", "sale!", "via pin", "#style", "love it"}

// caption writes a short word in the 7x13 bitmap font, white on a dark box or black on a light
// one, in a random corner.
func caption(src image.Image, rng *rand.Rand) (image.Image, string) {
	dst := clone(src)
	word := words[rng.IntN(len(words))]
	w, h := 7*len(word)+4, 15
	b := dst.Bounds()
	x := 2
	if rng.IntN(2) == 1 {
		x = b.Dx() - w - 2
	}
	y := 2
	if rng.IntN(2) == 1 {
		y = b.Dy() - h - 2
	}
	fg, bg := color.RGBA{255, 255, 255, 255}, color.RGBA{20, 20, 20, 200}
	if rng.IntN(2) == 1 {
		fg, bg = color.RGBA{0, 0, 0, 255}, color.RGBA{240, 240, 240, 200}
	}
	box := image.Rect(x, y, x+w, y+h)
	draw.Draw(dst, box, image.NewUniform(bg), image.Point{}, draw.Over)
	d := font.Drawer{Dst: dst, Src: image.NewUniform(fg), Face: basicfont.Face7x13, Dot: fixed.P(x+2, y+h-4)}
	d.DrawString(word)
	return dst, fmt.Sprintf("%q", word)
}

// flip mirrors left to right.
func flip(src image.Image, _ *rand.Rand) (image.Image, string) {
	s := clone(src)
	b := s.Bounds()
	dst := image.NewRGBA(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			dst.SetRGBA(b.Dx()-1-x, y, s.RGBAAt(x, y))
		}
	}
	return dst, "mirror"
}
