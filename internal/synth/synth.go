// Package synth draws vectors shaped like CNN features, for tests and benchmarks, as
// bench/synth_embeddings.py does at scale: a latent point near one of a few cluster centres
// (Zipf-sized clusters), mapped up by a fixed Gaussian matrix, through a ReLU (about half the
// components zero), plus a little non-negative jitter. Low intrinsic dimension, clustered,
// non-negative: random Gaussian vectors would be the wrong yardstick.
package synth

import (
	"math"
	"math/rand/v2"
)

// Gen draws the vectors of one seed, always the same ones in the same order. It is not safe
// for concurrent use.
type Gen struct {
	d, latent int
	w         [][]float64 // latent x d
	b         []float64
	centres   [][]float64
	spread    []float64
	cum       []float64 // cumulative cluster weights
	rng       *rand.Rand
}

// New is a generator of vectors of dimension d, from a latent space of the given dimension with
// the given number of clusters.
func New(seed uint64, d, latent, clusters int) *Gen {
	rng := rand.New(rand.NewPCG(seed, 77))
	s := &Gen{d: d, latent: latent, rng: rng}
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

// Draw is the next vector.
func (s *Gen) Draw() []float32 {
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
