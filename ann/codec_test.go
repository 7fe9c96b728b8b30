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
			// distCodes weighs the squared code differences by w = step², or by the integer
			// weights pws·pw when derive made them (within pairWeightError of w in total).
			var want float64
			var wsum, werr float64
			for t2 := 0; t2 < c.pdim; t2++ {
				w := float64(c.step[t2]) * float64(c.step[t2])
				if c.pw != nil {
					wsum += w
					werr += math.Abs(w - float64(c.pws)*float64(c.pw[t2]))
					w = float64(c.pws) * float64(c.pw[t2])
				}
				e := float64(blocks[0][t2]) - float64(blocks[1][t2])
				want += w * e * e
			}
			assert.LessOrEqual(t, werr, pairWeightError*wsum, "%s d=%d pair weights", kind, d)
			if kind == kindPCASQ8 {
				want += float64(residual(blocks[0][c.pdim:])) + float64(residual(blocks[1][c.pdim:]))
			}
			assert.InDelta(t, want, float64(c.distCodes(blocks[0], blocks[1])), 1e-4*want+1e-6, "%s d=%d distCodes (integer weights %v)", kind, d, c.pw != nil)
		}
	}
}

// TestPairWeights checks when derive keeps integer pair weights: steps of similar size (and a
// constant dimension, whose step becomes 1) give weights within pairWeightError of step²
// in total, and distCodes on them equals the integer sum times the scale; many weights that
// round to nothing against the largest keep the float32 weights.
func TestPairWeights(t *testing.T) {
	cases := []struct {
		name  string
		steps []float32
		ok    bool
	}{
		{"uniform", []float32{1, 1, 1, 1, 1, 1, 1, 1}, true},
		{"similar", []float32{0.5, 0.7, 0.9, 1.1, 0.6, 0.8, 1.0, 1.2}, true},
		{"constant dimension", []float32{0, 1, 0.9, 1.1, 1, 1, 1, 1}, true},
		{"one large weight", []float32{100, 1, 1, 1, 1, 1, 1, 0.01}, true}, // the others' error is small in total
		{"many small weights", []float32{1, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &codec{kind: kindSQ8, dim: len(tc.steps), pdim: len(tc.steps), lo: make([]float32, len(tc.steps)), step: append([]float32(nil), tc.steps...)}
			c.derive()
			require.Equal(t, tc.ok, c.pw != nil)
			a := []byte{0, 255, 3, 200, 17, 90, 1, 128}
			b := []byte{255, 0, 9, 100, 17, 33, 250, 127}
			var exact, werr, wsum float64
			for i := range a {
				w := float64(c.w[i])
				d := float64(a[i]) - float64(b[i])
				exact += w * d * d
				wsum += w
				if c.pw != nil {
					werr += math.Abs(w - float64(c.pws)*float64(c.pw[i]))
				}
			}
			require.LessOrEqual(t, werr, pairWeightError*wsum)
			got := float64(c.distCodes(a, b))
			if c.pw == nil {
				assert.InDelta(t, exact, got, 1e-5*exact)
				return
			}
			var want int64
			for i := range a {
				d := int64(a[i]) - int64(b[i])
				want += int64(c.pw[i]) * d * d
			}
			assert.InDelta(t, float64(c.pws)*float64(want), got, 1e-6*exact)
			assert.InDelta(t, exact, got, pairWeightError*exact)
		})
	}
}
