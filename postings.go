package pinrec

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
)

// postings are inverted lists of metadata values, for [WithMeta] filters that few items pass:
// for a key, the rows of the items whose metadata has each value, ascending. A key's lists are
// built the first time a search matches on it (one pass over the metadata) and kept until the
// index changes: Add, Remove and Close drop them all, so only the keys searches use take
// memory (4 bytes per item per key, plus the map of values). The lists are built under mu
// while the caller holds the index's read lock, and dropped under the index's write lock, so
// a reader that got a list may use it for as long as it holds the read lock.
type postings struct {
	mu    sync.Mutex
	lists map[string]map[string][]uint32
}

// reset drops every list. The caller holds the index's write lock.
func (p *postings) reset() {
	p.mu.Lock()
	p.lists = nil
	p.mu.Unlock()
}

// key returns key's lists, building them from meta if needed. The caller holds the index's
// read lock.
func (p *postings) key(key string, meta []map[string]string) map[string][]uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.lists[key]; ok {
		return l
	}
	l := make(map[string][]uint32)
	for r, m := range meta {
		if v, ok := m[key]; ok {
			l[v] = append(l[v], uint32(r))
		}
	}
	if p.lists == nil {
		p.lists = make(map[string]map[string][]uint32)
	}
	p.lists[key] = l
	return l
}

// matchRows returns, ascending, the rows whose metadata passes match (see [WithMeta]): the
// rows of the key with the fewest, checked against the other keys. match must not be empty.
// The caller holds ix.mu for reading.
func (ix *Index) matchRows(match map[string][]string) []uint32 {
	var best []uint32
	bestKey, first := "", true
	for _, key := range slices.Sorted(maps.Keys(match)) {
		l := ix.post.key(key, ix.meta)
		var rows []uint32
		values := match[key]
		for i, v := range values {
			if slices.Contains(values[:i], v) {
				continue
			}
			rows = append(rows, l[v]...)
		}
		if first || len(rows) < len(best) {
			best, bestKey, first = rows, key, false
		}
		if len(best) == 0 {
			return nil
		}
	}
	if len(match[bestKey]) > 1 {
		slices.Sort(best) // a union of several values' lists
	}
	if len(match) == 1 {
		return best
	}
	p := SearchParams{Match: match}
	out := make([]uint32, 0, len(best))
	for _, r := range best {
		if p.matches(ix.meta[r]) {
			out = append(out, r)
		}
	}
	return out
}

// CountMatching returns the number of items that pass the [WithMeta] options of opts, from
// inverted lists of the metadata values (built on first use of a key, see [Index.SearchFiltered]),
// without calling anything per item; ok is false when opts hold a [WithFilter] function, whose
// count would take a call per item, or no filter at all. Approximate indexes (package ann) use
// it to choose between a filtered walk and an exact scan of the items that pass.
func (ix *Index) CountMatching(opts ...SearchOption) (n int, ok bool) {
	p := NewSearchParams(opts...)
	if p.Filter != nil || p.Match == nil {
		return 0, false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return 0, true
	}
	return len(ix.matchRows(p.Match)), true
}

// SearchFiltered is [Index.Search] for filters that few items pass: it first selects the items
// that pass and then computes the distances of those alone, where Search computes every
// distance and asks the filter only about the items near enough to matter. [WithMeta] options
// select from inverted lists of the metadata values, which the index builds the first time a
// search matches on a key (one pass over the metadata, then 4 bytes per item for that key)
// and drops whenever the index changes; a [WithFilter] function is then called once per
// selected item (once per item without WithMeta). The results are those of Search with the
// same options: the k nearest that pass, nearest first, ties in insertion order, exact
// distances. Without a filter it is Search. Errors are those of Search.
func (ix *Index) SearchFiltered(ctx context.Context, query []float32, k int, opts ...SearchOption) (_ []Result, err error) {
	p := NewSearchParams(opts...)
	if p.Filter == nil && p.Match == nil {
		return ix.Search(ctx, query, k, opts...)
	}
	if k < 1 {
		return nil, fmt.Errorf("search filtered: k=%d: %w", k, ErrBadK)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search filtered: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if err := ix.usable("search filtered"); err != nil {
		return nil, err
	}
	if len(ix.ids) == 0 {
		return nil, fmt.Errorf("search filtered: %w", ErrEmptyIndex)
	}
	if err := checkVector(query, ix.dim); err != nil {
		return nil, fmt.Errorf("search filtered: query: %w", err)
	}
	// The rows that pass, then their distances: the filter loop stays tight.
	var rows []uint32
	if err := ix.eachMatching(ctx, p, func(r int) { rows = append(rows, uint32(r)) }); err != nil {
		return nil, fmt.Errorf("search filtered: %w", err)
	}
	dim := ix.dim
	t := topK[cand]{k: k}
	var sq [1]float32
	for i, r := range rows {
		if i%4096 == 4095 && ctx.Err() != nil {
			return nil, fmt.Errorf("search filtered: %w", ctx.Err())
		}
		l2sqTile(ix.vectors[int(r)*dim:(int(r)+1)*dim], 1, dim, query, 1, dim, dim, sq[:], 1)
		c := cand{d: float32(math.Sqrt(float64(sq[0]))), sq: sq[0], row: int(r)}
		if t.admits(c) {
			t.push(c)
		}
	}
	all := t.h
	slices.SortFunc(all, compareCand)
	res := make([]Result, len(all))
	for i, c := range all {
		res[i] = Result{ID: ix.ids[c.row], Distance: c.d, Meta: maps.Clone(ix.meta[c.row])}
	}
	return res, nil
}

// EachMatching calls fn with the row of each item that passes the filter options of opts
// ([WithFilter], [WithMeta]; the others are ignored), rows ascending, where an item's row is
// its position in [Index.IDs]; with no filter option, every row. [WithMeta] options select
// from the inverted lists of metadata values (see [Index.SearchFiltered]); a [WithFilter]
// function is then called once per selected item (once per item without WithMeta), in a
// tight loop on the caller's goroutine, so a panic in it reaches the caller.
//
// Approximate indexes (package ann) use it to score the items that pass on their own
// compressed vectors. The rows stay valid while the index does not change. fn runs under the
// index's read lock: it must not call ix.
//
// The error wraps [ErrIndexClosed], or the context's error when ctx ends (checked every
// 16,384 items); then fn has seen some of the rows.
func (ix *Index) EachMatching(ctx context.Context, fn func(row int), opts ...SearchOption) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("each matching: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if err := ix.usable("each matching"); err != nil {
		return err
	}
	if err := ix.eachMatching(ctx, NewSearchParams(opts...), fn); err != nil {
		return fmt.Errorf("each matching: %w", err)
	}
	return nil
}

// eachMatching is EachMatching under ix.mu.
func (ix *Index) eachMatching(ctx context.Context, p SearchParams, fn func(row int)) error {
	if p.Match != nil {
		f := p.Filter
		for i, r := range ix.matchRows(p.Match) {
			if f != nil && i%16384 == 16383 && ctx.Err() != nil {
				return ctx.Err()
			}
			if f == nil || f(ix.ids[r], ix.meta[r]) {
				fn(int(r))
			}
		}
		return nil
	}
	f := p.Filter
	if f == nil {
		for r := range ix.ids {
			fn(r)
		}
		return nil
	}
	// In blocks of 16,384 rows between context checks; ids and meta resliced to the block so
	// that the loop has no bounds checks.
	for lo := 0; lo < len(ix.ids); lo += 16384 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		hi := min(lo+16384, len(ix.ids))
		ids, meta := ix.ids[lo:hi], ix.meta[lo:hi]
		meta = meta[:len(ids)]
		for i, id := range ids {
			if f(id, meta[i]) {
				fn(lo + i)
			}
		}
	}
	return nil
}
