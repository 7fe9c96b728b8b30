package pinrec

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
// libwebp's (chroma upsampling and colour conversion are, see internal/ycc).
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
