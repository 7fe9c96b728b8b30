package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// l2sq64 is the float64 reference: Σ (x[t]-y[t])².
func l2sq64(x, y []float32) float64 {
	var s float64
	for t := range x {
		d := float64(x[t]) - float64(y[t])
		s += d * d
	}
	return s
}

// dot64 is the float64 reference Σ x[t]*y[t], and the sum of the products' magnitudes.
func dot64(x, y []float32) (float64, float64) {
	var s, a float64
	for t := range x {
		p := float64(x[t]) * float64(y[t])
		s += p
		a += math.Abs(p)
	}
	return s, a
}

// tileShapes covers every edge of the AVX2 tiles (4 rows x 3 queries, 8 rows for one query)
// and of the AVX-512 tiles (4 rows x 6 queries): row and query counts below, at and past a
// multiple of the tile.
var tileShapes = []struct{ nr, nq int }{
	{1, 1}, {1, 6}, {2, 5}, {3, 2}, {3, 6}, {4, 1}, {4, 3}, {4, 4}, {4, 6},
	{5, 7}, {6, 8}, {7, 12}, {8, 1}, {9, 7}, {13, 13}, {19, 1},
}

// TestKernelMatchesPortable runs every kernel set this CPU has (the portable one, AVX2+FMA,
// AVX-512, the latter also in short chunks; the log says which ran) and the dispatched L2sqTile and DotTile against the
// portable kernels and a float64 reference, for every length 0..67, starts at offsets 0..3,
// tiles of every edge shape, NaN guards after every input row (a kernel that reads past the
// end would turn a result into NaN) and guard values around the output (one that writes out
// of place would change them).
func TestKernelMatchesPortable(t *testing.T) {
	sets := append(available(), testSets()...)
	sets = append(sets, kernelSet{"dispatched " + Name, L2sqTile, DotTile})
	for _, set := range sets {
		t.Logf("kernel set %s", set.name)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const guard = float32(-12345)
	nan := float32(math.NaN())
	type kind struct {
		name string
		fast func(kernelSet) tileFunc
		slow tileFunc
		ref  func(x, y []float32) (want, tol float64)
	}
	kinds := []kind{
		{"l2sq", func(s kernelSet) tileFunc { return s.l2sq }, l2sqTileGo, func(x, y []float32) (float64, float64) {
			d := l2sq64(x, y)
			return d, 1e-6*d + 1e-30
		}},
		{"dot", func(s kernelSet) tileFunc { return s.dot }, dotTileGo, func(x, y []float32) (float64, float64) {
			d, a := dot64(x, y)
			return d, 1e-6*a + 1e-30
		}},
	}
	for _, set := range sets {
		for _, kind := range kinds {
			fastTile := kind.fast(set)
			for n := 0; n <= 67; n++ {
				for _, sh := range tileShapes {
					for off := 0; off <= 3; off++ {
						name := fmt.Sprintf("%s/%s/n=%d/%dx%d/off=%d", set.name, kind.name, n, sh.nr, sh.nq, off)
						stride := n + 1 + off // one NaN guard after each row
						x := make([]float32, off+sh.nr*stride)
						q := make([]float32, off+sh.nq*stride)
						for _, buf := range [][]float32{x, q} {
							for i := range buf {
								buf[i] = nan
							}
						}
						for i := 0; i < sh.nr; i++ {
							for t := 0; t < n; t++ {
								x[off+i*stride+t] = float32(rng.NormFloat64())
							}
						}
						for j := 0; j < sh.nq; j++ {
							for t := 0; t < n; t++ {
								q[off+j*stride+t] = float32(rng.NormFloat64())
							}
						}
						os := sh.nr + 2
						fast := make([]float32, 1+sh.nq*os+1)
						slow := make([]float32, len(fast))
						for i := range fast {
							fast[i], slow[i] = guard, guard
						}
						xs, qs := x[off:], q[off:]
						fastTile(xs, sh.nr, stride, qs, sh.nq, stride, n, fast[1:], os)
						kind.slow(xs, sh.nr, stride, qs, sh.nq, stride, n, slow[1:], os)
						for j := 0; j < sh.nq; j++ {
							for i := 0; i < os; i++ {
								o := 1 + j*os + i
								if i >= sh.nr {
									require.Equal(t, guard, fast[o], "%s: guard at query %d slot %d overwritten", name, j, i)
									continue
								}
								ref, tol := kind.ref(xs[i*stride:i*stride+n], qs[j*stride:j*stride+n])
								require.InDelta(t, ref, float64(fast[o]), tol, "%s: fast row %d query %d", name, i, j)
								require.InDelta(t, ref, float64(slow[o]), tol, "%s: portable row %d query %d", name, i, j)
								require.InDelta(t, float64(slow[o]), float64(fast[o]), tol, "%s: fast vs portable", name)
							}
						}
						require.Equal(t, guard, fast[0], "%s: guard before the output", name)
						require.Equal(t, guard, fast[len(fast)-1], "%s: guard after the output", name)
					}
				}
			}
		}
	}
}

// TestDotRoundingsBound checks the premise of SearchBatch's bounds on every kernel set: a dot
// product is within γ(m)·Σ|x[t]·q[t]| of the exact value and a squared distance within
// γ(m+2)·Σ(x[t]-q[t])² (the subtraction's rounding, squared), m = DotRoundings(n), for short
// lengths, lengths around the AVX-512 chunk and long ones, on values whose scales vary by
// 2^±8 so that sums cancel.
func TestDotRoundingsBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	gamma := func(m int) float64 {
		const u = 1.0 / (1 << 24)
		return float64(m) * u / (1 - float64(m)*u)
	}
	const nr, nq = 5, 7
	lengths := []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 1023, 1024, 1025, 2048, 2061, 4099}
	for _, set := range append(available(), testSets()...) {
		for _, n := range lengths {
			x := make([]float32, nr*n)
			q := make([]float32, nq*n)
			for _, buf := range [][]float32{x, q} {
				for i := range buf {
					buf[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(17)-8))
				}
			}
			dots := make([]float32, nr*nq)
			dists := make([]float32, nr*nq)
			set.dot(x, nr, n, q, nq, n, n, dots, nr)
			set.l2sq(x, nr, n, q, nq, n, n, dists, nr)
			m := DotRoundings(n)
			for j := 0; j < nq; j++ {
				for i := 0; i < nr; i++ {
					xi, qj := x[i*n:(i+1)*n], q[j*n:(j+1)*n]
					want, mag := dot64(xi, qj)
					require.LessOrEqual(t, math.Abs(float64(dots[j*nr+i])-want), gamma(m)*mag*(1+1e-9),
						"%s n=%d dot row %d query %d", set.name, n, i, j)
					d := l2sq64(xi, qj)
					require.LessOrEqual(t, math.Abs(float64(dists[j*nr+i])-d), gamma(m+2)*d*(1+1e-9),
						"%s n=%d distance row %d query %d", set.name, n, i, j)
				}
			}
		}
	}
}

// TestKernelBlockingInvariant checks, for every kernel set, that a pair's distance does not
// depend on the tile it is computed in: Search (one query) and SearchBatch (many) must agree
// exactly. Dot products only bound distances, so they need not be invariant.
func TestKernelBlockingInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, nr, nq = 203, 11, 7
	x := randVectors(rng, nr, n)
	q := randVectors(rng, nq, n)
	for _, set := range available() {
		whole := make([]float32, nr*nq)
		set.l2sq(x, nr, n, q, nq, n, n, whole, nr)
		for j := 0; j < nq; j++ {
			column := make([]float32, nr) // one query, all rows: the single-search kernels
			set.l2sq(x, nr, n, q[j*n:], 1, n, n, column, nr)
			for i := 0; i < nr; i++ {
				one := make([]float32, 1)
				set.l2sq(x[i*n:], 1, n, q[j*n:], 1, n, n, one, 1)
				assert.Equal(t, whole[j*nr+i], one[0], "%s: row %d query %d", set.name, i, j)
				assert.Equal(t, whole[j*nr+i], column[i], "%s: row %d query %d", set.name, i, j)
			}
		}
	}
}

// TestKernelChoose checks that PINREC_KERNEL's limits take effect: the sets chosen are the
// fastest this CPU has within the limit.
func TestKernelChoose(t *testing.T) {
	t.Cleanup(func() { choose("") })
	sets := available()
	for _, tc := range []struct {
		limit string
		want  string
	}{
		{"go", "go"},
		{"avx2", sets[min(1, len(sets)-1)].name},
		{"", sets[len(sets)-1].name},
		{"anything else", sets[len(sets)-1].name},
	} {
		choose(tc.limit)
		assert.Equal(t, tc.want, Name, "limit %q", tc.limit)
	}
}

func TestKernelOutOfBoundsPanics(t *testing.T) {
	x := make([]float32, 10)
	out := make([]float32, 2)
	assert.Panics(t, func() { L2sqTile(x, 2, 8, x, 1, 8, 8, out, 2) }, "rows past the slice")
	assert.Panics(t, func() { l2sqTileGo(x, 1, 8, x, 1, 8, 8, out[:0], 1) }, "output too short")
	assert.NotPanics(t, func() { L2sqTile(x, 1, 8, x, 1, 8, 8, out, 1) })
}

func randVectors(rng *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func BenchmarkKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{128, 2048} {
		for _, sh := range []struct{ nr, nq int }{{4, 1}, {64, 3}, {64, 12}} {
			x := randVectors(rng, sh.nr, dim)
			q := randVectors(rng, sh.nq, dim)
			out := make([]float32, sh.nr*sh.nq)
			for _, k := range []struct {
				name string
				fn   func([]float32, int, int, []float32, int, int, int, []float32, int)
			}{{"l2sq-" + Name, L2sqTile}, {"l2sq-go", l2sqTileGo}, {"dot-" + Name, DotTile}} {
				b.Run(fmt.Sprintf("d=%d/%dx%d/%s", dim, sh.nr, sh.nq, k.name), func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(4 * dim * sh.nr * sh.nq))
					for b.Loop() {
						k.fn(x, sh.nr, dim, q, sh.nq, dim, dim, out, sh.nr)
					}
				})
			}
		}
	}
}

// BenchmarkDotBatch runs DotTile on the shape SearchBatch gives it: a block of 64 rows against
// 100 queries of 2048 floats. It reports GFLOP/s (two per multiply-add).
func BenchmarkDotBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const nr, nq, dim = 64, 100, 2048
	x := randVectors(rng, nr, dim)
	q := randVectors(rng, nq, dim)
	out := make([]float32, nr*nq)
	for _, set := range available() {
		b.Run(set.name, func(b *testing.B) {
			for b.Loop() {
				set.dot(x, nr, dim, q, nq, dim, dim, out, nr)
			}
			b.ReportMetric(2*nr*nq*dim*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
