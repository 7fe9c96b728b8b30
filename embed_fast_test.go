//go:build cgo && !notensorflow

package pinrec

import (
	"context"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec/internal/cpuinfo"
	"pinrec/internal/fidelity"
)

// fidelityPictures is the test's set of distinct pictures: seeded synthetic scenes (a gradient
// sky, a ground, shapes of random colours, sizes and places), each a different picture by
// construction, then the photos of testdata/images/ok, whose two city files show one scene and
// form one group. groups[i] names the picture of image i.
func fidelityPictures(t testing.TB, n int) (imgs []image.Image, groups []int) {
	t.Helper()
	r := rand.New(rand.NewPCG(17, 2026))
	for i := range n {
		imgs = append(imgs, fidelityScene(r, 96+r.IntN(160), 96+r.IntN(160)))
		groups = append(groups, i)
	}
	entries, err := os.ReadDir(filepath.Join(imagesDir, "ok"))
	require.NoError(t, err)
	city := -1
	for _, e := range entries {
		img, err := DecodeFile(filepath.Join(imagesDir, "ok", e.Name()))
		require.NoError(t, err)
		g := len(imgs)
		if len(e.Name()) > 4 && e.Name()[:4] == "city" {
			if city < 0 {
				city = g
			}
			g = city
		}
		imgs = append(imgs, img)
		groups = append(groups, g)
	}
	return imgs, groups
}

// fidelityScene draws a w x h picture: a vertical gradient between two random colours and 3 to 8 filled
// rectangles and discs.
func fidelityScene(r *rand.Rand, w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rc := func() color.RGBA { return color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255} }
	top, bottom := rc(), rc()
	for y := range h {
		f := float64(y) / float64(h-1)
		c := color.RGBA{
			uint8(float64(top.R)*(1-f) + float64(bottom.R)*f),
			uint8(float64(top.G)*(1-f) + float64(bottom.G)*f),
			uint8(float64(top.B)*(1-f) + float64(bottom.B)*f), 255}
		for x := range w {
			img.SetRGBA(x, y, c)
		}
	}
	for range 3 + r.IntN(6) {
		c := rc()
		cx, cy, rx, ry := r.IntN(w), r.IntN(h), 4+r.IntN(w/3), 4+r.IntN(h/3)
		disc := r.IntN(2) == 0
		for y := max(0, cy-ry); y < min(h, cy+ry); y++ {
			for x := max(0, cx-rx); x < min(w, cx+rx); x++ {
				dx, dy := float64(x-cx)/float64(rx), float64(y-cy)/float64(ry)
				if !disc || dx*dx+dy*dy <= 1 {
					img.SetRGBA(x, y, c)
				}
			}
		}
	}
	return img
}

// TestFastModeFidelity compares WithFastMode with float32 on distinct pictures, with the model
// `make setup` exports (random weights unless ImageNet ones could be fetched).
//
// On a CPU without native bfloat16 (no AVX512_BF16, no AMX-BF16) TensorFlow skips the fast
// mode's rewrite and the vectors are float32: the test logs so and asserts they are equal (on
// AVX-512 CPUs without bfloat16, which oneDNN could emulate, it accepts either equality or the
// bounds, and logs which). On a bfloat16 CPU it asserts what users feel, each picture's top-10 among the others, with bounds
// from measurements on such CPUs (Intel Xeon with AMX, AMD EPYC with AVX512_BF16): top-10
// overlap 0.99 on 1,000 Fashion-MNIST pins (random weights), worst cosine 0.99999.
func TestFastModeFidelity(t *testing.T) {
	dir := testModelDir(t)
	cpu := cpuinfo.Read()
	t.Logf("cpu: %s", cpu)
	imgs, groups := fidelityPictures(t, 56)
	ctx := context.Background()
	embed := func(opts ...EmbedderOption) ([][]float32, ModelInfo) {
		e, err := NewEmbedder(dir, append(opts, WithBatchSize(8))...)
		require.NoError(t, err)
		defer func() { require.NoError(t, e.Close()) }()
		vecs, err := e.Embed(ctx, imgs...)
		require.NoError(t, err)
		return vecs, e.Info()
	}
	fp32, info32 := embed()
	fast, infoFast := embed(WithFastMode())
	require.Equal(t, PrecisionFloat32, info32.Precision)
	require.Equal(t, PrecisionFast, infoFast.Precision)
	f := fidelity.Compare(fp32, fast, groups, 10)
	t.Logf("fast mode vs float32 on %d images of %d distinct pictures (%s): top-%d overlap %.4f (float32 queries: %.4f), top-1 agreement %.4f, worst cosine %.7f, discriminative ratio %.5f, max abs diff %.3g",
		f.Images, f.Groups, info32.Weights, f.K, f.TopKOverlap, f.MixedTopKOverlap, f.Top1Agreement, f.WorstCosine, f.DiscriminativeRatio, f.MaxAbsDiff)
	switch {
	case !cpu.NativeBF16 && !slices.Contains(cpu.Features, "avx512f"):
		// oneDNN has no bfloat16 path below AVX-512: the rewrite is skipped.
		t.Logf("this CPU has neither native bfloat16 nor AVX-512: TensorFlow skips the rewrite, so fast mode must give float32's vectors exactly (no fidelity to measure here)")
		require.Zero(t, f.MaxAbsDiff, "fast mode changed vectors on a CPU without bfloat16 or AVX-512")
		return
	case !cpu.NativeBF16 && f.MaxAbsDiff == 0:
		t.Logf("this CPU has AVX-512 but no native bfloat16, and TensorFlow skipped the rewrite: fast vectors equal float32 ones (no fidelity to measure here)")
		return
	case !cpu.NativeBF16:
		t.Logf("this CPU has AVX-512 but no native bfloat16, and TensorFlow emulated bfloat16: bounds apply")
	default:
		t.Logf("this CPU has native bfloat16: fast mode runs in bfloat16, bounds apply")
		require.Greater(t, f.MaxAbsDiff, 0.0, "fast mode left every vector unchanged on a bfloat16 CPU: the rewrite did not run")
	}
	// Measured on bfloat16 CPUs: overlap 0.995 / 0.998 (these pictures), 0.992 (1,000
	// Fashion-MNIST pins); worst cosine 0.999994; discriminative ratio 0.036 here, 0.047 on
	// make bench-embed's photos. The bounds leave room for other CPUs' rounding.
	require.GreaterOrEqual(t, f.TopKOverlap, 0.9)
	require.GreaterOrEqual(t, f.MixedTopKOverlap, 0.9)
	require.GreaterOrEqual(t, f.WorstCosine, 0.9999)
	require.LessOrEqual(t, f.DiscriminativeRatio, 0.25)
}
