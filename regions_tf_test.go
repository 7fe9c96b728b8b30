//go:build cgo && !notensorflow

package pinrec

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegionEmbedFeatures: the features signature gives Embed's embedding, and a feature map
// whose mean over its cells is that embedding.
func TestRegionEmbedFeatures(t *testing.T) {
	e := sharedEmbedder(t)
	require.True(t, e.HasFeatureMaps(), "models/resnet50 lacks the features signature: run make setup")
	assert.Equal(t, [3]int{7, 7, 2048}, e.Info().FeatureMap)
	ctx := context.Background()
	var imgs []image.Image
	for _, p := range writeTestImages(t, t.TempDir(), 5) {
		img, err := DecodeFile(p)
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	fs, err := e.EmbedFeatures(ctx, imgs...)
	require.NoError(t, err)
	require.Len(t, fs, len(imgs))
	want, err := e.Embed(ctx, imgs...)
	require.NoError(t, err)
	for i, f := range fs {
		b := imgs[i].Bounds()
		assert.Equal(t, b.Dx(), f.Map.SourceW)
		assert.Equal(t, b.Dy(), f.Map.SourceH)
		mean := f.Map.Pool(image.Rect(0, 0, 7, 7))
		rel, _ := maxRelDiff([][]float32{f.Vector}, [][]float32{want[i]})
		assert.LessOrEqual(t, rel, 1e-5, "embedding of image %d", i)
		rel, _ = maxRelDiff([][]float32{mean}, [][]float32{want[i]})
		assert.LessOrEqual(t, rel, 1e-5, "feature map mean of image %d", i)
	}
}

// TestRegionCustomProposer: the boxes a user's proposer returns are what get indexed (clipped
// to the image, duplicates of the same cells dropped), each with the feature map pooled over
// its cells, computed here cell by cell.
func TestRegionCustomProposer(t *testing.T) {
	e := sharedEmbedder(t)
	ctx := context.Background()
	img := testRGBA(350, 210, 4)
	fs, err := e.EmbedFeatures(ctx, img)
	require.NoError(t, err)
	fm := fs[0].Map
	boxes := []Rect{
		{X: 0, Y: 0, W: 100, H: 60},     // cells 0..2 x 0..2
		{X: 200, Y: 90, W: 500, H: 500}, // clipped to 150x120
		{X: 1, Y: 1, W: 99, H: 59},      // the same cells as the first: dropped
		{X: 400, Y: 10, W: 5, H: 5},     // outside: dropped
		{X: 10, Y: 10, W: 0, H: 5},      // empty: dropped
		{X: 0, Y: 0, W: 350, H: 210},    // the whole image: dropped
		{X: 120, Y: 30, W: 20, H: 20},   // smaller than a cell (50x30 px)
	}
	var calls int
	prop := ProposerFunc(func(got image.Image, m FeatureMap) ([]Rect, error) {
		calls++
		assert.Equal(t, image.Image(img), got)
		assert.Equal(t, 350, m.SourceW)
		return boxes, nil
	})
	regions, err := Regions(img, fm, 10, prop)
	require.NoError(t, err)
	assert.Equal(t, 1, calls)
	wantBoxes := []Rect{boxes[0], {X: 200, Y: 90, W: 150, H: 120}, boxes[6]}
	wantCells := []image.Rectangle{image.Rect(0, 0, 2, 2), image.Rect(4, 3, 7, 7), image.Rect(2, 1, 3, 2)}
	ix, err := NewIndex(e.Dim())
	require.NoError(t, err)
	require.NoError(t, PutPin(ix, Item{ID: "pin.png", Vector: fs[0].Vector}, regions))
	require.Len(t, RegionIDs(ix, "pin.png"), len(wantBoxes))
	for i, box := range wantBoxes {
		it, err := ix.Get(RegionID("pin.png", i))
		require.NoError(t, err)
		assert.Equal(t, box.String(), it.Meta[MetaBox])
		c := wantCells[i]
		want := make([]float64, fm.C)
		for y := c.Min.Y; y < c.Max.Y; y++ {
			for x := c.Min.X; x < c.Max.X; x++ {
				for ch := range fm.C {
					want[ch] += float64(fm.Data[(y*fm.W+x)*fm.C+ch]) / float64(c.Dx()*c.Dy())
				}
			}
		}
		for ch := range fm.C {
			require.InDelta(t, want[ch], it.Vector[ch], 1e-4*(1+math.Abs(want[ch])), "region %d channel %d", i, ch)
		}
	}
}

func TestRegionEmbedCropBadRect(t *testing.T) {
	e := sharedEmbedder(t)
	img := testRGBA(40, 30, 1)
	for _, r := range []Rect{{0, 0, 0, 10}, {0, 0, 10, -1}, {-1, 0, 5, 5}, {0, -3, 5, 5}, {35, 0, 6, 5}, {0, 25, 5, 6}, {50, 50, 1, 1}} {
		t.Run(r.String(), func(t *testing.T) {
			_, err := e.EmbedCrop(context.Background(), img, r)
			assert.ErrorIs(t, err, ErrBadRect)
		})
	}
	v, err := e.EmbedCrop(context.Background(), img, Rect{0, 0, 40, 30})
	require.NoError(t, err)
	whole, err := e.Embed(context.Background(), img)
	require.NoError(t, err)
	assert.Equal(t, whole[0], v, "the whole image as a crop is the image")
}

// TestRegionCropAgreesWithKeras: a crop query (decode, EXIF orientation, crop, resize,
// preprocess, network) against Keras embedding the crop saved as a PNG file by Pillow (upright
// with ImageOps.exif_transpose, then cropped): cosine >= 0.999, and the difference under a tenth
// of the distance from Keras' embedding to the nearest embedding of a crop of another picture.
func TestRegionCropAgreesWithKeras(t *testing.T) {
	e := sharedEmbedder(t)
	ctx := context.Background()
	dir := t.TempDir()
	paths := agreementImages(t)
	// One file of each picture: the exif-orientation-N files hold the same picture, and so may
	// the JPEG variants of testdata/images/edge.
	for _, name := range []string{"exif-orientation-6.jpg", "subsampling-422.jpg"} {
		p, err := filepath.Abs(filepath.Join("testdata", "images", "edge", name))
		require.NoError(t, err)
		paths = append(paths, p)
	}
	type crop struct {
		path string
		r    Rect
	}
	var crops []crop
	var views []image.Image
	for i, p := range paths {
		img, err := DecodeFile(p)
		require.NoError(t, err, p)
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		for j, r := range []Rect{
			{X: w / 5, Y: h / 6, W: w / 2, H: h / 2},                 // inside
			{X: w/3 + 1, Y: h/3 + 1, W: w - w/3 - 1, H: h - h/3 - 1}, // odd corner, to the far edges
			{X: 0, Y: 0, W: max(w/4, 1) | 1, H: max(h/3, 1) | 1},     // at the origin, odd sizes
		} {
			if (i+j)%3 == 2 && i < len(paths)-2 {
				continue // two crops of each image; all three of the EXIF and 4:2:2 ones
			}
			require.NoError(t, r.In(w, h))
			v, err := Crop(img, r)
			require.NoError(t, err)
			crops = append(crops, crop{p, r})
			views = append(views, v)
		}
	}
	goVecs, err := e.Embed(ctx, views...)
	require.NoError(t, err)
	var lines []string
	for _, c := range crops {
		lines = append(lines, fmt.Sprintf("%d %d %d %d %s", c.r.X, c.r.Y, c.r.W, c.r.H, c.path))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crops.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	runPython(t, "keras_reference.py", "--model", e.Info().Dir,
		"--crops", filepath.Join(dir, "crops.txt"), "--crops-dir", dir,
		"--out-crops", filepath.Join(dir, "crops.npy"))
	want := readNpy(t, filepath.Join(dir, "crops.npy"), []int{len(crops), e.Dim()})

	worstCos, worstRatio := 2.0, 0.0
	for i, c := range crops {
		cos := cosine(goVecs[i], want[i])
		// The nearest embedding of a crop of another picture (testdata holds some pictures at
		// two sizes, city-* and landscape-*: they are one picture here).
		nearest := math.Inf(1)
		for j := range want {
			if scene(crops[j].path) != scene(c.path) {
				nearest = min(nearest, regionL2(want[i], want[j]))
			}
		}
		ratio := regionL2(goVecs[i], want[i]) / nearest
		worstCos, worstRatio = min(worstCos, cos), max(worstRatio, ratio)
		assert.GreaterOrEqual(t, cos, 0.999, "%s crop %v", c.path, c.r)
		assert.Less(t, ratio, 0.1, "%s crop %v", c.path, c.r)
		t.Logf("  %-26s crop %-16v cosine %.6f, |go-keras| / nearest other %.4f", filepath.Base(c.path), c.r, cos, ratio)
	}
	t.Logf("crop parity: %d crops of %d images, Go vs Keras on the crop saved as PNG: worst cosine %.6f, worst |go-keras| / distance to the nearest embedding of a crop of another picture %.4f",
		len(crops), len(paths), worstCos, worstRatio)
}

// scene names the picture of a test image file: its base name up to the first "-".
func scene(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '-'); i > 0 {
		return base[:i]
	}
	return base
}

func regionL2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// TestRegionEmbedStream: an Embedder made WithRegions reports, per file of EmbedStream, the
// vector EmbedFiles gives and the regions that Regions makes from EmbedFeatures' feature map
// with the same proposer; bad files stay per-file errors.
func TestRegionEmbedStream(t *testing.T) {
	ctx := context.Background()
	base := sharedEmbedder(t)
	prop := ProposerFunc(func(img image.Image, fm FeatureMap) ([]Rect, error) {
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		return []Rect{{0, 0, w / 2, h / 2}, {w / 3, h / 3, w / 2, h / 2}}, nil
	})
	e, err := NewEmbedder(base.Info().Dir, WithBatchSize(3), WithRegions(5, prop))
	require.NoError(t, err)
	defer e.Close()
	dir := t.TempDir()
	paths := writeTestImages(t, dir, 5)
	bad := filepath.Join(dir, "bad.jpg")
	require.NoError(t, os.WriteFile(bad, []byte("not an image"), 0o644))
	paths = append(paths[:2], append([]string{bad}, paths[2:]...)...)

	var got []EmbedResult
	require.NoError(t, e.EmbedStream(ctx, paths, func(r EmbedResult) error {
		got = append(got, r)
		return nil
	}))
	require.Len(t, got, len(paths))
	for i, r := range got {
		require.Equal(t, i, r.Index)
		if paths[i] == bad {
			assert.ErrorIs(t, r.Err, ErrUnsupportedFormat)
			assert.Nil(t, r.Regions)
			continue
		}
		require.NoError(t, r.Err)
		img, err := DecodeFile(paths[i])
		require.NoError(t, err)
		fs, err := base.EmbedFeatures(ctx, img)
		require.NoError(t, err)
		want, err := Regions(img, fs[0].Map, 5, prop)
		require.NoError(t, err)
		require.Len(t, r.Regions, len(want), paths[i])
		require.NotEmpty(t, want)
		for j := range want {
			assert.Equal(t, want[j].Box, r.Regions[j].Box)
			rel, _ := maxRelDiff([][]float32{r.Regions[j].Vector}, [][]float32{want[j].Vector})
			assert.LessOrEqual(t, rel, 1e-5)
		}
		rel, _ := maxRelDiff([][]float32{r.Vector}, [][]float32{fs[0].Vector})
		assert.LessOrEqual(t, rel, 1e-5)
	}

	// Without the features signature, a clear error.
	noFeat := badModelDir(t, func(m map[string]any) { delete(m, "features_signature_key") }, true)
	e2, err := NewEmbedder(noFeat, WithRegions(3, nil))
	require.NoError(t, err)
	defer e2.Close()
	assert.False(t, e2.HasFeatureMaps())
	err = e2.EmbedStream(ctx, paths[:1], func(EmbedResult) error { return nil })
	assert.ErrorIs(t, err, ErrNoFeatureMap)
}
