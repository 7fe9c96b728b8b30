package ann

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec"
)

// synth draws n vectors of dimension d shaped like CNN features, as
// bench/synth_embeddings.py does at scale: a latent point near one of a few
// cluster centres (Zipf-sized clusters), mapped up by a fixed Gaussian matrix, through a ReLU
// (about half the components zero), plus a little non-negative jitter. Low intrinsic
// dimension, clustered, non-negative: random Gaussian vectors would be the wrong yardstick.
type synth struct {
	d, latent int
	w         [][]float64 // latent x d
	b         []float64
	centres   [][]float64
	spread    []float64
	cum       []float64 // cumulative cluster weights
	rng       *rand.Rand
}

func newSynth(seed uint64, d, latent, clusters int) *synth {
	rng := rand.New(rand.NewPCG(seed, 77))
	s := &synth{d: d, latent: latent, rng: rng}
	s.w = make([][]float64, latent)
	for i := range s.w {
		s.w[i] = make([]float64, d)
		for j := range s.w[i] {
			s.w[i][j] = rng.NormFloat64() / math.Sqrt(float64(latent))
		}
	}
	s.centres = make([][]float64, clusters)
	s.spread = make([]float64, clusters)
	s.cum = make([]float64, clusters)
	total := 0.0
	for c := range s.centres {
		s.centres[c] = make([]float64, latent)
		for i := range s.centres[c] {
			s.centres[c][i] = rng.NormFloat64()
		}
		s.spread[c] = 0.25 + 0.45*rng.Float64()
		total += 1 / math.Pow(float64(c+1), 1.1)
		s.cum[c] = total
	}
	for c := range s.cum {
		s.cum[c] /= total
	}
	s.b = make([]float64, d) // a bias that zeroes about 45% of the components at the centres
	for j := range s.b {
		s.b[j] = -0.1 * rng.NormFloat64()
	}
	return s
}

func (s *synth) draw() []float32 {
	u := s.rng.Float64()
	c := 0
	for c < len(s.cum)-1 && s.cum[c] < u {
		c++
	}
	z := make([]float64, s.latent)
	for i := range z {
		z[i] = s.centres[c][i] + s.spread[c]*s.rng.NormFloat64()
	}
	x := make([]float32, s.d)
	for j := range x {
		v := s.b[j]
		for i := range z {
			v += z[i] * s.w[i][j]
		}
		x[j] = float32(max(v, 0)*0.5 + math.Abs(s.rng.NormFloat64())*0.01)
	}
	return x
}

// testData is an exact index of n synthetic items ("p0".."p<n-1>") and nq fresh queries.
func testData(t testing.TB, seed uint64, n, nq, d int) (*pinrec.Index, [][]float32) {
	t.Helper()
	s := newSynth(seed, d, 12, 40)
	ix, err := pinrec.NewIndex(d, pinrec.WithCapacity(n))
	require.NoError(t, err)
	items := make([]pinrec.Item, n)
	for i := range items {
		items[i] = pinrec.Item{ID: fmt.Sprintf("p%d", i), Vector: s.draw(), Meta: map[string]string{"shard": fmt.Sprint(i % 4)}}
	}
	require.NoError(t, ix.Add(items...))
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = s.draw()
	}
	return ix, qs
}

// recallAt10 is the share of the exact top 10 (from oracle) that s finds, over the queries.
func recallAt10(t testing.TB, s pinrec.Searcher, oracle pinrec.Searcher, qs [][]float32, opts ...pinrec.SearchOption) float64 {
	t.Helper()
	ctx := context.Background()
	hit, total := 0, 0
	for _, q := range qs {
		want, err := oracle.Search(ctx, q, 10)
		require.NoError(t, err)
		got, err := s.Search(ctx, q, 10, opts...)
		require.NoError(t, err)
		in := make(map[string]bool, len(got))
		for _, r := range got {
			in[r.ID] = true
		}
		for _, r := range want {
			if in[r.ID] {
				hit++
			}
			total++
		}
	}
	return float64(hit) / float64(total)
}
