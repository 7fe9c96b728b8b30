package sq8

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDotU8MatchesReference runs every DotU8 kernel this CPU has (portable, AVX2,
// AVX-512BW) against an int64 sum, for lengths 0..67 and a few long ones at unaligned starts,
// with non-zero guards after q and c (a kernel that reads past its end adds 32767·255), and
// with a prefetch of another buffer, of nothing, and of the code itself.
func TestDotU8MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{}
	for n := 0; n <= 67; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 95, 96, 127, 128, 129, 784, 1000, 2048, 4096)
	sets := dotU8Sets()
	t.Logf("kernel in use: %s; tested: %d sets", Kernel(), len(sets))
	for _, n := range lengths {
		lim := MaxQuery(n)
		for off := 0; off < 4; off++ {
			q := make([]int16, off+n+1)
			c := make([]byte, off+n+1)
			var ref int64
			for i := 0; i < n; i++ {
				q[off+i] = int16(rng.IntN(2*lim+1) - lim)
				c[off+i] = byte(rng.IntN(256))
				ref += int64(q[off+i]) * int64(c[off+i])
			}
			q[off+n], c[off+n] = 32767, 255
			qs, cs := q[off:off+n], c[off:off+n]
			other := make([]byte, 3000)
			for name, fn := range sets {
				for _, pf := range [][]byte{nil, other, cs} {
					require.Equal(t, ref, int64(fn(qs, cs, pf)), "%s n=%d off=%d len(pf)=%d", name, n, off, len(pf))
				}
			}
			require.Equal(t, ref, int64(DotU8(qs, cs, nil)), "DotU8 n=%d off=%d", n, off)
		}
	}
}

// TestDotU8OverflowBound checks the extreme sums MaxQuery allows, up to 4096 elements: every
// q[t] at ±MaxQuery(n) and every c[t] 255 stays exact in int32.
func TestDotU8OverflowBound(t *testing.T) {
	for _, n := range []int{1, 16, 31, 32, 512, 784, 2048, 4095, 4096} {
		lim := MaxQuery(n)
		require.LessOrEqual(t, int64(lim)*255*int64(n), int64(1<<31-1), "n=%d", n)
		for _, sign := range []int{1, -1} {
			q := make([]int16, n)
			c := make([]byte, n)
			for i := range q {
				q[i], c[i] = int16(sign*lim), 255
			}
			want := int64(sign*lim) * 255 * int64(n)
			for name, fn := range dotU8Sets() {
				require.Equal(t, want, int64(fn(q, c, nil)), "%s n=%d sign=%d", name, n, sign)
			}
		}
	}
	require.Equal(t, 32767, MaxQuery(0))
	require.Equal(t, 2056, MaxQuery(4096))
}

func TestDotU8PanicsOnShortQuery(t *testing.T) {
	require.Panics(t, func() { DotU8(make([]int16, 3), make([]byte, 4), nil) })
	require.NotPanics(t, func() { DotU8(nil, nil, nil) })
}

func BenchmarkDotU8(b *testing.B) {
	for _, n := range []int{784, 2048} {
		q := make([]int16, n)
		c := make([]byte, n)
		for i := range q {
			q[i], c[i] = int16(i%2000-1000), byte(i)
		}
		for name, fn := range dotU8Sets() {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					fn(q, c, nil)
				}
			})
		}
	}
}

// TestL2PairSets runs every L2Pair kernel this CPU has against a float64 sum, for lengths
// 0..67 and a few long ones at unaligned starts, with NaN weights and 255 codes after the end
// (a kernel that reads past its end returns NaN).
func TestL2PairSets(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int{}
	for n := 0; n <= 67; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 127, 128, 129, 784, 2048, 4096)
	nan := float32(math.NaN())
	for _, n := range lengths {
		for off := 0; off < 4; off++ {
			a := make([]byte, off+n+16)
			b := make([]byte, off+n+16)
			w := make([]float32, off+n+16)
			for i := range w {
				a[i], b[i], w[i] = 255, 0, nan
			}
			var ref float64
			for i := 0; i < n; i++ {
				j := off + i
				a[j], b[j] = byte(rng.IntN(256)), byte(rng.IntN(256))
				w[j] = float32(rng.Float64())
				d := float64(a[j]) - float64(b[j])
				ref += float64(w[j]) * d * d
			}
			for name, fn := range l2PairSets() {
				got := fn(a[off:off+n], b[off:off+n], w[off:off+n])
				require.False(t, math.IsNaN(float64(got)), "%s n=%d off=%d: read a guard", name, n, off)
				require.InDelta(t, ref, float64(got), 1e-5*ref+1e-30, "%s n=%d off=%d", name, n, off)
			}
		}
	}
}

func BenchmarkL2Pair(b *testing.B) {
	for _, n := range []int{784, 2048} {
		x := make([]byte, n)
		y := make([]byte, n)
		w := make([]float32, n)
		for i := range x {
			x[i], y[i], w[i] = byte(i), byte(3*i), 0.01
		}
		for name, fn := range l2PairSets() {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					fn(x, y, w)
				}
			})
		}
	}
}

// TestL2PairW16Sets runs every L2PairW16 kernel this CPU has against an int64 sum, for lengths
// 0..67 and a few long ones at unaligned starts, with random codes and weights and with the
// extreme case (differences of 255 at the largest weight MaxPairWeight allows), and with
// nonzero guards after the end (a kernel that reads past its end adds to the sum).
func TestL2PairW16Sets(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lengths := []int{}
	for n := 0; n <= 67; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 127, 128, 129, 784, 2048, 2064, 4096, 5000)
	for _, n := range lengths {
		for off := 0; off < 4; off++ {
			for _, extreme := range []bool{false, true} {
				a := make([]byte, off+n+40)
				b := make([]byte, off+n+40)
				w := make([]int16, off+n+40)
				for i := range w {
					a[i], b[i], w[i] = 255, 0, 128
				}
				wmax := MaxPairWeight(n)
				var ref int64
				for i := 0; i < n; i++ {
					j := off + i
					if extreme {
						a[j], b[j], w[j] = 255, 0, int16(wmax)
						if i%2 == 1 {
							a[j], b[j] = 0, 255
						}
					} else {
						a[j], b[j], w[j] = byte(rng.IntN(256)), byte(rng.IntN(256)), int16(rng.IntN(wmax+1))
					}
					d := int64(a[j]) - int64(b[j])
					ref += int64(w[j]) * d * d
				}
				for name, fn := range l2PairW16Sets() {
					got := fn(a[off:off+n], b[off:off+n], w[off:off+n])
					require.Equal(t, ref, got, "%s n=%d off=%d extreme=%v", name, n, off, extreme)
				}
				require.Equal(t, ref, L2PairW16(a[off:off+n], b[off:off+n], w[off:off+n]))
			}
		}
	}
	require.Panics(t, func() { L2PairW16(make([]byte, 4), make([]byte, 3), make([]int16, 4)) })
	require.Equal(t, 128, MaxPairWeight(2048))
	require.Equal(t, 128, MaxPairWeight(2064))
	require.Equal(t, 64, MaxPairWeight(4096))
}

func BenchmarkL2PairW16(b *testing.B) {
	for _, n := range []int{784, 2048} {
		x := make([]byte, n)
		y := make([]byte, n)
		w := make([]int16, n)
		for i := range x {
			x[i], y[i], w[i] = byte(i), byte(3*i), int16(i%128)
		}
		for name, fn := range l2PairW16Sets() {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					fn(x, y, w)
				}
			})
		}
	}
}
