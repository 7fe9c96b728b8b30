package pinrec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec/internal/kernel"
)

// adversarialSets are vector families that stress the int16 first pass of SearchBatch: ties,
// constant and zero vectors, tiny and huge magnitudes, magnitudes that differ by many orders
// within a vector or between vectors, and dimensions that are not a multiple of the tiles.
func adversarialSets(rng *rand.Rand) []struct {
	name string
	dim  int
	gen  func(i int) []float32
} {
	normal := func(dim int, scale float64) []float32 {
		v := make([]float32, dim)
		for t := range v {
			v[t] = float32(rng.NormFloat64() * scale)
		}
		return v
	}
	constant := func(dim int, c float32) []float32 {
		v := make([]float32, dim)
		for t := range v {
			v[t] = c
		}
		return v
	}
	return []struct {
		name string
		dim  int
		gen  func(i int) []float32
	}{
		{"d=1", 1, func(int) []float32 { return normal(1, 1) }},
		{"d=1 ties", 1, func(i int) []float32 { return []float32{float32(i%5) - 2} }},
		{"d=33 duplicates", 33, func(i int) []float32 {
			return normal(33, 1)[:0:0]
		}},
		{"constant vectors", 70, func(i int) []float32 { return constant(70, float32(i%7)-3) }},
		{"zero and tiny", 40, func(i int) []float32 {
			switch i % 3 {
			case 0:
				return constant(40, 0)
			case 1:
				return normal(40, 1e-36)
			}
			return normal(40, 1e-30)
		}},
		{"huge", 65, func(int) []float32 { return normal(65, 1e13) }},
		{"mixed scales", 96, func(i int) []float32 { return normal(96, math.Pow(10, float64(i%13-6))) }},
		{"one large coordinate", 129, func(i int) []float32 {
			v := normal(129, 1e-3)
			v[i%129] = 1e4
			return v
		}},
		{"near ties", 37, func(i int) []float32 {
			v := constant(37, 1)
			v[i%37] = math.Nextafter32(1, 2)
			if i%4 == 0 {
				v[0] = 1.5
			}
			return v
		}},
	}
}

// TestSearchBatchAdversarial: on every kernel set this CPU has and both first passes (float32
// dot products, int16 codes), SearchBatch returns exactly what Search returns for each query,
// on the adversarial families, with several workers and ks.
func TestSearchBatchAdversarial(t *testing.T) {
	t.Cleanup(func() { kernel.Limit(os.Getenv("PINREC_KERNEL")) })
	splitSmallScans(t)
	seen := map[string]bool{}
	for _, limit := range []string{"go", "avx2", "avxvnni", "avx512bw", ""} {
		name := kernel.Limit(limit)
		if seen[name+kernel.I16Name] {
			continue
		}
		seen[name+kernel.I16Name] = true
		forEachFirstPass(t, name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(31, 32))
			for _, set := range adversarialSets(rng) {
				const n = 600
				ix, err := NewIndex(set.dim)
				require.NoError(t, err)
				vecs := make([][]float32, n)
				for i := range vecs {
					v := set.gen(i)
					if len(v) == 0 { // duplicates: a few distinct vectors, repeated
						if i < 20 {
							v = randVectors(rng, 1, set.dim)
						} else {
							v = vecs[i%20]
						}
					}
					vecs[i] = v
					require.NoError(t, ix.Add(Item{ID: fmt.Sprintf("id%d", i), Vector: v}))
				}
				queries := [][]float32{vecs[3], vecs[10], set.gen(n), set.gen(n + 1), make([]float32, set.dim), vecs[77]}
				for j, q := range queries {
					if len(q) == 0 {
						queries[j] = randVectors(rng, 1, set.dim)
					}
				}
				for _, k := range []int{1, 10, 100} {
					for _, w := range []int{1, 3} {
						batch, err := ix.SearchBatch(context.Background(), queries, k, WithWorkers(w))
						require.NoError(t, err)
						for j, q := range queries {
							res, err := ix.Search(context.Background(), q, k)
							require.NoError(t, err)
							require.Equal(t, res, batch[j], "%s: k=%d workers=%d query %d", set.name, k, w, j)
						}
					}
				}
			}
		})
	}
}

// TestI16IntervalHolds checks the int16 first pass's bound directly: for every pair of the
// adversarial families, the distance L2sqTile computes lies in the interval i16Interval
// returns, on every kernel set.
func TestI16IntervalHolds(t *testing.T) {
	t.Cleanup(func() { kernel.Limit(os.Getenv("PINREC_KERNEL")) })
	for _, limit := range []string{"go", "avx2", ""} {
		name := kernel.Limit(limit)
		rng := rand.New(rand.NewPCG(33, 34))
		for _, set := range adversarialSets(rng) {
			const n = 40
			dim := set.dim
			vecs := make([][]float32, n)
			for i := range vecs {
				vecs[i] = set.gen(i)
				if len(vecs[i]) == 0 {
					vecs[i] = randVectors(rng, 1, dim)
				}
			}
			codes := newI16Codes(n, dim)
			norms := make([]float32, n)
			for i, v := range vecs {
				norms[i] = codes.set(i, v)
			}
			dots := make([]float64, n*n)
			kernel.DotI16Tile(codes.codes, n, codes.stride, codes.codes, n, codes.stride, i16Len(dim), dots, n, nil)
			c16 := boundedI16ErrFactor(dim)
			widths := 0.0
			for j := range n {
				for i := range n {
					sq, qr, cq := codes.i16QueryTerms(j, dim)
					lower, upper := i16Interval(float64(norms[i])+float64(norms[j]), dots[j*n+i],
						codes.scale2[i], codes.rs[i], codes.ls[i], sq, qr, cq, c16)
					var d [1]float32
					l2sqTile(vecs[i], 1, dim, vecs[j], 1, dim, dim, d[:], 1)
					require.LessOrEqual(t, lower, float64(d[0]), "%s/%s: pair (%d, %d)", name, set.name, i, j)
					require.GreaterOrEqual(t, upper, float64(d[0]), "%s/%s: pair (%d, %d)", name, set.name, i, j)
					if d[0] > 0 {
						widths = max(widths, (upper-lower)/float64(d[0]))
					}
				}
			}
			t.Logf("%s/%s: widest interval %.3g of the distance", name, set.name, widths)
		}
	}
}

// BenchmarkSearchBatch100 times a batch of 100 queries over 20,000 x 2048 random vectors on one
// worker, with either first pass of the bounded path.
func BenchmarkSearchBatch100(b *testing.B) {
	rng := rand.New(rand.NewPCG(35, 36))
	const n, dim = 20000, 2048
	ix, _ := newRandIndex(b, rng, n, dim)
	qs := make([][]float32, 100)
	for i := range qs {
		qs[i] = randVectors(rng, 1, dim)
	}
	old := i16Path
	b.Cleanup(func() { i16Path = old })
	for _, path := range []int{-1, 1} {
		i16Path = path
		name := "float32"
		if path > 0 {
			name = "int16 " + kernel.I16Name
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ix.SearchBatch(context.Background(), qs, 10, WithWorkers(1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
