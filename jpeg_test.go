package pinrec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec/internal/jpegturbo"
)

// jpegTestFiles returns the JPEGs of testdata/images (ok and edge: EXIF orientations, CMYK,
// grey, progressive, 4:2:2, 4:4:4) and the variants tools/pil_decode.py makes with Pillow in a
// temporary folder (every subsampling Pillow writes at odd sizes, progressive, restart markers,
// optimized tables, grey, CMYK, 640x480 photos).
func jpegTestFiles(t testing.TB, py string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"ok", "edge"} {
		m, err := filepath.Glob(filepath.Join(imagesDir, sub, "*.jpg"))
		require.NoError(t, err)
		files = append(files, m...)
	}
	dir := t.TempDir()
	out, err := exec.Command(py, filepath.Join("tools", "pil_decode.py"), "make", dir).CombinedOutput()
	require.NoError(t, err, "tools/pil_decode.py make: %s", out)
	m, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(m), 15)
	return append(files, m...)
}

// pillowRGB holds Pillow's upright RGB pixels of one file.
type pillowRGB struct {
	path string
	w, h int
	pix  []byte
}

// pillowDecode runs tools/pil_decode.py dump over files.
func pillowDecode(t testing.TB, py string, files []string) []pillowRGB {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(py, append([]string{filepath.Join("tools", "pil_decode.py"), "dump", dir}, files...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tools/pil_decode.py dump")
	var res []pillowRGB
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var p struct {
			I   int    `json:"i"`
			RGB string `json:"rgb"`
			W   int    `json:"rgb_width"`
			H   int    `json:"rgb_height"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &p), sc.Text())
		pix, err := os.ReadFile(filepath.Join(dir, p.RGB))
		require.NoError(t, err)
		require.Len(t, pix, 3*p.W*p.H)
		res = append(res, pillowRGB{files[p.I], p.W, p.H, pix})
	}
	require.Len(t, res, len(files))
	return res
}

// rgbPixels returns img's pixels as Preprocess reads them: RGB rows, alpha on white.
func rgbPixels(img image.Image) []byte {
	b := img.Bounds()
	read := rowReader(img, b)
	out := make([]byte, 3*b.Dx()*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		read(out[3*b.Dx()*y:3*b.Dx()*(y+1)], y)
	}
	return out
}

// jpegMaxAbsDiffVsPillow decodes every file with DecodeFile and returns the largest absolute
// difference from Pillow's pixels (0..255), and the file where it occurs.
func jpegMaxAbsDiffVsPillow(t testing.TB, ref []pillowRGB) (worst int, where string) {
	t.Helper()
	for _, p := range ref {
		img, err := DecodeFile(p.path)
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, p.w, p.h), img.Bounds(), p.path)
		got := rgbPixels(img)
		for i := range got {
			d := int(got[i]) - int(p.pix[i])
			if d < 0 {
				d = -d
			}
			if d > worst {
				worst, where = d, p.path
			}
		}
	}
	return worst, where
}

// TestDecodeJPEGMatchesPillow: with libjpeg-turbo (the cgo build), DecodeFile's pixels equal
// those Pillow gives (ImageOps.exif_transpose(Image.open(f)).convert("RGB")) exactly, on every
// test JPEG. The pure-Go decoder (image/jpeg) is measured beside it: its inverse DCT is not
// libjpeg's, so it differs by a few levels.
func TestDecodeJPEGMatchesPillow(t *testing.T) {
	py := pythonBin(t)
	files := jpegTestFiles(t, py)
	ref := pillowDecode(t, py, files)
	if jpegturbo.Available {
		worst, where := jpegMaxAbsDiffVsPillow(t, ref)
		t.Logf("jpeg_max_abs_diff_vs_pillow=%d (%s, %d files, worst %s)", worst, JPEGDecoder(), len(files), where)
		require.Zero(t, worst, "libjpeg-turbo path differs from Pillow at %s", where)
	}
	defer func(v bool) { useTurbo = v }(useTurbo)
	useTurbo = false
	worst, where := jpegMaxAbsDiffVsPillow(t, ref)
	t.Logf("jpeg_max_abs_diff_vs_pillow_go=%d (image/jpeg, worst %s)", worst, where)
	require.LessOrEqual(t, worst, 4, "image/jpeg drifted further from Pillow than measured (3)")
}

// TestDecodeJPEGPaths: both JPEG paths give the same image types, sizes and errors.
func TestDecodeJPEGPaths(t *testing.T) {
	cases := []struct {
		file string
		typ  string
	}{
		{"ok/landscape-320x240.jpg", "*image.RGBA"},
		{"edge/grey.jpg", "*image.Gray"},
		{"edge/cmyk.jpg", "*image.CMYK"},
		{"edge/progressive.jpg", "*image.RGBA"},
	}
	for _, turbo := range []bool{false, true} {
		if turbo && !jpegturbo.Available {
			continue
		}
		func() {
			defer func(v bool) { useTurbo = v }(useTurbo)
			useTurbo = turbo
			for _, c := range cases {
				img, err := DecodeFile(filepath.Join(imagesDir, c.file))
				require.NoError(t, err, c.file)
				want := c.typ
				if !turbo && want == "*image.RGBA" {
					want = "*image.YCbCr"
				}
				require.Equal(t, want, typeName(img), "%s (turbo %v)", c.file, turbo)
			}
			for _, c := range []struct {
				file string
				err  error
			}{{"bad/truncated.jpg", ErrCorruptImage}, {"bad/empty.jpg", ErrCorruptImage}, {"bad/huge-40000x40000.jpg", ErrTooLarge}} {
				_, err := DecodeFile(filepath.Join(imagesDir, c.file))
				require.ErrorIs(t, err, c.err, "%s (turbo %v)", c.file, turbo)
			}
			data, err := os.ReadFile(filepath.Join(imagesDir, "ok", "landscape-320x240.jpg"))
			require.NoError(t, err)
			_, err = Decode(bytes.NewReader(data), WithMaxPixels(320*240-1))
			require.ErrorIs(t, err, ErrTooLarge)
			data[bytes.Index(data, []byte{0xFF, 0xC0})+1] = 0xC1 // extended sequential...
			data[bytes.Index(data, []byte{0xFF, 0xC1})+4] = 12   // ...with 12-bit samples
			_, err = Decode(bytes.NewReader(data))
			require.ErrorIs(t, err, ErrUnsupportedFormat, "12-bit (turbo %v)", turbo)
		}()
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// TestCMYKToRGBMatchesPillowFormula checks cmykToRGB against Pillow's cmyk2rgb written out in
// wide arithmetic (nk - round(c*nk/255) with MULDIV255's rounding) for every c and k.
func TestCMYKToRGBMatchesPillowFormula(t *testing.T) {
	for k := 0; k < 256; k++ {
		for c := 0; c < 256; c++ {
			nk := 255 - k
			tt := c*nk + 128
			want := uint8(nk - ((tt>>8)+tt)>>8)
			r, g, b := cmykToRGB(uint8(c), uint8(c), uint8(c), uint8(k))
			if r != want || g != want || b != want {
				t.Fatalf("cmykToRGB(%d, %d, %d, %d) = %d, %d, %d, want %d", c, c, c, k, r, g, b, want)
			}
		}
	}
	r, g, b := cmykToRGB(0, 0, 0, 0)
	require.Equal(t, [3]uint8{255, 255, 255}, [3]uint8{r, g, b})
	r, g, b = cmykToRGB(255, 255, 255, 255)
	require.Equal(t, [3]uint8{0, 0, 0}, [3]uint8{r, g, b})
}

// BenchmarkDecodeJPEG measures each JPEG path on a 640x480 photo-like picture, up to RGB pixels
// as Preprocess reads them (image/jpeg leaves the Y'CbCr conversion and chroma upsampling to
// that read): ms per megapixel.
//
//	go test -run '^$' -bench DecodeJPEG .
func BenchmarkDecodeJPEG(b *testing.B) {
	data := photoJPEG(b)
	for _, turbo := range []bool{false, true} {
		name := "go"
		if turbo {
			name = "turbo"
			if !jpegturbo.Available {
				continue
			}
		}
		b.Run(name, func(b *testing.B) {
			defer func(v bool) { useTurbo = v }(useTurbo)
			useTurbo = turbo
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var mp float64
			for b.Loop() {
				img, err := Decode(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				rgbPixels(img)
				mp += float64(img.Bounds().Dx()*img.Bounds().Dy()) / 1e6
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/mp, "ms/Mpixel")
		})
	}
}

// photoJPEG is a 640x480 JPEG (quality 90, 4:2:0) scaled up from a test picture.
func photoJPEG(b testing.TB) []byte {
	src, err := DecodeFile(filepath.Join(imagesDir, "ok", "still-life-500x500.jpg"))
	require.NoError(b, err)
	dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			dst.Set(x, y, src.At(x*500/640, y*500/480))
		}
	}
	var buf bytes.Buffer
	require.NoError(b, jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// jpegColorType is the type a colour JPEG decodes to in this build (TestDecodeFormats).
var jpegColorType = map[bool]string{true: "*image.RGBA", false: "*image.YCbCr"}[jpegturbo.Available]

// With libjpeg-turbo, JPEGs decode to Pillow's pixels: TestPreprocessMatchesPillow then holds
// them to the tolerance of losslessly stored images (the resize's rounding alone).
func init() {
	if jpegturbo.Available {
		pillowTolerance["jpeg"] = pillowTolerance["lossless"]
	}
}
