package pinrec

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
)

// SearchAmong returns the k items nearest to query among those named by ids, nearest first
// (ties in insertion order), by exact Euclidean distance from the stored float32 vectors. It
// is the re-ranking step of approximate indexes (package ann), which find candidates on
// compressed vectors and let the exact ones decide. IDs that are not in the index are skipped,
// and so are repeated ones after their first time. Of the options, [WithFilter] and
// [WithMeta] apply as in [Index.Search]; the others do not matter to it. It returns fewer
// than k results when fewer candidates qualify.
//
// The error wraps [ErrBadK], [ErrDimMismatch] or [ErrNonFinite] for a bad query,
// [ErrIndexClosed], or ctx's error when ctx ended.
func (ix *Index) SearchAmong(ctx context.Context, query []float32, ids []string, k int, opts ...SearchOption) (_ []Result, err error) {
	if k < 1 {
		return nil, fmt.Errorf("search among: k=%d: %w", k, ErrBadK)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search among: %w", err)
	}
	keep := NewSearchParams(opts...).keeper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if err := ix.usable("search among"); err != nil {
		return nil, err
	}
	if err := checkVector(query, ix.dim); err != nil {
		return nil, fmt.Errorf("search among: query: %w", err)
	}
	dim := ix.dim
	all := make([]cand, 0, len(ids))
	var sq [1]float32
	for _, id := range ids {
		r, ok := ix.pos.Get(id, ix.ids)
		if !ok {
			continue
		}
		if keep != nil && !keep(id, ix.meta[r]) {
			continue
		}
		l2sqTile(ix.vectors[r*dim:(r+1)*dim], 1, dim, query, 1, dim, dim, sq[:], 1)
		all = append(all, cand{d: float32(math.Sqrt(float64(sq[0]))), sq: sq[0], row: r})
	}
	slices.SortFunc(all, compareCand)
	all = slices.CompactFunc(all, func(a, b cand) bool { return a.row == b.row }) // repeated IDs sort next to each other
	all = all[:min(k, len(all))]
	res := make([]Result, len(all))
	for i, c := range all {
		res[i] = Result{ID: ix.ids[c.row], Distance: c.d, Meta: maps.Clone(ix.meta[c.row])}
	}
	return res, nil
}
