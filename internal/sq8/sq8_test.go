package sq8

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKernelMatchesPortable runs the kernels in use (AVX2+FMA on most amd64 machines, the
// portable ones under purego) against the portable loops and a float64 reference, for every
// length 0..67 at unaligned starts (offsets 0..3 elements into the buffers), with NaN (and,
// for codes, 255 behind a zero weight... no: a NaN weight) guards after every input: a kernel
// that reads one element past its end returns NaN.
func TestKernelMatchesPortable(t *testing.T) {
	t.Logf("kernel: %s", Kernel())
	rng := rand.New(rand.NewPCG(1, 2))
	nan := float32(math.NaN())
	for n := 0; n <= 67; n++ {
		for off := 0; off < 4; off++ {
			name := fmt.Sprintf("n=%d/off=%d", n, off)
			q := make([]float32, off+n+1)
			w := make([]float32, off+n+1)
			y := make([]float32, off+n+1)
			c := make([]byte, off+n+1)
			c2 := make([]byte, off+n+1)
			var ref, refF, refD, refP, scale float64
			for i := range q {
				q[i], w[i], y[i] = nan, nan, nan
			}
			for i := 0; i < n; i++ {
				j := off + i
				q[j] = float32(rng.Float64()*300 - 20)
				w[j] = float32(rng.Float64())
				y[j] = float32(rng.NormFloat64())
				c[j] = byte(rng.IntN(256))
				c2[j] = byte(rng.IntN(256))
				dp := float64(c[j]) - float64(c2[j])
				refP += float64(w[j]) * dp * dp
				d := float64(q[j]) - float64(c[j])
				ref += float64(w[j]) * d * d
				e := float64(q[j]) - float64(y[j])
				refF += e * e
				p := float64(q[j]) * float64(y[j])
				refD += p
				scale += math.Abs(p)
			}
			qs, ws, ys, cs, cs2 := q[off:off+n], w[off:off+n], y[off:off+n], c[off:off+n], c2[off:off+n]
			type check struct {
				what       string
				fast, slow float32
				ref, tol   float64
			}
			for _, ck := range []check{
				{"sq8", L2(qs, ws, cs), l2SQ8Go(qs, ws, cs), ref, 1e-5*ref + 1e-30},
				{"sq8 fast wrapper", l2SQ8Fast(qs, ws, cs), l2SQ8Go(qs, ws, cs), ref, 1e-5*ref + 1e-30},
				{"pair", L2Pair(cs, cs2, ws), l2SQ8PairGo(cs, cs2, ws), refP, 1e-5*refP + 1e-30},
				{"pair fast wrapper", l2SQ8PairFast(cs, cs2, ws), l2SQ8PairGo(cs, cs2, ws), refP, 1e-5*refP + 1e-30},
				{"l2f32", L2F32(qs, ys), l2F32Go(qs, ys), refF, 1e-5*refF + 1e-30},
				{"l2f32 fast wrapper", l2F32Fast(qs, ys), l2F32Go(qs, ys), refF, 1e-5*refF + 1e-30},
				{"dot", Dot(qs, ys), dotF32Go(qs, ys), refD, 1e-5*scale + 1e-30},
				{"dot fast wrapper", dotF32Fast(qs, ys), dotF32Go(qs, ys), refD, 1e-5*scale + 1e-30},
			} {
				require.False(t, math.IsNaN(float64(ck.fast)), "%s %s: fast kernel read a guard", name, ck.what)
				require.InDelta(t, ck.ref, float64(ck.fast), ck.tol, "%s %s: fast", name, ck.what)
				require.InDelta(t, ck.ref, float64(ck.slow), ck.tol, "%s %s: portable", name, ck.what)
			}
			// The inputs are left as they were.
			require.True(t, math.IsNaN(float64(q[off+n])) && math.IsNaN(float64(w[off+n])), "%s: guards", name)
		}
	}
}

// TestKernelPanicsOnShortInput checks the documented panics.
func TestKernelPanicsOnShortInput(t *testing.T) {
	require.Panics(t, func() { L2(make([]float32, 3), make([]float32, 4), make([]byte, 4)) })
	require.Panics(t, func() { L2(make([]float32, 4), make([]float32, 3), make([]byte, 4)) })
	require.Panics(t, func() { L2Pair(make([]byte, 4), make([]byte, 3), make([]float32, 4)) })
	require.Panics(t, func() { L2Pair(make([]byte, 4), make([]byte, 4), make([]float32, 3)) })
	require.Panics(t, func() { L2F32(make([]float32, 4), make([]float32, 3)) })
	require.Panics(t, func() { Dot(make([]float32, 4), make([]float32, 3)) })
	require.NotPanics(t, func() { L2(nil, nil, nil) })
}

func BenchmarkL2(b *testing.B) {
	for _, n := range []int{512, 2048} {
		q := make([]float32, n)
		w := make([]float32, n)
		c := make([]byte, n)
		for i := range q {
			q[i], w[i], c[i] = float32(i%200), 0.01, byte(i)
		}
		b.Run(fmt.Sprintf("sq8/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				L2(q, w, c)
			}
		})
		b.Run(fmt.Sprintf("f32/%d", n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				L2F32(q, w)
			}
		})
	}
}
