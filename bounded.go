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
var boundedMinQueries = 4 // a variable so that tests can take either path

// maxBoundedNorm keeps every dot product and lane sum of the bounded path finite in float32.
const maxBoundedNorm = 1e30

// boundedErrFactor returns the relative error factor of the bounded path for dimension dim.
func boundedErrFactor(dim int) float64 {
	const u = 1.0 / (1 << 24)
	m := float64(kernel.DotRoundings(dim))
	g := m * u / (1 - m*u)
	return 5 * g // 4 errors of at most g each, plus a margin
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
// tie in the reported distance can bring back an excluded row).
func excluded(lower, t float64) bool {
	return lower > t+math.Abs(t)*(1.0/(1<<20))
}

// prune drops the candidates that the current threshold excludes.
func (b *bounded) prune() {
	t := b.threshold()
	b.cands = slices.DeleteFunc(b.cands, func(c boundedCand) bool { return excluded(c.lower, t) })
}

// scanBounded is the bounded-path scan of rows [lo, hi) for the packed queries (stride qs),
// whose squared norms are qnorms. See the comment above boundedMinQueries.
func (ix *Index) scanBounded(ctx context.Context, packed []float32, qs int, qnorms []float32, k, lo, hi, skip int,
	filter func(string, map[string]string) bool) ([]bounded, error) {
	dim, nq := ix.dim, len(qnorms)
	st := make([]bounded, nq)
	for j := range st {
		st[j] = bounded{upper: topK[upperBound]{k: k, h: make([]upperBound, 0, k)}}
	}
	c := boundedErrFactor(dim)
	bs := min(maxBlockRows, max(4, blockBytes/(4*dim))&^3, hi-lo)
	dots := make([]float32, nq*bs)
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
		// Squared norms as distances to the origin: four rows per kernel call.
		l2sqTile(block, nb, dim, zero, 1, dim, dim, xnorms, bs)
		exact := false // a norm too large: exact distances for this block
		for _, xn := range xnorms[:nb] {
			if !(xn <= maxBoundedNorm) {
				exact = true
			}
		}
		if exact {
			l2sqTile(block, nb, dim, packed, nq, qs, dim, dots, bs)
		} else {
			dotTile(block, nb, dim, packed, nq, qs, dim, dots, bs)
		}
		if verdict != nil {
			clear(verdict)
		}
		for j := range st {
			s := &st[j]
			t := s.threshold()
			qn := float64(qnorms[j])
			dj := dots[j*bs : j*bs+nb]
			for i, p := range dj {
				var lower, upper float64
				if exact {
					lower, upper = float64(p), float64(p)
				} else {
					sum := float64(xnorms[i]) + qn
					a := sum - 2*float64(p)
					e := c*sum + 1e-30
					lower, upper = a-e, a+e
				}
				if excluded(lower, t) {
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
				t = s.threshold()
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
