package pinrec

import (
	"image"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
