package pinrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xdraw "golang.org/x/image/draw"
)

const imagesDir = "testdata/images"

// listImages returns the file names (not paths) in testdata/images/sub.
func listImages(t testing.TB, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(imagesDir, sub))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	require.NotEmpty(t, names)
	return names
}

func TestDecodeFormats(t *testing.T) {
	// Every valid test image with its upright size and the Go type it decodes to.
	cases := []struct {
		file string
		w, h int
		typ  string
	}{
		{"ok/city-180x300.jpg", 180, 300, jpegColorType},
		{"ok/city-90x150.png", 90, 150, "*image.RGBA"},
		{"ok/fabric-224x224.jpg", 224, 224, jpegColorType},
		{"ok/flowers-256x192.png", 256, 192, "*image.RGBA"},
		{"ok/landscape-160x120.png", 160, 120, "*image.RGBA"},
		{"ok/landscape-320x240.jpg", 320, 240, jpegColorType},
		{"ok/still-life-500x500.jpg", 500, 500, jpegColorType},
		{"edge/animated.gif", 80, 60, "*image.Paletted"},
		{"edge/cmyk.jpg", 120, 90, "*image.CMYK"},
		{"edge/grey-alpha.png", 120, 90, "*image.NRGBA"},
		{"edge/grey.jpg", 120, 90, "*image.Gray"},
		{"edge/grey.png", 120, 90, "*image.Gray"},
		{"edge/grey16.png", 120, 90, "*image.Gray16"},
		{"edge/lossless-alpha.webp", 120, 90, "*image.NRGBA"},
		{"edge/lossy-alpha.webp", 120, 90, "*image.NRGBA"},
		{"edge/animated.webp", 80, 60, "*image.RGBA"},
		{"edge/lossy.webp", 120, 90, "*image.RGBA"}, // converted with libwebp's matrix
		{"edge/lzw.tiff", 120, 90, "*image.RGBA"},
		{"edge/one-pixel.png", 1, 1, "*image.RGBA"},
		{"edge/palette-alpha.png", 120, 90, "*image.Paletted"},
		{"edge/progressive.jpg", 120, 90, jpegColorType},
		{"edge/rgb16.png", 120, 90, "*image.RGBA64"},
		{"edge/rgb24.bmp", 48, 36, "*image.RGBA"},
		{"edge/rgba.png", 120, 90, "*image.NRGBA"},
		{"edge/robe d'été ÿ.jpg", 120, 90, jpegColorType},
		{"edge/subsampling-422.jpg", 120, 90, jpegColorType},
		{"edge/subsampling-444.jpg", 120, 90, jpegColorType},
	}
	for _, o := range []string{"1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg", "6.jpg", "7.jpg", "8.jpg", "6.png", "8.webp", "3.tiff"} {
		cases = append(cases, struct {
			file string
			w, h int
			typ  string
		}{"edge/exif-orientation-" + o, 64, 48, ""})
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join(imagesDir, c.file))
			require.NoError(t, err)
			assert.Equal(t, image.Pt(c.w, c.h), img.Bounds().Size())
			if c.typ != "" {
				assert.Equal(t, c.typ, fmt.Sprintf("%T", img))
			}
			v := Preprocess(img, 16, ModeCaffe)
			require.Len(t, v, 16*16*3)
			for _, x := range v {
				require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0))
			}
		})
	}
	// The table must cover the folders: a new test image needs a row here.
	for _, sub := range []string{"ok", "edge"} {
		for _, name := range listImages(t, sub) {
			assert.True(t, covered[sub+"/"+name], "%s/%s has no row in TestDecodeFormats", sub, name)
		}
	}
}

func TestDecodeBad(t *testing.T) {
	cases := []struct {
		file string
		want error
	}{
		{"empty.jpg", ErrCorruptImage},
		{"truncated.jpg", ErrCorruptImage},
		{"truncated.png", ErrCorruptImage},
		{"not-an-image.png", ErrUnsupportedFormat},
		{"huge-40000x40000.jpg", ErrTooLarge},
		{"huge-40000x40000.png", ErrTooLarge},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(imagesDir, "bad", c.file)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			img, err := DecodeFile(path)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Nil(t, img)
			assert.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), path, "the error names the file")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocated too much")
		})
	}
	for _, name := range listImages(t, "bad") {
		assert.True(t, covered[name], "bad/%s has no row in TestDecodeBad", name)
	}
}

func TestDecodeMissingFile(t *testing.T) {
	_, err := DecodeFile(filepath.Join(t.TempDir(), "nope.jpg"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "nope.jpg")
}

func TestDecodeSniffsContentNotExtension(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(imagesDir, "ok", "landscape-160x120.png"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "really-a-png.jpg")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	img, err := DecodeFile(path)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(160, 120), img.Bounds().Size())

	img2, err := Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, img.Bounds(), img2.Bounds())
}

func TestDecodeWithMaxPixels(t *testing.T) {
	path := filepath.Join(imagesDir, "ok", "landscape-320x240.jpg")
	_, err := DecodeFile(path, WithMaxPixels(320*240-1))
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = DecodeFile(path, WithMaxPixels(320*240))
	assert.NoError(t, err)
	_, err = DecodeFile(path, WithMaxPixels(0)) // the default
	assert.NoError(t, err)
	_, err = DecodeFile(path, nil) // a nil option is ignored
	assert.NoError(t, err)
	// The limit holds for every format, from the header.
	for _, f := range []string{"edge/animated.gif", "edge/lossy.webp", "edge/rgb24.bmp", "edge/lzw.tiff", "edge/rgb16.png"} {
		_, err := DecodeFile(filepath.Join(imagesDir, f), WithMaxPixels(100))
		assert.ErrorIs(t, err, ErrTooLarge, f)
	}
}

func TestDecodeGIFFirstFrameOnCanvas(t *testing.T) {
	// A 20x10 logical screen whose first frame covers only (5,2)-(10,6): the
	// frame lands at its position on a transparent (so, white) canvas.
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	f1 := image.NewPaletted(image.Rect(5, 2, 10, 6), pal)
	f2 := image.NewPaletted(image.Rect(0, 0, 20, 10), pal)
	for i := range f2.Pix {
		f2.Pix[i] = 1
	}
	var buf bytes.Buffer
	require.NoError(t, gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{f1, f2},
		Delay:  []int{10, 10},
		Config: image.Config{ColorModel: pal, Width: 20, Height: 10},
	}))
	img, err := Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 20, 10), img.Bounds())
	assert.Equal(t, [3]uint8{255, 0, 0}, compositeWhite(img.At(6, 3)), "the first frame, not the second")
	assert.Equal(t, [3]uint8{255, 255, 255}, compositeWhite(img.At(0, 0)), "outside the frame: white")
}

func TestDecodeAnimatedWebPFrameTooLarge(t *testing.T) {
	// The canvas (VP8X) is 80x60 but the first frame's own VP8 header is
	// patched to 16383x16383: refused from that header, before decoding.
	data, err := os.ReadFile(filepath.Join(imagesDir, "edge", "animated.webp"))
	require.NoError(t, err)
	anmf := bytes.Index(data, []byte("ANMF"))
	require.Positive(t, anmf)
	vp8 := bytes.Index(data[anmf:], []byte("VP8 "))
	require.Positive(t, vp8)
	start := anmf + vp8 + 8 + 3 // chunk header, then the 3-byte frame tag
	require.Equal(t, []byte{0x9d, 0x01, 0x2a}, data[start:start+3], "VP8 key frame start code")
	binary.LittleEndian.PutUint16(data[start+3:], 16383)
	binary.LittleEndian.PutUint16(data[start+5:], 16383)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Decode(bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20))
}

func TestDecodeRecoversPanics(t *testing.T) {
	_, err := guard(formatTIFF, func() (image.Image, error) { panic("index out of range") })
	assert.ErrorIs(t, err, ErrCorruptImage)
	assert.Contains(t, err.Error(), "index out of range")
}

func TestDecodeOrientation(t *testing.T) {
	// Every file stores the same upright 64x48 picture (red block top-left,
	// green top-right, blue bottom-left, white bottom-right) transformed so
	// that its EXIF orientation brings it back upright.
	red, green, blue, white := [3]uint8{255, 0, 0}, [3]uint8{0, 255, 0}, [3]uint8{0, 0, 255}, [3]uint8{255, 255, 255}
	files := []string{"1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg", "6.jpg", "7.jpg", "8.jpg", "6.png", "8.webp", "3.tiff"}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join(imagesDir, "edge", "exif-orientation-"+f))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, 64, 48), img.Bounds())
			for _, p := range []struct {
				x, y int
				want [3]uint8
			}{{8, 8, red}, {56, 8, green}, {8, 40, blue}, {56, 40, white}} {
				got := compositeWhite(img.At(p.x, p.y))
				for c := 0; c < 3; c++ {
					assert.InDelta(t, float64(p.want[c]), float64(got[c]), 24, "pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
}

func TestDecodeOrientPixelMapping(t *testing.T) {
	// A 3x2 Gray image with distinct values; each orientation against the
	// transform written out by hand (EXIF 2.32, Orientation tag).
	src := &image.Gray{Pix: []uint8{1, 2, 3, 4, 5, 6}, Stride: 3, Rect: image.Rect(0, 0, 3, 2)}
	want := map[int][]uint8{ // upright pixels, row-major
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4},
		3: {6, 5, 4, 3, 2, 1},
		4: {4, 5, 6, 1, 2, 3},
		5: {1, 4, 2, 5, 3, 6},
		6: {4, 1, 5, 2, 6, 3},
		7: {6, 3, 5, 2, 4, 1},
		8: {3, 6, 2, 5, 1, 4},
	}
	for o := 1; o <= 8; o++ {
		got := orient(src, o).(*image.Gray)
		if o >= 5 {
			assert.Equal(t, image.Rect(0, 0, 2, 3), got.Rect, "orientation %d", o)
		}
		assert.Equal(t, want[o], got.Pix, "orientation %d", o)
	}
	// A sub-image with an offset origin, and a type without a fast path.
	big := image.NewRGBA(image.Rect(-2, -2, 5, 4))
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			big.SetRGBA(x, y, color.RGBA{uint8(1 + y*3 + x), 0, 0, 255})
		}
	}
	sub := big.SubImage(image.Rect(0, 0, 3, 2))
	got := orient(sub, 6).(*image.RGBA)
	var reds []uint8
	for i := 0; i < len(got.Pix); i += 4 {
		reds = append(reds, got.Pix[i])
	}
	assert.Equal(t, want[6], reds)
	ycc := image.NewYCbCr(image.Rect(0, 0, 3, 2), image.YCbCrSubsampleRatio444)
	assert.Equal(t, image.Rect(0, 0, 2, 3), orient(ycc, 8).Bounds())
}

func TestDecodeEXIFParsers(t *testing.T) {
	ifd := func(bo binary.AppendByteOrder, magic string, typ uint16, v uint32) []byte {
		b := []byte(magic)
		b = bo.AppendUint32(b, 8)
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint16(b, 0x010F) // Make, skipped
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint32(b, 1)
		b = bo.AppendUint32(b, 0)
		b = bo.AppendUint16(b, 0x0112)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, 1)
		if typ == 3 {
			b = bo.AppendUint16(b, uint16(v))
			b = bo.AppendUint16(b, 0)
		} else {
			b = bo.AppendUint32(b, v)
		}
		return bo.AppendUint32(b, 0)
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian short", ifd(binary.LittleEndian, "II*\x00", 3, 6), 6},
		{"big-endian short", ifd(binary.BigEndian, "MM\x00*", 3, 8), 8},
		{"long", ifd(binary.BigEndian, "MM\x00*", 4, 3), 3},
		{"out of range", ifd(binary.LittleEndian, "II*\x00", 3, 9), 1},
		{"wrong type", ifd(binary.LittleEndian, "II*\x00", 2, 6), 1},
		{"truncated", ifd(binary.LittleEndian, "II*\x00", 3, 6)[:20], 1},
		{"bad offset", []byte("II*\x00\xff\xff\xff\xff"), 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, tiffOrientation(c.data))
			// The same payload inside each container.
			app1 := append([]byte("Exif\x00\x00"), c.data...)
			jpg := append([]byte{0xFF, 0xD8, 0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(app1)+2))...)
			jpg = append(append(jpg, app1...), 0xFF, 0xDA)
			assert.Equal(t, c.want, exifOrientation(formatJPEG, jpg))
			png := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(c.data)))...)
			png = append(append(append(png, "eXIf"...), c.data...), 0, 0, 0, 0)
			assert.Equal(t, c.want, exifOrientation(formatPNG, png))
			webp := append([]byte("RIFF\x00\x00\x00\x00WEBPEXIF"), binary.LittleEndian.AppendUint32(nil, uint32(len(app1)))...)
			webp = append(webp, app1...)
			assert.Equal(t, c.want, exifOrientation(formatWebP, webp))
		})
	}
	// Lengths that point past the end end the search quietly.
	assert.Equal(t, 1, jpegOrientation([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'}))
	assert.Equal(t, 1, pngOrientation([]byte("\x89PNG\r\n\x1a\n\xff\xff\xff\xffeXIf")))
	assert.Equal(t, 1, webpOrientation([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\x7f")))
}

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

func TestPreprocessExtremeAspectRatio(t *testing.T) {
	// 1 x 3,000,000 and 3,000,000 x 1: the resize must not allocate tables or
	// buffers proportional to width*size or height*size.
	for _, r := range []image.Rectangle{image.Rect(0, 0, 1, 3_000_000), image.Rect(0, 0, 3_000_000, 1)} {
		img := image.NewGray(r)
		for i := range img.Pix {
			img.Pix[i] = uint8(100 + i%3) // mean 101
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := rawRGB(img, 16)
		runtime.ReadMemStats(&after)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "%v: allocated too much", r)
		for i, x := range v {
			require.InDelta(t, 101, x, 1, "%v index %d", r, i)
		}
	}
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

func TestPreprocessChromaUpsampling(t *testing.T) {
	// Tables that pass chroma through: R = Cr, G = Cb, B = 0.
	var id yccTables
	id.shift = 16
	for i := int32(0); i < 256; i++ {
		id.rCr[i], id.gCb[i] = i<<16, i<<16
	}
	chroma := func(m *image.YCbCr) (cr [][]uint8) {
		b := m.Bounds()
		read := yccRowReader(m, nil, 0, b, &id)
		row := make([]uint8, b.Dx()*3)
		for y := 0; y < b.Dy(); y++ {
			read(row, y)
			var r []uint8
			for x := 0; x < b.Dx(); x++ {
				r = append(r, row[3*x])
			}
			cr = append(cr, r)
		}
		return cr
	}
	// 4:2:2, one row: jdsample.c h2v1_fancy_upsample by hand.
	m := image.NewYCbCr(image.Rect(0, 0, 6, 1), image.YCbCrSubsampleRatio422)
	copy(m.Cr, []uint8{0, 64, 128})
	assert.Equal(t, [][]uint8{{0, (0*3 + 64 + 2) >> 2, (64*3 + 0 + 1) >> 2, (64*3 + 128 + 2) >> 2, (128*3 + 64 + 1) >> 2, 128}}, chroma(m))
	// 4:2:0, 6x4 over 3x2 chroma: h2v2_fancy_upsample by hand.
	m = image.NewYCbCr(image.Rect(0, 0, 6, 4), image.YCbCrSubsampleRatio420)
	copy(m.Cr[0:], []uint8{0, 40, 80})
	copy(m.Cr[m.CStride:], []uint8{160, 200, 240})
	col := func(near, far int) int { return 3*near + far }
	h := func(this, other int, bias int) uint8 { return uint8((3*this + other + bias) >> 4) }
	// Row 0: nearest chroma row 0, next nearest row 0 (replicated edge).
	c0 := []int{col(0, 0), col(40, 40), col(80, 80)}
	// Row 1: nearest row 0, next nearest row 1 (below).
	c1 := []int{col(0, 160), col(40, 200), col(80, 240)}
	want := func(c []int) []uint8 {
		return []uint8{uint8((c[0]*4 + 8) >> 4), h(c[0], c[1], 7), h(c[1], c[0], 8), h(c[1], c[2], 7), h(c[2], c[1], 8), uint8((c[2]*4 + 7) >> 4)}
	}
	got := chroma(m)
	assert.Equal(t, want(c0), got[0])
	assert.Equal(t, want(c1), got[1])
	// 4:4:0: vertical only, rounding bias 1 above and 2 below.
	m = image.NewYCbCr(image.Rect(0, 0, 1, 4), image.YCbCrSubsampleRatio440)
	copy(m.Cr[0:], []uint8{0})
	copy(m.Cr[m.CStride:], []uint8{100})
	assert.Equal(t, [][]uint8{{0}, {(0 + 100 + 2) >> 2}, {(300 + 0 + 1) >> 2}, {100}}, chroma(m))
	// Chroma two samples wide is replicated, as libjpeg does.
	m = image.NewYCbCr(image.Rect(0, 0, 4, 1), image.YCbCrSubsampleRatio422)
	copy(m.Cr, []uint8{10, 250})
	assert.Equal(t, [][]uint8{{10, 10, 250, 250}}, chroma(m))
}

func TestPreprocessResizeIdentityAndCoefficients(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 9, 9))
	testPattern(img, false)
	v := rawRGB(img, 9)
	for y := 0; y < 9; y++ {
		for x := 0; x < 9; x++ {
			p := img.NRGBAAt(x, y)
			i := (y*9 + x) * 3
			assert.InDelta(t, float64(p.R), float64(v[i]), 1e-3)
			assert.InDelta(t, float64(p.G), float64(v[i+1]), 1e-3)
			assert.InDelta(t, float64(p.B), float64(v[i+2]), 1e-3)
		}
	}
	for _, pair := range [][2]int{{1, 1}, {1, 224}, {224, 224}, {225, 224}, {500, 224}, {4000, 224}, {3, 299}, {8192, 1}, {3 << 20, 224}} {
		c := coeffsFor(pair[0], pair[1])
		if pair[0] == 3<<20 {
			require.Nil(t, c.w, "a huge axis computes its weights on the fly")
		}
		otf := *c
		otf.w = nil
		buf := make([]float32, c.stride)
		for i := 0; i < pair[1]; i++ {
			s, n := int(c.start[i]), int(c.count[i])
			require.True(t, s >= 0 && n >= 1 && s+n <= pair[0], "%v output %d: start %d count %d", pair, i, s, n)
			var sum float64
			w := c.weights(i, buf)
			require.Len(t, w, n)
			for k, wk := range w {
				if wk < 0 || wk != c.weight(i, k) || wk != otf.weight(i, k) {
					t.Fatalf("%v output %d tap %d: weights %v (table), %v, %v (on the fly)", pair, i, k, wk, c.weight(i, k), otf.weight(i, k))
				}
				sum += float64(wk)
			}
			require.InDelta(t, 1, sum, 1e-5)
		}
	}
}

// pythonBin is the interpreter the oracle tests run: $PINREC_PYTHON or the
// repository's .venv (make setup creates it).
func pythonBin(t *testing.T) string {
	t.Helper()
	py := os.Getenv("PINREC_PYTHON")
	if py == "" {
		py = filepath.Join(".venv", "bin", "python")
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("no Python for the reference tests (%v): run `make setup` or set PINREC_PYTHON", err)
	}
	return py
}

func readF32(t *testing.T, path string, n int) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, 4*n, path)
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// pixelScale converts an output difference back to 0..255 pixel units, per
// mode and channel.
func pixelScale(mode PreprocessMode, c int) float64 {
	switch mode {
	case ModeTF:
		return 127.5
	case ModeTorch:
		return 255 * [3]float64{0.229, 0.224, 0.225}[c]
	}
	return 1
}

// Tolerances of TestPreprocessMatchesPillow, in 0..255 pixel units (a
// difference in ModeTF output is multiplied by 127.5 first, in ModeTorch by
// 255*std). Pillow rounds to uint8 after its horizontal and its vertical pass
// and pinrec does not, so for losslessly stored images the difference is at
// most 1. JPEG and lossy WebP add the decoders' own differences: Go's inverse
// DCT and VP8 reconstruction are not bit-exact with libjpeg-turbo's and
// libwebp's (chroma upsampling and colour conversion are, see yccRowReader).
var pillowTolerance = map[string]struct{ max, mean float64 }{
	"lossless": {1.0 + 1e-3, 0.35},
	"jpeg":     {5, 0.6},
	"webp":     {5, 0.6},
}

func TestPreprocessMatchesPillow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python (Pillow, Keras); skipped with -short")
	}
	py := pythonBin(t)
	var files []string
	for _, sub := range []string{"ok", "edge"} {
		for _, name := range listImages(t, sub) {
			files = append(files, filepath.Join(imagesDir, sub, name))
		}
	}
	sizes := []int{224, 48, 299}
	var sizeArg []string
	for _, s := range sizes {
		sizeArg = append(sizeArg, fmt.Sprint(s))
	}
	dir := t.TempDir()
	args := append([]string{filepath.Join("tools", "pil_reference.py"), "--sizes", strings.Join(sizeArg, ","), "--out", dir}, files...)
	cmd := exec.Command(py, args...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=3")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tools/pil_reference.py: %s", out)

	type agg struct {
		max, sum float64
		n        int
	}
	byMode := map[PreprocessMode]*agg{} // in the mode's own output units
	byKind := map[string]*agg{}         // in pixel units
	for i, path := range files {
		img, err := DecodeFile(path)
		require.NoError(t, err)
		kind := "lossless"
		switch {
		case strings.HasSuffix(path, ".jpg"):
			kind = "jpeg"
		case strings.HasSuffix(path, "lossy.webp"), strings.HasSuffix(path, "lossy-alpha.webp"), strings.HasSuffix(path, "animated.webp"):
			kind = "webp"
		}
		tol := pillowTolerance[kind]
		fileMax := 0.0
		for _, s := range sizes {
			for _, mode := range []PreprocessMode{ModeCaffe, ModeTF, ModeTorch} {
				want := readF32(t, filepath.Join(dir, fmt.Sprintf("%d_%d_%s.f32", i, s, mode)), s*s*3)
				got := Preprocess(img, s, mode)
				var maxPix, sumPix, maxOut, sumOut float64
				for j := range got {
					d := math.Abs(float64(got[j]) - float64(want[j]))
					maxOut = math.Max(maxOut, d)
					sumOut += d
					d *= pixelScale(mode, j%3)
					maxPix = math.Max(maxPix, d)
					sumPix += d
				}
				n := float64(len(got))
				assert.LessOrEqual(t, maxPix, tol.max, "%s size %d %s: max abs (pixel units)", path, s, mode)
				assert.LessOrEqual(t, sumPix/n, tol.mean, "%s size %d %s: mean abs (pixel units)", path, s, mode)
				fileMax = math.Max(fileMax, maxPix)
				for _, a := range []struct {
					m   map[PreprocessMode]*agg
					key PreprocessMode
				}{{byMode, mode}} {
					if a.m[a.key] == nil {
						a.m[a.key] = &agg{}
					}
					g := a.m[a.key]
					g.max, g.sum, g.n = math.Max(g.max, maxOut), g.sum+sumOut/n, g.n+1
				}
				if byKind[kind] == nil {
					byKind[kind] = &agg{}
				}
				g := byKind[kind]
				g.max, g.sum, g.n = math.Max(g.max, maxPix), g.sum+sumPix/n, g.n+1
			}
		}
		t.Logf("%-44s %-8s max abs %.3f (pixel units, all sizes and modes)", path, kind, fileMax)
	}
	for _, kind := range []string{"lossless", "jpeg", "webp"} {
		g := byKind[kind]
		t.Logf("pixel units, %-8s: worst max abs %.3f, average mean abs %.4f over %d arrays (tolerance %.3g / %.3g)",
			kind, g.max, g.sum/float64(g.n), g.n, pillowTolerance[kind].max, pillowTolerance[kind].mean)
	}
	for _, mode := range []PreprocessMode{ModeCaffe, ModeTF, ModeTorch} {
		g := byMode[mode]
		t.Logf("agreement %-5s (output units): worst max abs %.4g, average mean abs %.4g over %d arrays (%d images x sizes %v)",
			mode, g.max, g.sum/float64(g.n), g.n, len(files), sizes)
	}
}

func FuzzDecode(f *testing.F) {
	for _, sub := range []string{"ok", "edge", "bad"} {
		entries, err := os.ReadDir(filepath.Join(imagesDir, sub))
		require.NoError(f, err)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(imagesDir, sub, e.Name()))
			require.NoError(f, err)
			if len(data) <= 8<<10 {
				f.Add(data)
			}
		}
	}
	const maxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), WithMaxPixels(maxPixels))
		if err != nil {
			require.Nil(t, img)
			if !errors.Is(err, ErrCorruptImage) && !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		b := img.Bounds()
		require.False(t, b.Empty())
		require.LessOrEqual(t, b.Dx()*b.Dy(), maxPixels)
		v := Preprocess(img, 7, ModeTorch)
		require.Len(t, v, 7*7*3)
		for _, x := range v {
			require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0))
		}
	})
}

// benchJPEG returns a 1024x768 JPEG (quality 85, 4:2:0), the size of a
// typical photo pin, made by scaling up a test picture.
func benchJPEG(b *testing.B) []byte {
	src, err := DecodeFile(filepath.Join(imagesDir, "ok", "still-life-500x500.jpg"))
	require.NoError(b, err)
	dst := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	xdraw.CatmullRom.Scale(dst, dst.Rect, src, src.Bounds(), xdraw.Src, nil)
	var buf bytes.Buffer
	require.NoError(b, jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}))
	return buf.Bytes()
}

// BenchmarkDecodePreprocess measures the input pipeline of the embedder:
// decode a JPEG and preprocess it to 224x224 in ModeCaffe.
//
//	go test -run '^$' -bench DecodePreprocess -benchmem .
func BenchmarkDecodePreprocess(b *testing.B) {
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	for _, f := range []string{"landscape-320x240.jpg", "still-life-500x500.jpg"} {
		data, err := os.ReadFile(filepath.Join(imagesDir, "ok", f))
		require.NoError(b, err)
		inputs = append(inputs, input{f, data})
	}
	inputs = append(inputs, input{"photo-1024x768.jpg", benchJPEG(b)})
	for _, in := range inputs {
		img, err := Decode(bytes.NewReader(in.data))
		require.NoError(b, err)
		b.Run("decode/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(in.data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run("preprocess/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]float32, 224*224*3)
			for b.Loop() {
				PreprocessInto(dst, img, 224, ModeCaffe)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run("both/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				img, err := Decode(bytes.NewReader(in.data))
				if err != nil {
					b.Fatal(err)
				}
				Preprocess(img, 224, ModeCaffe)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run("both-parallel/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]float32, 224*224*3)
				for pb.Next() {
					img, err := Decode(bytes.NewReader(in.data))
					if err != nil {
						b.Error(err)
						return
					}
					PreprocessInto(dst, img, 224, ModeCaffe)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
