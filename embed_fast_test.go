//go:build cgo && !notensorflow

package pinrec

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FastModeFidelity is what fastModeFidelity measures between the vectors of WithFastMode and
// float32 vectors of the same images.
type FastModeFidelity struct {
	// WorstCosine is the least cosine similarity between an image's fast and float32 vectors.
	WorstCosine float64
	// DiscriminativeRatio is the largest, over images i, of ||fast_i - fp32_i|| divided by the
	// distance from fp32_i to the nearest other image's fp32 vector: how far the fast mode moves a
	// vector compared with the gap that tells images apart. Below 0.5 no nearest neighbour can
	// swap; the bound tested is 0.05.
	DiscriminativeRatio float64
	// MaxAbsDiff is the largest difference of one component: 0 when TensorFlow left the graph
	// in float32 (CPUs without native bfloat16, where the rewrite is skipped).
	MaxAbsDiff float64
}

// fastModeFidelity compares fast against fp32, row i being the same image in both.
func fastModeFidelity(fp32, fast [][]float32) FastModeFidelity {
	f := FastModeFidelity{WorstCosine: 1}
	for i := range fp32 {
		f.WorstCosine = min(f.WorstCosine, cosine(fp32[i], fast[i]))
		nearest := math.Inf(1)
		for j := range fp32 {
			// Identical pictures (the test set's EXIF orientations of one image) have identical
			// vectors: no gap to keep, so they do not count as neighbours.
			if d := l2(fp32[i], fp32[j]); j != i && d > 0 {
				nearest = min(nearest, d)
			}
		}
		f.MaxAbsDiff = max(f.MaxAbsDiff, maxAbs(fp32[i], fast[i]))
		if !math.IsInf(nearest, 1) {
			f.DiscriminativeRatio = max(f.DiscriminativeRatio, l2(fp32[i], fast[i])/nearest)
		}
	}
	return f
}

func maxAbs(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// fidelityImages is every picture of testdata/images/ok and edge: photo-like scenes, and the
// unusual files, which are the close pairs (the eight EXIF orientations of one picture).
func fidelityImages(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, sub := range []string{"ok", "edge"} {
		entries, err := os.ReadDir(filepath.Join(imagesDir, sub))
		require.NoError(t, err)
		for _, e := range entries {
			paths = append(paths, filepath.Join(imagesDir, sub, e.Name()))
		}
	}
	return paths
}

// TestFastModeFidelity checks the fast mode's vectors against float32 ones on the test images
// with the model `make setup` exports (random weights unless ImageNet ones could be fetched).
func TestFastModeFidelity(t *testing.T) {
	dir := testModelDir(t)
	paths := fidelityImages(t)
	ctx := context.Background()
	embed := func(opts ...EmbedderOption) ([][]float32, ModelInfo) {
		e, err := NewEmbedder(dir, append(opts, WithBatchSize(8))...)
		require.NoError(t, err)
		defer func() { require.NoError(t, e.Close()) }()
		vecs, err := e.EmbedFiles(ctx, paths)
		require.NoError(t, err)
		return vecs, e.Info()
	}
	fp32, info32 := embed()
	fast, infoFast := embed(WithFastMode())
	require.Equal(t, PrecisionFloat32, info32.Precision)
	require.Equal(t, PrecisionFast, infoFast.Precision)
	f := fastModeFidelity(fp32, fast)
	t.Logf("fast mode vs float32 on %d test images (%s): worst cosine %.7f, discriminative ratio %.5f, max abs diff %.3g",
		len(paths), info32.Weights, f.WorstCosine, f.DiscriminativeRatio, f.MaxAbsDiff)
	require.LessOrEqual(t, f.DiscriminativeRatio, 0.05)
	require.GreaterOrEqual(t, f.WorstCosine, 0.999)
}
