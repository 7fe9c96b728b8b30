package synth

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDraw(t *testing.T) {
	cases := []struct {
		name                string
		d, latent, clusters int
	}{
		{name: "one cluster", d: 5, latent: 2, clusters: 1},
		{name: "ann tests", d: 64, latent: 12, clusters: 40},
		{name: "bench dupes", d: 128, latent: 32, clusters: 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := New(7, tc.d, tc.latent, tc.clusters), New(7, tc.d, tc.latent, tc.clusters)
			zeroish := 0
			for range 50 {
				x := a.Draw()
				require.Len(t, x, tc.d)
				assert.Equal(t, x, b.Draw(), "the same seed draws the same vectors")
				for _, v := range x {
					require.GreaterOrEqual(t, v, float32(0))
					if v < 0.05 {
						zeroish++
					}
				}
			}
			assert.Positive(t, zeroish, "the ReLU zeroes some components")
			assert.NotEqual(t, New(8, tc.d, tc.latent, tc.clusters).Draw(), New(7, tc.d, tc.latent, tc.clusters).Draw())
		})
	}
}
