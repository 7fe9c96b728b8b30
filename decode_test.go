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
	"path/filepath"
	"runtime"
	"sort"
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
