package pinrec

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Search returns the k items nearest to query by Euclidean distance, nearest first; items at
// the same distance come in insertion order. If the index holds fewer than k items (that pass
// the filter), it returns them all.
//
// The error wraps [ErrBadK] if k < 1, [ErrDimMismatch] or [ErrNonFinite] for a bad query,
// [ErrEmptyIndex] if the index holds no items, or the context's error if ctx ends first.
func (ix *Index) Search(ctx context.Context, query []float32, k int, opts ...SearchOption) ([]Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k=%d: %w", k, ErrBadK)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("search"); err != nil {
		return nil, err
	}
	if err := checkVector(query, ix.dim); err != nil {
		return nil, fmt.Errorf("search: query: %w", err)
	}
	res, err := ix.search(ctx, [][]float32{query}, k, -1, opts)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return res[0], nil
}

// SearchBatch runs [Index.Search] for each query, sharing one pass over the index between
// them, which makes it much faster than separate searches: a register-blocked kernel computes
// dot products for several rows and queries per load, from which guaranteed bounds on the
// distances leave a few candidates per query, whose exact distances decide. The results are
// exactly those of Search. Result i answers queries[i]. No queries give no results.
//
// The error wraps [ErrBadK], [ErrEmptyIndex], the context's error, or [ErrDimMismatch] or
// [ErrNonFinite] naming the first bad query.
func (ix *Index) SearchBatch(ctx context.Context, queries [][]float32, k int, opts ...SearchOption) ([][]Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("search batch: k=%d: %w", k, ErrBadK)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("search batch"); err != nil {
		return nil, err
	}
	for i, q := range queries {
		if err := checkVector(q, ix.dim); err != nil {
			return nil, fmt.Errorf("search batch: query %d: %w", i, err)
		}
	}
	res, err := ix.search(ctx, queries, k, -1, opts)
	if err != nil {
		return nil, fmt.Errorf("search batch: %w", err)
	}
	return res, nil
}

// Similar returns the k items nearest to the item with the given ID ("more like this"),
// leaving that item out. It returns fewer than k results when fewer other items exist (none
// for an index of one item).
//
// The error wraps [ErrBadK], [ErrNotFound] for an unknown ID, or the context's error.
func (ix *Index) Similar(ctx context.Context, id string, k int, opts ...SearchOption) ([]Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("similar %q: k=%d: %w", id, k, ErrBadK)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("similar"); err != nil {
		return nil, err
	}
	r, ok := ix.pos[id]
	if !ok {
		return nil, fmt.Errorf("similar %q: %w", id, ErrNotFound)
	}
	if len(ix.ids) == 1 {
		return []Result{}, nil
	}
	q := ix.vectors[r*ix.dim : (r+1)*ix.dim]
	res, err := ix.search(ctx, [][]float32{q}, k, r, opts)
	if err != nil {
		return nil, fmt.Errorf("similar %q: %w", id, err)
	}
	return res[0], nil
}

// cand is a row and its distance to a query: d is the Euclidean distance, correctly rounded
// from the squared distance sq. Rows rank by d, then by row: the order users see.
type cand struct {
	d, sq float32
	row   int
}

// after reports whether a ranks after b: farther, or as far and inserted later.
func after(a, b cand) bool {
	return a.d > b.d || (a.d == b.d && a.row > b.row)
}

func compareCand(a, b cand) int {
	if c := cmp.Compare(a.d, b.d); c != 0 {
		return c
	}
	return cmp.Compare(a.row, b.row)
}

// topK keeps the k best candidates seen so far in a max-heap: h[0] ranks last.
type topK struct {
	k int
	h []cand
}

// admits reports whether c would enter the heap.
func (t *topK) admits(c cand) bool {
	return len(t.h) < t.k || after(t.h[0], c)
}

// rejects reports, without a square root, whether a row with squared distance sq, scanned
// after every row in the heap, cannot enter it: sqrt is monotonic, and at an equal distance
// the earlier row wins.
func (t *topK) rejects(sq float32) bool {
	return len(t.h) == t.k && sq > t.h[0].sq
}

// push adds c, which admits accepted, dropping the last candidate if the heap is full.
func (t *topK) push(c cand) {
	h := t.h
	if len(h) < t.k {
		h = append(h, c)
		for i := len(h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !after(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		t.h = h
		return
	}
	h[0] = c
	for i := 0; ; { // sift down
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && after(h[r], h[l]) {
			m = r
		}
		if !after(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Scan tuning. A block of rows is scanned against every query before the next block, so it
// should stay in L2 while the queries go by; workers get at least minWorkFloats of work.
const (
	blockBytes   = 512 << 10
	maxBlockRows = 1024
)

var minWorkFloats = 1 << 18 // a variable so that tests can split small indexes

// search scans the whole index for each query and returns the k nearest rows, leaving out
// row skip (-1 for none). The caller holds mu for reading and has validated the queries.
func (ix *Index) search(ctx context.Context, queries [][]float32, k int, skip int, opts []SearchOption) ([][]Result, error) {
	params := NewSearchParams(opts...)
	keep := params.keeper()
	n, dim, nq := len(ix.ids), ix.dim, len(queries)
	if n == 0 {
		return nil, ErrEmptyIndex
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if nq == 0 {
		return [][]Result{}, nil
	}
	k = min(k, n)

	// The queries, packed: row j at packed[j*dim:(j+1)*dim].
	var packed []float32
	if nq == 1 {
		packed = queries[0]
	} else {
		packed = make([]float32, nq*dim)
		for j, q := range queries {
			copy(packed[j*dim:], q)
		}
	}

	workers := params.Workers
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	work := n * dim * nq
	if work/minWorkFloats < workers {
		workers = max(1, work/minWorkFloats)
	}
	// Contiguous ranges of whole groups of four rows.
	per := (n + workers - 1) / workers
	per = (per + 3) &^ 3
	workers = (n + per - 1) / per

	// Batches take the bounded path (see scanBounded) unless a norm is too large for it.
	var qnorms []float32
	if nq >= boundedMinQueries {
		qnorms = make([]float32, nq)
		for j := range qnorms {
			qj := packed[j*dim : (j+1)*dim]
			dotTile(qj, 1, dim, qj, 1, dim, dim, qnorms[j:], 1)
			if !(qnorms[j] <= maxBoundedNorm) {
				qnorms = nil
				break
			}
		}
	}

	heaps := make([][]topK, workers)
	bounds := make([][]bounded, workers)
	errs := make([]error, workers)
	panics := make([]any, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		run := func() {
			defer func() {
				if p := recover(); p != nil {
					panics[w] = p
				}
			}()
			if qnorms != nil {
				bounds[w], errs[w] = ix.scanBounded(ctx, packed, qnorms, k, lo, hi, skip, keep)
			} else {
				heaps[w], errs[w] = ix.scan(ctx, packed, nq, k, lo, hi, skip, keep)
			}
		}
		if w == workers-1 {
			run()
			continue
		}
		wg.Go(run)
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p) // from the caller's filter: re-raised on the caller's goroutine
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	// Merge the workers' findings once per query.
	out := make([][]Result, nq)
	all := make([]cand, 0, workers*k)
	for j := range out {
		all = all[:0]
		if qnorms != nil {
			all = ix.rerank(all, bounds, j, packed[j*dim:(j+1)*dim], k)
		} else {
			for w := range heaps {
				all = append(all, heaps[w][j].h...)
			}
		}
		slices.SortFunc(all, compareCand)
		all = all[:min(k, len(all))]
		res := make([]Result, len(all))
		for i, c := range all {
			res[i] = Result{
				ID:       ix.ids[c.row],
				Distance: c.d,
				Meta:     maps.Clone(ix.meta[c.row]),
			}
		}
		out[j] = res
	}
	return out, nil
}

// Filter verdicts cached per row of a block: a batch asks about a row once.
const (
	filterUnknown = iota
	filterKeep
	filterDrop
)

// scan computes the distances of rows [lo, hi) to the nq packed queries and returns one
// top-k heap per query. It checks ctx between blocks.
func (ix *Index) scan(ctx context.Context, packed []float32, nq, k, lo, hi, skip int,
	filter func(string, map[string]string) bool) ([]topK, error) {
	dim := ix.dim
	heaps := make([]topK, nq)
	for j := range heaps {
		heaps[j] = topK{k: k, h: make([]cand, 0, min(k, hi-lo))}
	}
	bs := min(maxBlockRows, max(4, blockBytes/(4*dim))&^3, hi-lo)
	dist := make([]float32, nq*bs)
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
		l2sqTile(ix.vectors[b*dim:hi*dim], nb, dim, packed, nq, dim, dim, dist, bs)
		if verdict != nil {
			clear(verdict)
		}
		for j := range heaps {
			t := &heaps[j]
			dj := dist[j*bs : j*bs+nb]
			for i, sq := range dj {
				if t.rejects(sq) {
					continue
				}
				c := cand{d: float32(math.Sqrt(float64(sq))), sq: sq, row: b + i}
				if !t.admits(c) || c.row == skip {
					continue
				}
				if verdict != nil {
					if verdict[i] == filterUnknown {
						verdict[i] = filterDrop
						if filter(ix.ids[c.row], ix.meta[c.row]) {
							verdict[i] = filterKeep
						}
					}
					if verdict[i] == filterDrop {
						continue
					}
				}
				t.push(c)
			}
		}
	}
	return heaps, nil
}

// The bounded path of SearchBatch.
//
// A distance costs a subtraction and a multiply-add per element; a dot product only the
// multiply-add. For batches, scanBounded computes dot products x·q with the blocked dotTile
// kernel and from them, in float64, a = |x|²+|q|²-2x·q and an error bound
// e = boundedErrFactor(dim)*(|x|²+|q|²) such that the distance l2sqTile computes lies in
// [a-e, a+e]. (The kernels add each pair's terms in 8 lanes of m = ceil(dim/8) sequential
// float32 operations plus 3 for the lanes, so each of x·q, |x|² (computed as the distance to
// the origin), |q|² and the distance is within γ(m+3) = (m+3)u/(1-(m+3)u), u = 2^-24, of the
// exact value, relative to the sum of its terms' magnitudes, which |x|²+|q|² bounds, twice
// over for the distance; the bound adds these errors, 4γ(m+3)(|x|²+|q|²) in all, with a margin.)
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
	m := float64((dim+7)/8 + 3)
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
	k     int
	upper []float64 // max-heap of the k smallest upper bounds
	cands []boundedCand
}

// threshold returns the largest of the k smallest upper bounds, or +Inf before k rows.
func (b *bounded) threshold() float64 {
	if len(b.upper) < b.k {
		return math.Inf(1)
	}
	return b.upper[0]
}

// pushUpper records an upper bound.
func (b *bounded) pushUpper(u float64) {
	h := b.upper
	if len(h) < b.k {
		h = append(h, u)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if h[i] <= h[p] {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		b.upper = h
		return
	}
	if u >= h[0] {
		return
	}
	h[0] = u
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r] > h[l] {
			m = r
		}
		if h[m] <= h[i] {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
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

// scanBounded is the bounded-path scan of rows [lo, hi) for the packed queries, whose squared
// norms are qnorms. See the comment above boundedMinQueries.
func (ix *Index) scanBounded(ctx context.Context, packed, qnorms []float32, k, lo, hi, skip int,
	filter func(string, map[string]string) bool) ([]bounded, error) {
	dim, nq := ix.dim, len(qnorms)
	st := make([]bounded, nq)
	for j := range st {
		st[j] = bounded{k: k, upper: make([]float64, 0, k)}
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
			l2sqTile(block, nb, dim, packed, nq, dim, dim, dots, bs)
		} else {
			dotTile(block, nb, dim, packed, nq, dim, dim, dots, bs)
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
		uppers = append(uppers, states[w][j].upper...)
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
