package ann

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec/internal/synth"
)

// TestPCAFewVectors checks the Gram-matrix route of the PCA training (fewer vectors than
// dimensions): the projection's rows are orthonormal or zero, and vectors of the sample lose
// (almost) nothing to the projection, since they lie in the span it keeps.
func TestPCAFewVectors(t *testing.T) {
	for _, d := range []int{100, 600} {
		s := synth.New(3, d, 8, 5)
		sample := make([][]float32, 40)
		for i := range sample {
			sample[i] = s.Draw()
		}
		c, err := trainCodec(kindPCASQ8, d, sample, 1)
		require.NoError(t, err)
		require.Equal(t, min(d, pcaDim), c.pdim)
		nonzero := 0
		for r := 0; r < c.pdim; r++ {
			for r2 := 0; r2 <= r; r2++ {
				var dot float64
				for k := 0; k < d; k++ {
					dot += float64(c.proj[r*d+k]) * float64(c.proj[r2*d+k])
				}
				switch {
				case r2 < r:
					assert.InDelta(t, 0, dot, 1e-4, "rows %d and %d", r, r2)
				case dot > 0.5:
					nonzero++
					assert.InDelta(t, 1, dot, 1e-4, "row %d", r)
				default:
					assert.InDelta(t, 0, dot, 1e-9, "row %d", r)
				}
			}
		}
		assert.Equal(t, len(sample)-1, nonzero, "d=%d: the centred sample's rank", d)
		y := make([]float32, c.pdim)
		scratch := make([]float32, d)
		for _, x := range sample {
			var total float64
			for k := range x {
				dx := float64(x[k] - c.mean[k])
				total += dx * dx
			}
			res := c.project(x, y, scratch)
			assert.Less(t, float64(res), 1e-3*total+1e-6, "d=%d", d)
			assert.False(t, math.IsNaN(float64(res)))
		}
	}
}
