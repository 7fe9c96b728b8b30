package pinrec

import (
	"context"
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pixel embedder's vector is Preprocess's tensor, through every embedding path.
func TestPixelEmbedder(t *testing.T) {
	e, err := NewPixelEmbedder(4, WithBatchSize(3))
	require.NoError(t, err)
	defer e.Close()
	assert.Equal(t, 48, e.Dim())
	assert.Equal(t, PixelWeights, e.Info().Weights)

	var imgs []image.Image
	for i := range 7 {
		img := image.NewRGBA(image.Rect(0, 0, 9+i, 6))
		for y := range 6 {
			for x := range 9 + i {
				img.Set(x, y, color.RGBA{uint8(30 * i), uint8(20 * x), uint8(40 * y), 255})
			}
		}
		imgs = append(imgs, img)
	}
	got, err := e.Embed(context.Background(), imgs...)
	require.NoError(t, err)
	require.Len(t, got, len(imgs))
	for i, img := range imgs {
		want := Preprocess(img, 4, ModeTF)
		assert.Equal(t, want, got[i], "image %d", i)
		for _, v := range got[i] {
			assert.True(t, v >= -1 && v <= 1, "value %v in [-1, 1]", v)
		}
	}

	for _, side := range []int{0, -1, 4097} {
		_, err := NewPixelEmbedder(side)
		assert.Error(t, err, "side %d", side)
	}
}
