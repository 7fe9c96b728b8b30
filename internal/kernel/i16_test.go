package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exactDot is the int64 reference Σ x[t]*q[t].
func exactDot(x, q []int16) float64 {
	var s int64
	for t := range x {
		s += int64(x[t]) * int64(q[t])
	}
	return float64(s)
}

// TestDotI16MatchesExact runs every int16 kernel set this CPU has (the log says which), in
// chunks of 2048 and of 32 and 64 elements, against the exact integer sums: every length that
// is a multiple of 32 up to 160 and 4096, every edge of the 3x3 and 4x6 tiles, codes at the
// extremes (every product 2047², which would overflow any int32 lane summing more than 512),
// rows and queries that start 1 or 7 codes (2 or 14 codes for queries) past an aligned address
// with strides that are no multiple of 32 codes, and guard values around the output.
func TestDotI16MatchesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fill := map[string]func(int) int16{
		"random": func(int) int16 { return int16(rng.IntN(2*I16Max+1) - I16Max) },
		"max":    func(int) int16 { return I16Max },
		"min":    func(int) int16 { return -I16Max },
		"alt":    func(t int) int16 { return int16((t%2)*2-1) * I16Max },
	}
	sets := availableI16()
	sets = append(sets, i16Set{"dispatched " + I16Name, DotI16Tile, normMax, quant})
	for _, set := range sets {
		t.Logf("int16 kernel set %s", set.name)
	}
	const guard = -12345.0
	for _, set := range sets {
		for _, chunk := range []int{2048, 32, 64} {
			for _, n := range []int{0, 32, 64, 96, 160, 2048, 4096} {
				for _, sh := range tileShapes {
					for fname, f := range fill {
						for _, off := range []int{0, 1, 7} {
							if (n > 160 || chunk != 2048) && sh.nr*sh.nq > 30 {
								continue
							}
							if off > 0 && (n > 160 || chunk != 2048 || fname != "random") {
								continue
							}
							name := fmt.Sprintf("%s/chunk=%d/n=%d/%dx%d/%s/off=%d", set.name, chunk, n, sh.nr, sh.nq, fname, off)
							xs, qs, os := n+32+off, n+64+2*off, sh.nr+1
							x := make([]int16, sh.nr*xs+off)[off:] // rows and queries off codes past alignment
							q := make([]int16, sh.nq*qs+2*off)[2*off:]
							for i := range x {
								x[i] = f(i)
							}
							for i := range q {
								q[i] = f(i + 1)
							}
							if fname == "min" {
								for i := range q {
									q[i] = I16Max
								}
							}
							out := make([]float64, sh.nq*os+1)
							for i := range out {
								out[i] = guard
							}
							old := i16Chunk
							i16Chunk = chunk
							next := make([]float32, 100*n+3) // prefetched, never read
							set.dot(x, sh.nr, xs, q, sh.nq, qs, n, out, os, next)
							i16Chunk = old
							for j := 0; j < sh.nq; j++ {
								for i := 0; i < os; i++ {
									got := out[j*os+i]
									if i >= sh.nr {
										require.Equal(t, guard, got, "%s: out[%d] written", name, j*os+i)
										continue
									}
									want := exactDot(x[i*xs:i*xs+n], q[j*qs:j*qs+n])
									require.Equal(t, want, got, "%s: pair (%d, %d)", name, i, j)
								}
							}
							require.Equal(t, guard, out[len(out)-1], name)
						}
					}
				}
			}
		}
	}
}

// TestQuantizeI16 checks QuantizeI16's codes on every kernel set against the rounding it
// promises, and its bound |x[t]*inv - code| <= rho, on random, constant, tiny, huge,
// subnormal and zero vectors of lengths around the kernels' steps.
func TestQuantizeI16(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	gens := map[string]func(int) float32{
		"normal":    func(int) float32 { return float32(rng.NormFloat64()) },
		"constant":  func(int) float32 { return 3 },
		"negative":  func(int) float32 { return -7.5 },
		"huge":      func(int) float32 { return float32(rng.NormFloat64() * 1e37) },
		"tiny":      func(int) float32 { return float32(rng.NormFloat64() * 1e-35) },
		"subnormal": func(int) float32 { return float32(rng.NormFloat64() * 1e-42) },
		"zero":      func(int) float32 { return 0 },
		"mixed":     func(t int) float32 { return float32(math.Pow(10, float64(t%40-20))) },
		"ties":      func(t int) float32 { return float32(t%9) - 4 },
	}
	for _, set := range availableI16() {
		oldNorm, oldQuant := normMax, quant
		normMax, quant = set.normMax, set.quant
		for gname, g := range gens {
			for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 32, 33, 40, 48, 56, 63, 100, 2048, 2049} {
				name := fmt.Sprintf("%s/%s/n=%d", set.name, gname, n)
				x := make([]float32, n)
				for i := range x {
					x[i] = g(i)
				}
				wantMax, _ := normMaxGo(x)
				gotMax, _ := set.normMax(x)
				require.Equal(t, wantMax, gotMax, "%s: largest magnitude", name)
				codes := make([]int16, n+1)
				codes[n] = 77
				inv, rho, l1, sq := QuantizeI16(x, codes)
				want, mag := dot64(x, x)
				m := float64(DotRoundings(n))
				if mag < math.MaxFloat32/2 {
					require.InDelta(t, want, float64(sq), m*0x1p-24/(1-m*0x1p-24)*mag+m*0x1p-149, "%s: squared norm (underflow: at most 2⁻¹⁴⁹ per rounding)", name)
				} else if want > 2*math.MaxFloat32 {
					require.True(t, math.IsInf(float64(sq), 1), "%s: squared norm %g", name, sq)
				}
				require.Equal(t, int16(77), codes[n], name)
				sum := 0
				for i, v := range x {
					c := codes[i]
					require.LessOrEqual(t, int(abs16(c)), I16Max, name)
					sum += int(abs16(c))
					r := float64(v)*float64(inv) - float64(c)
					assert.LessOrEqual(t, math.Abs(r), rho, "%s: element %d", name, i)
					if rho == i16Rho {
						want := int16(math.RoundToEven(float64(float32(v * inv))))
						require.Equal(t, want, c, "%s: element %d", name, i)
					}
				}
				require.Equal(t, sum, l1, name)
			}
		}
		normMax, quant = oldNorm, oldQuant
	}
}
