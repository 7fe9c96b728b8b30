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

// TestIntegerDistance checks the graph's integer distance (quantised query · code, plus the
// norms) against the float64 squared distance between the query (projected, for PCA, plus both
// dropped parts) and the code's reconstruction lo + step·c, for each codec and dimensions
// around the kernels' block sizes, with prefetches of another block and of none; and that
// distCodes on blocks matches it between two codes.
func TestIntegerDistance(t *testing.T) {
	for _, kind := range []codecKind{kindSQ8, kindPCASQ8} {
		for _, d := range []int{1, 15, 31, 33, 100, 784, 2048} {
			s := synth.New(7, d, 6, 4)
			sample := make([][]float32, 60)
			for i := range sample {
				sample[i] = s.Draw()
			}
			c, err := trainCodec(kind, d, sample, 1)
			require.NoError(t, err)
			y := make([]float32, c.pdim)
			scratch := make([]float32, d)
			blocks := make([][]byte, 4)
			for i := range blocks {
				blocks[i] = make([]byte, c.blockSize())
				c.encode(s.Draw(), blocks[i], y, scratch)
			}
			q := c.newQuery()
			for qi := 0; qi < 3; qi++ {
				x := s.Draw()
				c.prepare(x, q)
				xy := x
				var res float64
				if kind == kindPCASQ8 {
					xy = make([]float32, c.pdim)
					res = float64(c.project(x, xy, make([]float32, d)))
				}
				for bi, b := range blocks {
					want := res
					if kind == kindPCASQ8 {
						want += float64(residual(b[c.pdim:]))
					}
					for t2 := 0; t2 < c.pdim; t2++ {
						r := float64(c.lo[t2]) + float64(c.step[t2])*float64(b[t2])
						e := float64(xy[t2]) - r
						want += e * e
					}
					for _, pf := range [][]byte{nil, blocks[(bi+1)%len(blocks)]} {
						got := float64(c.dist(q, b, pf))
						assert.InDelta(t, want, got, 2e-3*want+1e-3, "%s d=%d query %d block %d", kind, d, qi, bi)
					}
				}
			}
			var want float64
			for t2 := 0; t2 < c.pdim; t2++ {
				e := float64(c.step[t2]) * (float64(blocks[0][t2]) - float64(blocks[1][t2]))
				want += e * e
			}
			if kind == kindPCASQ8 {
				want += float64(residual(blocks[0][c.pdim:])) + float64(residual(blocks[1][c.pdim:]))
			}
			assert.InDelta(t, want, float64(c.distCodes(blocks[0], blocks[1])), 1e-4*want+1e-6, "%s d=%d distCodes", kind, d)
		}
	}
}
