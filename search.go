package pinrec

import (
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"runtime/debug"
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
	if ix.dim == 0 {
		return nil, fmt.Errorf("search: %w", ErrEmptyIndex) // a zero Index
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
	if ix.dim == 0 {
		return nil, fmt.Errorf("search batch: %w", ErrEmptyIndex) // a zero Index
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
	r, ok := ix.pos.Get(id, ix.ids)
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

// queryPad is how many floats longer than a vector the stride of packed queries is: a
// cache line, so that the queries of a kernel tile do not all map to the same L1 sets when a
// vector's bytes are a multiple of 4 KiB (2048 floats: the AVX-512 dot tiles went from about
// 200 to 225 GFLOP/s with it).
const queryPad = 16

// Scan tuning. A block of rows is scanned against every query before the next block, so it
// should stay in L2 while the queries go by; workers get at least minWorkFloats of work.
const (
	blockBytes   = 512 << 10
	maxBlockRows = 1024
)

var minWorkFloats = 1 << 18 // a variable so that tests can split small indexes

// search scans the whole index for each query and returns the k nearest rows, leaving out
// row skip (-1 for none). The caller holds mu for reading and has validated the queries.
func (ix *Index) search(ctx context.Context, queries [][]float32, k int, skip int, opts []SearchOption) (_ [][]Result, err error) {
	g := ix.guardFaults() // a mapped file truncated under the scan: an error, not SIGBUS
	defer g.end(&err)
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

	// The queries, packed: row j at packed[j*qs:j*qs+dim].
	qs := dim
	var packed []float32
	if nq == 1 {
		packed = queries[0]
	} else {
		qs = dim + queryPad
		packed = make([]float32, nq*qs)
		for j, q := range queries {
			copy(packed[j*qs:], q)
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
			qj := packed[j*qs : j*qs+dim]
			dotTile(qj, 1, dim, qj, 1, dim, dim, qnorms[j:], 1)
			if !(qnorms[j] <= maxBoundedNorm) {
				qnorms = nil
				break
			}
		}
	}

	// The queries' int16 codes, for the bounded path's first pass where it takes them.
	var qc *i16Codes
	if qnorms != nil && useI16(dim) {
		qc = newI16Codes(nq, dim)
		for j := range nq {
			qc.set(j, packed[j*qs:j*qs+dim]) // its norm: qnorms[j], computed as in the float32 pass
		}
	}

	heaps := make([][]topK[cand], workers)
	bounds := make([][]bounded, workers)
	errs := make([]error, workers)
	panics := make([]any, workers)
	file, mapped := ix.mappedPath()
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		run := func() {
			defer func() {
				if p := recover(); p != nil {
					if isFault(p) && mapped {
						errs[w] = faultError(file, p) // the file was truncated while mapped
					} else {
						panics[w] = p
					}
				}
			}()
			if mapped {
				defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			}
			if qnorms != nil {
				bounds[w], errs[w] = ix.scanBounded(ctx, packed, qs, qnorms, qc, k, lo, hi, skip, keep)
			} else {
				heaps[w], errs[w] = ix.scan(ctx, packed, qs, nq, k, lo, hi, skip, keep)
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
			all = ix.rerank(all, bounds, j, packed[j*qs:j*qs+dim], k)
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

// scan computes the distances of rows [lo, hi) to the nq packed queries (stride qs) and
// returns one top-k heap per query. It checks ctx between blocks.
func (ix *Index) scan(ctx context.Context, packed []float32, qs, nq, k, lo, hi, skip int,
	filter func(string, map[string]string) bool) ([]topK[cand], error) {
	dim := ix.dim
	heaps := make([]topK[cand], nq)
	for j := range heaps {
		heaps[j] = topK[cand]{k: k, h: make([]cand, 0, min(k, hi-lo))}
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
		l2sqTile(ix.vectors[b*dim:hi*dim], nb, dim, packed, nq, qs, dim, dist, bs)
		if verdict != nil {
			clear(verdict)
		}
		for j := range heaps {
			t := &heaps[j]
			dj := dist[j*bs : j*bs+nb]
			for i, sq := range dj {
				if rejects(t, sq) {
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
