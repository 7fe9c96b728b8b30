package pinrec

import (
	"context"
	"math"
	"slices"

	"pinrec/internal/kernel"
)

// The bounded path of SearchBatch.
//
// A distance costs a subtraction and a multiply-add per element; a dot product only the
// multiply-add. For batches, scanBounded computes dot products x·q with the blocked dotTile
// kernel and from them, in float64, a = |x|²+|q|²-2x·q and an error bound
// e = boundedErrFactor(dim)*(|x|²+|q|²) such that the distance l2sqTile computes lies in
// [a-e, a+e]. (Each term of a kernel's sum goes through at most m = kernel.DotRoundings(dim)
// float32 roundings, whichever kernels run, so each of x·q, |x|² (computed as the distance to
// the origin), |q|² and the distance is within γ(m) = m·u/(1-m·u), u = 2^-24, of the exact
// value, relative to the sum of its terms' magnitudes, which |x|²+|q|² bounds, twice over for
// the distance; the bound adds these errors, 4γ(m)(|x|²+|q|²) in all, with a margin.)
//
// With the k smallest upper bounds a+e seen so far, of which the largest is T, any row whose
// lower bound a-e exceeds T is farther than k rows and cannot be a result. The rows that pass
// (a handful per query beyond k) are kept as candidates; after the scan, their distances are
// computed by l2sqTile exactly as Search computes them and ranked the same way, so SearchBatch
// returns exactly what Search would, at about half the arithmetic.
//
// Where kernel.I16Fast (see useI16), the dot products come instead from 16-bit integer codes of
// the rows (quantised per block, in cache) and queries: kernel.DotI16Tile computes ΣXQ exactly,
// twice the multiply-adds per instruction of float32, and i16Interval bounds the distance from
// it, adding the codes' rounding error to the float32 errors above.
var boundedMinQueries = 4 // a variable so that tests can take either path

// i16Path chooses the first pass of the bounded path: 0 takes int16 codes where
// kernel.I16Fast (assembly), 1 always (tests of the portable kernels), -1 never (float32 dot
// products). A variable only for tests.
var i16Path = 0

// i16LongBlockQueries is the batch size from which the int16 pass takes blocks of rows twice
// as long (128 rows at d=2048). Every block's rows meet every query's codes; with hundreds of
// queries those codes (4 KiB each at d=2048) no longer stay in L2 from one block to the next,
// so each block costs a pass over all of them from L3 or memory, and longer blocks halve that
// traffic. On a Zen 5 core (1 MiB of L2), 6,000 queries over 30,000 x 2048 rows took 10-12%
// less CPU time, 1,000 queries 5% less, and 100 queries the same.
const i16LongBlockQueries = 512

// maxI16Dim is the largest dimension whose codes' magnitude sums fit the kernels' int32 sums.
const maxI16Dim = 1 << 20

// useI16 reports whether the bounded path of an index of dimension dim takes int16 codes.
func useI16(dim int) bool {
	return dim <= maxI16Dim && (i16Path > 0 || i16Path == 0 && kernel.I16Fast)
}

// i16Codes are the int16 codes of some vectors (see kernel.QuantizeI16): vector i at
// codes[i*stride:], zero-padded to a multiple of kernel.I16Align. For its scale inv, its
// rounding bound rho and the sum l1 of its codes' magnitudes, with scale = 1/inv, it keeps the
// terms i16Interval takes: scale2[i] = 2·scale, rs[i] = rho·scale, ls[i] = l1·scale.
type i16Codes struct {
	codes  []int16
	stride int
	scale2 []float64 // 2·scale
	rs     []float64 // rho·scale
	ls     []float64 // l1·scale
}

// i16Len is the length of a vector's codes: dim rounded up to kernel.I16Align.
func i16Len(dim int) int {
	return (dim + kernel.I16Align - 1) / kernel.I16Align * kernel.I16Align
}

// newI16Codes returns room for the codes of n vectors of dimension dim. The stride is a cache
// line longer than the codes, so that rows 4 KiB long do not all map to the same L1 sets.
func newI16Codes(n, dim int) *i16Codes {
	stride := i16Len(dim) + 32
	return &i16Codes{
		codes:  make([]int16, n*stride),
		stride: stride,
		scale2: make([]float64, n),
		rs:     make([]float64, n),
		ls:     make([]float64, n),
	}
}

// set quantizes v as vector i and returns its squared norm (in float32, within γ(m) of the
// exact value as a kernel's, kernel.QuantizeI16). The padding past len(v) stays zero: set
// never writes it.
func (c *i16Codes) set(i int, v []float32) float32 {
	inv, rho, l1, sq := kernel.QuantizeI16(v, c.codes[i*c.stride:i*c.stride+len(v)])
	scale := 1 / float64(inv)
	c.scale2[i], c.rs[i], c.ls[i] = 2*scale, rho*scale, float64(l1)*scale
	return sq
}

// maxBoundedNorm keeps every dot product and lane sum of the bounded path finite in float32.
const maxBoundedNorm = 1e30

// boundedErrFactor returns the relative error factor of the bounded path for dimension dim.
func boundedErrFactor(dim int) float64 {
	const u = 1.0 / (1 << 24)
	m := float64(kernel.DotRoundings(dim))
	g := m * u / (1 - m*u)
	return 5 * g // 4 errors of at most g each, plus a margin
}

// boundedI16ErrFactor returns the factor of |x|²+|q|² in the bound of the int16 first pass:
// the float32 roundings of |x|², |q|² and the distance (γ(m) each, twice over for the
// distance), 4γ(m) in all, which also covers the float64 roundings of the bound's arithmetic.
func boundedI16ErrFactor(dim int) float64 {
	const u = 1.0 / (1 << 24)
	m := float64(kernel.DotRoundings(dim))
	g := m * u / (1 - m*u)
	return 4 * g
}

// i16Interval returns the interval [a-e, a+e] in which L2sqTile's distance between x and q
// lies, from sum = |x|²+|q|² (float32 kernel values), the exact code dot product dot = ΣXQ,
// x's terms 2·sx, rx·sx and L1(X)·sx (i16Codes: sx = 1/inv_x, rx its rounding bound, L1(X)
// the sum of its codes' magnitudes), q's scale sq and term rq·sq, cq = L1(Q)·sq + dim·rq·sq,
// and c16 = boundedI16ErrFactor(dim). With x[t] = (X[t]+r[t])·sx and q[t] = (Q[t]+s[t])·sq
// (|r[t]| <= rx, |s[t]| <= rq, kernel.QuantizeI16),
//
//	x·q = (ΣXQ + Σr·Q + ΣX·s + Σr·s)·sx·sq, so
//	|x·q - ΣXQ·sx·sq| <= (rx·L1(Q) + rq·L1(X) + dim·rx·rq)·sx·sq = (rx·sx)·cq + (L1(X)·sx)·(rq·sq) = E,
//
// and a = sum - 2·ΣXQ·sx·sq is within 2E + 4γ(m)·sum of the distance (see
// boundedI16ErrFactor). E gets a relative margin of 2⁻²⁰ for its own float64 roundings.
func i16Interval(sum, dot, x2, xr, xl, sq, qr, cq, c16 float64) (lower, upper float64) {
	a := sum - dot*x2*sq
	e := c16*sum + 2*(1+0x1p-20)*(xr*cq+xl*qr) + 1e-30
	return a - e, a + e
}

// i16QueryTerms returns the terms of query j that i16Interval takes: its scale sq, rq·sq, and
// cq = L1(Q)·sq + dim·rq·sq.
func (c *i16Codes) i16QueryTerms(j, dim int) (sq, qr, cq float64) {
	return c.scale2[j] / 2, c.rs[j], c.ls[j] + float64(dim)*c.rs[j]
}

// boundedCand is a candidate row of the bounded path and the lower bound of its distance.
type boundedCand struct {
	lower float64
	row   int
}

// bounded is one worker's state for one query on the bounded path.
type bounded struct {
	upper topK[upperBound] // the k smallest upper bounds
	cands []boundedCand
}

// threshold returns the largest of the k smallest upper bounds, or +Inf before k rows.
func (b *bounded) threshold() float64 {
	if !b.upper.full() {
		return math.Inf(1)
	}
	return float64(b.upper.h[0])
}

// pushUpper records an upper bound.
func (b *bounded) pushUpper(u float64) {
	if b.upper.admits(upperBound(u)) {
		b.upper.push(upperBound(u))
	}
}

// excluded reports whether a row with lower bound lower is farther than the k rows whose
// upper bounds are at most t, by a margin that keeps their square roots apart too (so that no
// tie in the reported distance can bring back an excluded row): lower > cutoff(t).
func excluded(lower, t float64) bool {
	return lower > cutoff(t)
}

// cutoff is the value above which excluded(lower, t) holds, for loops that test many rows
// against one t.
func cutoff(t float64) float64 {
	return t + math.Abs(t)*(1.0/(1<<20))
}

// prune drops the candidates that the current threshold excludes.
func (b *bounded) prune() {
	t := b.threshold()
	b.cands = slices.DeleteFunc(b.cands, func(c boundedCand) bool { return excluded(c.lower, t) })
}

// scanBounded is the bounded-path scan of rows [lo, hi) for the packed queries (stride qs),
// whose squared norms are qnorms. See the comment above boundedMinQueries.
func (ix *Index) scanBounded(ctx context.Context, packed []float32, qs int, qnorms []float32, qc *i16Codes, k, lo, hi, skip int,
	filter func(string, map[string]string) bool) ([]bounded, error) {
	dim, nq := ix.dim, len(qnorms)
	st := make([]bounded, nq)
	for j := range st {
		st[j] = bounded{upper: topK[upperBound]{k: k, h: make([]upperBound, 0, k)}}
	}
	c := boundedErrFactor(dim)
	c16 := boundedI16ErrFactor(dim)
	bs := min(maxBlockRows, max(4, blockBytes/(4*dim))&^3, hi-lo)
	if qc != nil && nq >= i16LongBlockQueries {
		bs = min(maxBlockRows, 2*bs, hi-lo)
	}
	var dots []float32
	var dots64 []float64
	var xc *i16Codes
	if qc != nil {
		dots64 = make([]float64, nq*bs)
		xc = newI16Codes(bs, dim)
	} else {
		dots = make([]float32, nq*bs)
	}
	n16 := i16Len(dim)
	xnorms := make([]float32, bs)
	zero := make([]float32, dim)
	var verdict []uint8
	if filter != nil {
		verdict = make([]uint8, bs)
	}
	done := ctx.Done()
	for b := lo; b < hi; b += bs {
		if done != nil {
			select {
			case <-done:
				return nil, ctx.Err()
			default:
			}
		}
		nb := min(bs, hi-b)
		block := ix.vectors[b*dim : hi*dim]
		if xc != nil {
			// Codes and squared norms in one pass over each row, which then stays in cache.
			for i := range nb {
				xnorms[i] = xc.set(i, block[i*dim:(i+1)*dim])
			}
		} else {
			// Squared norms as distances to the origin: four rows per kernel call.
			l2sqTile(block, nb, dim, zero, 1, dim, dim, xnorms, bs)
		}
		exact := false // a norm too large: exact distances for this block
		for _, xn := range xnorms[:nb] {
			if !(xn <= maxBoundedNorm) {
				exact = true
			}
		}
		switch {
		case exact:
			if dots == nil {
				dots = make([]float32, nq*bs)
			}
			l2sqTile(block, nb, dim, packed, nq, qs, dim, dots, bs)
		case xc != nil:
			// The next block's rows stream into cache while the tiles work on these.
			next := ix.vectors[min(b+bs, hi)*dim : min(b+2*bs, hi)*dim]
			kernel.DotI16Tile(xc.codes, nb, xc.stride, qc.codes, nq, qc.stride, n16, dots64, bs, next)
		default:
			dotTile(block, nb, dim, packed, nq, qs, dim, dots, bs)
		}
		if verdict != nil {
			clear(verdict)
		}
		for j := range st {
			s := &st[j]
			cut := cutoff(s.threshold())
			qn := float64(qnorms[j])
			var dj []float32
			var dj64 []float64
			var sq, qr, cq float64
			if exact || xc == nil {
				dj = dots[j*bs : j*bs+nb]
			} else {
				dj64 = dots64[j*bs : j*bs+nb]
				sq, qr, cq = qc.i16QueryTerms(j, dim)
			}
			for i := range nb {
				var lower, upper float64
				switch {
				case exact:
					lower, upper = float64(dj[i]), float64(dj[i])
				case dj64 != nil:
					lower, upper = i16Interval(float64(xnorms[i])+qn, dj64[i], xc.scale2[i], xc.rs[i], xc.ls[i],
						sq, qr, cq, c16)
				default:
					p := dj[i]
					sum := float64(xnorms[i]) + qn
					a := sum - 2*float64(p)
					e := c*sum + 1e-30
					lower, upper = a-e, a+e
				}
				if lower > cut { // excluded(lower, s.threshold())
					continue
				}
				row := b + i
				if row == skip {
					continue
				}
				if verdict != nil {
					if verdict[i] == filterUnknown {
						verdict[i] = filterDrop
						if filter(ix.ids[row], ix.meta[row]) {
							verdict[i] = filterKeep
						}
					}
					if verdict[i] == filterDrop {
						continue
					}
				}
				s.pushUpper(upper)
				cut = cutoff(s.threshold())
				s.cands = append(s.cands, boundedCand{lower: lower, row: row})
				if len(s.cands) >= 2*k+64 {
					s.prune()
				}
			}
		}
	}
	for j := range st {
		st[j].prune()
	}
	return st, nil
}

// rerank merges the workers' bounded-path states for query j: it finds the threshold over all
// of them, computes the exact distances of the candidates it does not exclude, and appends
// them to all.
func (ix *Index) rerank(all []cand, states [][]bounded, j int, q []float32, k int) []cand {
	var uppers []float64
	for w := range states {
		for _, u := range states[w][j].upper.h {
			uppers = append(uppers, float64(u))
		}
	}
	t := math.Inf(1)
	if len(uppers) >= k {
		slices.Sort(uppers)
		t = uppers[k-1]
	}
	dim := ix.dim
	var sq [1]float32
	for w := range states {
		for _, c := range states[w][j].cands {
			if excluded(c.lower, t) {
				continue
			}
			l2sqTile(ix.vectors[c.row*dim:(c.row+1)*dim], 1, dim, q, 1, dim, dim, sq[:], 1)
			all = append(all, cand{d: float32(math.Sqrt(float64(sq[0]))), sq: sq[0], row: c.row})
		}
	}
	return all
}
