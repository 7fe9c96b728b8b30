package pinrec

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPreprocessModeNames(t *testing.T) {
	for _, m := range []PreprocessMode{ModeCaffe, ModeTF, ModeTorch} {
		got, err := ParsePreprocessMode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	got, err := ParsePreprocessMode(" TF ")
	require.NoError(t, err)
	assert.Equal(t, ModeTF, got)
	_, err = ParsePreprocessMode("imagenet")
	assert.Error(t, err)
	assert.Equal(t, "PreprocessMode(7)", PreprocessMode(7).String())
}

func TestPreprocessModes(t *testing.T) {
	// A uniform image: every output pixel is the formula applied to (r, g, b).
	const r, g, b = 10, 128, 250
	img := image.NewRGBA(image.Rect(0, 0, 37, 23))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = r, g, b, 255
	}
	cases := []struct {
		mode PreprocessMode
		want [3]float64
	}{
		{ModeCaffe, [3]float64{b - 103.939, g - 116.779, r - 123.68}},
		{ModeTF, [3]float64{r/127.5 - 1, g/127.5 - 1, b/127.5 - 1}},
		{ModeTorch, [3]float64{(r/255.0 - 0.485) / 0.229, (g/255.0 - 0.456) / 0.224, (b/255.0 - 0.406) / 0.225}},
	}
	for _, c := range cases {
		t.Run(c.mode.String(), func(t *testing.T) {
			v := Preprocess(img, 5, c.mode)
			require.Len(t, v, 5*5*3)
			for i, x := range v {
				assert.InDelta(t, c.want[i%3], float64(x), 1e-4, "index %d", i)
			}
		})
	}
}

func TestPreprocessPanicsOnBadArguments(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	assert.Panics(t, func() { Preprocess(img, 0, ModeCaffe) })
	assert.Panics(t, func() { Preprocess(img, 2, PreprocessMode(3)) })
	assert.Panics(t, func() { PreprocessInto(make([]float32, 12), img, 2, PreprocessMode(-1)) })
	assert.Panics(t, func() { PreprocessInto(make([]float32, 11), img, 2, ModeCaffe) })
	dst := make([]float32, 13)
	dst[12] = 42
	PreprocessInto(dst, img, 2, ModeTF)
	assert.Equal(t, float32(42), dst[12], "PreprocessInto writes size*size*3 values only")
	assert.Equal(t, float32(-1), dst[0])
}

func TestPreprocessConcurrent(t *testing.T) {
	// Goroutines share the coefficient cache and the scratch pools: results
	// must equal the sequential ones (run with -race).
	var imgs []image.Image
	for _, f := range []string{"ok/landscape-320x240.jpg", "ok/city-90x150.png", "edge/rgba.png", "edge/cmyk.jpg"} {
		img, err := DecodeFile(filepath.Join(imagesDir, f))
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	sizes := []int{224, 31, 64}
	want := map[[2]int][]float32{}
	for i, img := range imgs {
		for _, s := range sizes {
			want[[2]int{i, s}] = Preprocess(img, s, ModeTorch)
		}
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for r := 0; r < 5; r++ {
				for i, img := range imgs {
					s := sizes[(g+r+i)%len(sizes)]
					got := Preprocess(img, s, ModeTorch)
					if !slices.Equal(got, want[[2]int{i, s}]) {
						errs <- fmt.Errorf("goroutine %d: image %d size %d differs", g, i, s)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		assert.NoError(t, <-errs)
	}
}

func TestPreprocessEmptyImageIsWhite(t *testing.T) {
	v := Preprocess(image.NewRGBA(image.Rectangle{}), 3, ModeTF)
	for _, x := range v {
		assert.Equal(t, float32(1), x)
	}
}

// rawRGB returns Preprocess's resized pixels in [0, 255] (ModeTF inverted).
func rawRGB(img image.Image, size int) []float32 {
	v := Preprocess(img, size, ModeTF)
	for i := range v {
		v[i] = (v[i] + 1) * 127.5
	}
	return v
}

func TestPreprocessAlphaOnWhite(t *testing.T) {
	rect := image.Rect(0, 0, 4, 4)
	nrgba := image.NewNRGBA(rect)
	rgba := image.NewRGBA(rect)
	nrgba64 := image.NewNRGBA64(rect)
	rgba64 := image.NewRGBA64(rect)
	nycc := image.NewNYCbCrA(rect, image.YCbCrSubsampleRatio420)
	pal := image.NewPaletted(rect, color.Palette{color.NRGBA{200, 0, 0, 0}, color.NRGBA{0, 0, 200, 128}})
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			nrgba.SetNRGBA(x, y, color.NRGBA{200, 0, 0, 0}) // transparent red: white
			rgba.SetRGBA(x, y, color.RGBA{0, 0, 100, 128})  // half blue, premultiplied
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{0, 0, 0, 0x8080})
			rgba64.SetRGBA64(x, y, color.RGBA64{0, 0, 0, 0})
			pal.SetColorIndex(x, y, 0)
		}
	}
	for i := range nycc.A {
		nycc.A[i] = 0
	}
	cases := []struct {
		name string
		img  image.Image
		want [3]float64
	}{
		{"NRGBA transparent", nrgba, [3]float64{255, 255, 255}},
		{"RGBA half", rgba, [3]float64{127, 127, 227}},
		{"NRGBA64 half black", nrgba64, [3]float64{127, 127, 127}},
		{"RGBA64 transparent", rgba64, [3]float64{255, 255, 255}},
		{"NYCbCrA transparent", nycc, [3]float64{255, 255, 255}},
		{"Paletted transparent index", pal, [3]float64{255, 255, 255}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := rawRGB(c.img, 2)
			for i, x := range v {
				assert.InDelta(t, c.want[i%3], float64(x), 1.01, "index %d", i)
			}
		})
	}
	pal.SetColorIndex(0, 0, 1) // half-transparent blue over white
	v := rawRGB(pal, 4)
	assert.InDelta(t, 127, float64(v[0]), 1.01)
	assert.InDelta(t, 227, float64(v[2]), 1.01)
}

// testPattern fills img (via Set) with a deterministic colourful pattern.
func testPattern(img interface {
	image.Image
	Set(x, y int, c color.Color)
}, alpha bool) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			a := uint8(255)
			if alpha {
				a = uint8(x*37 + y*11)
			}
			img.Set(x, y, color.NRGBA{uint8(x * 13), uint8(y * 29), uint8(x*y + 7), a})
		}
	}
}

// plainImage hides its concrete type so Preprocess takes the generic path.
type plainImage struct{ image.Image }

func TestPreprocessFastPathsMatchGeneric(t *testing.T) {
	rect := image.Rect(-3, 2, 41, 31) // odd sizes, an origin off zero
	var imgs []image.Image
	for _, alpha := range []bool{false, true} {
		for _, m := range []interface {
			image.Image
			Set(x, y int, c color.Color)
		}{image.NewRGBA(rect), image.NewNRGBA(rect), image.NewRGBA64(rect), image.NewNRGBA64(rect), image.NewGray(rect), image.NewGray16(rect), image.NewCMYK(rect)} {
			testPattern(m, alpha)
			imgs = append(imgs, m)
		}
	}
	pal := image.NewPaletted(rect, color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 90, 0, 77}, color.Gray{200}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	imgs = append(imgs, pal)
	// An index outside the palette (image.Paletted.At would panic) reads as black.
	bad := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.White})
	bad.Pix[0], bad.Pix[1], bad.Pix[2], bad.Pix[3] = 9, 9, 9, 9
	assert.Equal(t, []float32{0, 0, 0}, rawRGB(bad, 1))
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		r0 := image.Rect(0, 0, 44, 29)
		// Constant chroma: libjpeg-style upsampling then equals Go's
		// replication, and only the conversions' rounding differs.
		ycc := image.NewYCbCr(r0, ratio)
		for i := range ycc.Y {
			ycc.Y[i] = uint8(i * 7)
		}
		for i := range ycc.Cb {
			ycc.Cb[i], ycc.Cr[i] = 90, 170
		}
		imgs = append(imgs, ycc, ycc.SubImage(image.Rect(3, 5, 40, 27)))
		if ratio == image.YCbCrSubsampleRatio420 {
			nycc := image.NewNYCbCrA(r0, ratio)
			copy(nycc.Y, ycc.Y)
			copy(nycc.Cb, ycc.Cb)
			copy(nycc.Cr, ycc.Cr)
			for i := range nycc.A {
				nycc.A[i] = uint8(i * 3)
			}
			imgs = append(imgs, nycc, nycc.SubImage(image.Rect(1, 1, 43, 28)))
		}
	}
	imgs = append(imgs, imgs[0].(*image.RGBA).SubImage(image.Rect(0, 5, 20, 30)))
	for _, img := range imgs {
		t.Run(fmt.Sprintf("%T%v", img, img.Bounds()), func(t *testing.T) {
			b := img.Bounds()
			// Non-premultiplied alpha rounds where the generic path truncates;
			// libjpeg's Y'CbCr conversion rounds differently from Go's.
			tol := 1.0
			switch img.(type) {
			case *image.YCbCr, *image.NYCbCrA:
				tol = 2
			}
			fast, slow := make([]uint8, b.Dx()*3), make([]uint8, b.Dx()*3)
			readFast, readSlow := rowReader(img, b), genericRow(img, b)
			for y := 0; y < b.Dy(); y++ {
				readFast(fast, y)
				readSlow(slow, y)
				for i := range fast {
					if math.Abs(float64(slow[i])-float64(fast[i])) > tol {
						t.Fatalf("row %d byte %d: fast path %d, generic %d", y, i, fast[i], slow[i])
					}
				}
			}
			for _, size := range []int{1, 7, 100} {
				a, b := rawRGB(img, size), rawRGB(plainImage{img}, size)
				for i := range a {
					if math.Abs(float64(a[i])-float64(b[i])) > tol+0.001 {
						t.Fatalf("size %d index %d: fast path %v, generic %v", size, i, a[i], b[i])
					}
				}
			}
		})
	}
}
