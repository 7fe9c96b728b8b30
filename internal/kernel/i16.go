package kernel

import (
	"fmt"
	"math"
)

// Int16 codes for SearchBatch's first pass.
//
// QuantizeI16 turns a float32 vector x into codes X[t] = round(x[t]*inv) in [-I16Max, I16Max]
// with one scale inv per vector, such that x[t] = (X[t] + r[t])/inv with |r[t]| <= rho (the
// real numbers, inv taken as exact). DotI16Tile computes the dot products Σ X[t]*Q[t] of such
// codes exactly (as integers, returned in float64). For two vectors x, q of length n:
//
//	x·q = (ΣXQ + Σ r·Q + Σ X·s + Σ r·s) / (inv_x·inv_q),
//
// so |x·q - ΣXQ/(inv_x·inv_q)| <= (rho_x·L1(Q) + rho_q·L1(X) + n·rho_x·rho_q)/(inv_x·inv_q),
// where L1 is the sum of the codes' magnitudes, which QuantizeI16 returns.

// I16Max is the largest magnitude of a code: 2047, so that no int32 lane of a kernel
// overflows (see DotI16Tile).
const I16Max = 2047

// I16Align is the multiple of which DotI16Tile's length n must be: codes are padded with
// zeros to it.
const I16Align = 32

// i16Rho bounds |x[t]*inv - X[t]| for a vector with a normal scale: 1/2 for the rounding to an
// integer, plus the float32 rounding of x[t]*inv (at most 2⁻²⁴·2048 = 2⁻¹³ when the product
// is normal, 2⁻¹⁵⁰ when it is not), with a margin.
const i16Rho = 0.5 + 1.0/4096

// minI16Max is the smallest largest magnitude that gets a scale: below it I16Max/max could
// overflow float32, so the codes are zero and rho is the largest magnitude itself.
const minI16Max = 0x1p-100

// i16Chunk is how many elements of each row and query the tiles take per pass (at most 2048,
// a multiple of I16Align): six queries' chunks (24 KiB) stay in L1 while the rows' chunks go
// by. A variable so that tests can make the chunks short.
var i16Chunk = 2048

// QuantizeI16 writes the codes of x to codes[:len(x)] and returns the scale inv, the bound rho
// on |x[t]*inv - codes[t]|, Σ|codes[t]|, and sq = Σ x[t]² in float32, each term through at
// most DotRoundings(len(x)) roundings (the same pass over x finds its largest magnitude).
// x must be finite and at most 1<<20 long.
func QuantizeI16(x []float32, codes []int16) (inv float32, rho float64, l1 int, sq float32) {
	codes = codes[:len(x)]
	m, sq := normMax(x)
	if !(m >= minI16Max) {
		clear(codes)
		return 1, float64(m), 0, sq
	}
	inv = I16Max / m
	// |x[t]*inv| <= m·(I16Max/m)(1+2⁻²⁴)² < I16Max + 1/2: every code is within ±I16Max.
	return inv, i16Rho, quant(x, inv, codes), sq
}

// DotI16Tile computes out[j*os+i] = Σ_{t<n} x[i*xs+t] * q[j*qs+t] for i < nr, j < nq over
// int16 codes in [-I16Max, I16Max], exactly: every kernel sums int32 lanes of at most 512
// products (512·2047² < 2³¹), then in float64, where integers below 2⁵³ are exact. n must be
// a multiple of I16Align. It panics if a slice is too short. The fast kernels also ask, spread
// over their work, for next (the rows the caller will quantise next; nil for none) to be
// brought into cache.
var DotI16Tile = dotI16TileGo

// I16Fast reports whether DotI16Tile and QuantizeI16 run assembly (SearchBatch uses the
// codes only then: the portable code is slower than float32 dot products).
var I16Fast = false

// I16Name names the kernels DotI16Tile runs: "go", "avx2", "avxvnni", "avx512bw" or
// "avx512vnni".
var I16Name = "go"

// normMax and quant are QuantizeI16's steps, chosen with the kernels.
var (
	normMax = normMaxGo
	quant   = quantGo
)

// normMaxGo is the portable normMax: the largest |x[t]|, and Σ x[t]² as dotGo sums it.
func normMaxGo(x []float32) (m, sq float32) {
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m, dotGo(x, x)
}

// quantGo is the portable quant: round to nearest, ties to even, as VCVTPS2DQ.
func quantGo(x []float32, inv float32, codes []int16) int {
	codes = codes[:len(x)]
	l1 := 0
	for t, v := range x {
		c := int16(math.RoundToEven(float64(float32(v * inv))))
		codes[t] = c
		l1 += int(abs16(c))
	}
	return l1
}

func abs16(c int16) int16 {
	if c < 0 {
		return -c
	}
	return c
}

// checkI16Tile panics unless the slices cover every element DotI16Tile touches.
func checkI16Tile(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int) {
	if nr <= 0 || nq <= 0 {
		return
	}
	if n < 0 || n%I16Align != 0 || xs < n || qs < n || os < nr ||
		len(x) < (nr-1)*xs+n || len(q) < (nq-1)*qs+n || len(out) < (nq-1)*os+nr {
		panic(fmt.Sprintf("kernel: int16 tile out of bounds: len(x)=%d nr=%d xs=%d len(q)=%d nq=%d qs=%d n=%d len(out)=%d os=%d",
			len(x), nr, xs, len(q), nq, qs, n, len(out), os))
	}
}

// dotI16TileGo is the portable DotI16Tile (without prefetching).
func dotI16TileGo(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32) {
	checkI16Tile(x, nr, xs, q, nq, qs, n, out, os)
	for j := 0; j < nq; j++ {
		qj := q[j*qs : j*qs+n]
		for i := 0; i < nr; i++ {
			xi := x[i*xs : i*xs+n]
			var s int64
			for t, v := range xi {
				s += int64(v) * int64(qj[t])
			}
			out[j*os+i] = float64(s)
		}
	}
}
