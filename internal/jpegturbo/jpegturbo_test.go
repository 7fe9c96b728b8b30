//go:build cgo && !nolibjpeg

package jpegturbo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the folder holding the core module's go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(data, []byte("module pinrec\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no pinrec go.mod above the test")
		dir = parent
	}
}

// python is the interpreter with Pillow: $PINREC_PYTHON or the repository's .venv.
func python(t testing.TB, root string) string {
	t.Helper()
	py := os.Getenv("PINREC_PYTHON")
	if py == "" {
		py = filepath.Join(root, ".venv", "bin", "python")
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("no Python for the Pillow oracle (%v): run `make setup` or set PINREC_PYTHON", err)
	}
	return py
}

// testJPEGs returns the JPEG files of testdata/images (ok and edge) and the variants that
// tools/pil_decode.py makes with Pillow (every subsampling it writes, odd sizes, progressive,
// restart markers, greyscale, CMYK) in a temporary folder, plus one written by Go's encoder.
func testJPEGs(t *testing.T, root, py string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"ok", "edge"} {
		m, err := filepath.Glob(filepath.Join(root, "testdata", "images", sub, "*.jpg"))
		require.NoError(t, err)
		files = append(files, m...)
	}
	dir := t.TempDir()
	out, err := exec.Command(py, filepath.Join(root, "tools", "pil_decode.py"), "make", dir).CombinedOutput()
	require.NoError(t, err, "tools/pil_decode.py make: %s", out)
	m, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(m), 15)
	files = append(files, m...)

	// Go's encoder: other quantisation and Huffman tables, 4:2:0, a size that is no multiple of 16.
	src := image.NewRGBA(image.Rect(0, 0, 75, 41))
	for y := 0; y < 41; y++ {
		for x := 0; x < 75; x++ {
			src.Set(x, y, color.RGBA{uint8(3 * x), uint8(6 * y), uint8(x*y + 7), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: 75}))
	goFile := filepath.Join(dir, "go-encoder-75x41.jpg")
	require.NoError(t, os.WriteFile(goFile, buf.Bytes(), 0o644))
	return append(files, goFile)
}

type pilImage struct {
	I             int    `json:"i"`
	Mode          string `json:"mode"`
	Width, Height int
	RGB           string `json:"rgb"`
}

// TestDecodeMatchesPillow checks that Decode's pixels equal Pillow's, byte for byte, for every
// test JPEG: Pillow's own mode (L, RGB, or CMYK as Pillow inverts it) without any conversion.
func TestDecodeMatchesPillow(t *testing.T) {
	root := repoRoot(t)
	py := python(t, root)
	files := testJPEGs(t, root, py)
	dir := t.TempDir()
	cmd := exec.Command(py, append([]string{filepath.Join(root, "tools", "pil_decode.py"), "dump", dir}, files...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tools/pil_decode.py dump")
	sc := bufio.NewScanner(bytes.NewReader(out))
	seen := map[string]int{}
	n := 0
	for sc.Scan() {
		var p pilImage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &p), sc.Text())
		want, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(p.RGB, ".rgb.raw")+".raw"))
		require.NoError(t, err)
		path := files[p.I]
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			cfg, err := Header(data)
			require.NoError(t, err)
			img, err := Decode(data, 0)
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, p.Width, p.Height), img.Bounds())
			require.Equal(t, image.Pt(cfg.Width, cfg.Height), img.Bounds().Size())
			var got []byte
			switch m := img.(type) {
			case *image.RGBA:
				require.Equal(t, "RGB", p.Mode)
				require.Equal(t, RGB, cfg.ColorModel)
				got = make([]byte, 0, len(m.Pix)/4*3)
				for i := 0; i < len(m.Pix); i += 4 {
					if m.Pix[i+3] != 255 {
						t.Fatalf("alpha %d at byte %d", m.Pix[i+3], i)
					}
					got = append(got, m.Pix[i:i+3]...)
				}
			case *image.Gray:
				require.Equal(t, "L", p.Mode)
				require.Equal(t, Gray, cfg.ColorModel)
				got = m.Pix
			case *image.CMYK:
				require.Equal(t, "CMYK", p.Mode)
				require.Equal(t, CMYK, cfg.ColorModel)
				got = m.Pix
			default:
				t.Fatalf("decoded to %T", img)
			}
			require.Len(t, got, len(want))
			worst := 0
			for i := range got {
				worst = max(worst, absDiff(got[i], want[i]))
			}
			require.Zero(t, worst, "max abs diff vs Pillow (%s, progressive %v)", p.Mode, cfg.Progressive)
			seen[p.Mode]++
			if cfg.Progressive {
				seen["progressive"]++
			}
		})
		n++
	}
	require.Equal(t, len(files), n, "Pillow decoded every file")
	t.Logf("libjpeg-turbo %s: %d files equal to Pillow's pixels (%v)", Version, n, seen)
	for _, k := range []string{"RGB", "L", "CMYK", "progressive"} {
		require.Positive(t, seen[k], "no %s file among the test JPEGs", k)
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestDecodeErrors(t *testing.T) {
	root := repoRoot(t)
	good, err := os.ReadFile(filepath.Join(root, "testdata", "images", "ok", "landscape-320x240.jpg"))
	require.NoError(t, err)
	prog, err := os.ReadFile(filepath.Join(root, "testdata", "images", "edge", "progressive.jpg"))
	require.NoError(t, err)
	huge, err := os.ReadFile(filepath.Join(root, "testdata", "images", "bad", "huge-40000x40000.jpg"))
	require.NoError(t, err)
	cases := []struct {
		name      string
		data      []byte
		maxPixels int64
		tooLarge  bool
	}{
		{"empty", nil, 0, false},
		{"not a JPEG", []byte("hello, world"), 0, false},
		{"SOI only", []byte{0xFF, 0xD8}, 0, false},
		{"header only", good[:300], 0, false},
		{"cut in half", good[:len(good)/2], 0, false},
		{"cut before EOI", good[:len(good)-20], 0, false},
		{"progressive cut", prog[:len(prog)*2/3], 0, false},
		{"over the limit", good, 320*240 - 1, true},
		{"40000x40000 header", huge, 1 << 26, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Decode(c.data, c.maxPixels)
			require.Error(t, err)
			require.Nil(t, img)
			var e *Error
			require.True(t, errors.As(err, &e), "%T %v", err, err)
			require.Equal(t, c.tooLarge, e.TooLarge, "%v", err)
			require.False(t, e.Unsupported, "%v", err)
		})
	}
	img, err := Decode(good, 320*240)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 320, 240), img.Bounds())
}

// TestDecodeUnsupported: 12-bit samples (SOF1 with precision 12) are a feature the 8-bit
// library lacks, not corrupt data.
func TestDecodeUnsupported(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "testdata", "images", "ok", "landscape-320x240.jpg"))
	require.NoError(t, err)
	data = bytes.Clone(data)
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	require.Positive(t, i)
	data[i+1] = 0xC1 // extended sequential
	data[i+4] = 12   // precision
	_, err = Decode(data, 0)
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.True(t, e.Unsupported, "%v", err)
}

func TestDecodeConcurrent(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "testdata", "images", "ok", "still-life-500x500.jpg"))
	require.NoError(t, err)
	want, err := Decode(data, 0)
	require.NoError(t, err)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := Decode(data, 0)
			if err == nil && !bytes.Equal(got.(*image.RGBA).Pix, want.(*image.RGBA).Pix) {
				err = errors.New("different pixels")
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

func FuzzDecode(f *testing.F) {
	root := repoRoot(f)
	for _, sub := range []string{"ok", "edge", "bad"} {
		m, err := filepath.Glob(filepath.Join(root, "testdata", "images", sub, "*.jpg"))
		require.NoError(f, err)
		for _, p := range m {
			data, err := os.ReadFile(p)
			require.NoError(f, err)
			if len(data) <= 8<<10 {
				f.Add(data)
			}
		}
	}
	const maxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, maxPixels)
		if err != nil {
			require.Nil(t, img)
			var e *Error
			require.True(t, errors.As(err, &e))
			return
		}
		b := img.Bounds()
		require.False(t, b.Empty())
		require.LessOrEqual(t, b.Dx()*b.Dy(), maxPixels)
	})
}
