package ann

import (
	"context"
	"errors"
	"fmt"

	"pinrec"
)

// filteredNodes decides how a filtered search (p has a Filter or Match) runs. It returns the
// node predicate of a filtered walk (live, not skip, through the filter), or, when so few items
// pass that the walk would cost more than an exact scan of the items that pass, the answer of
// that scan with done true. (The last parameter, the search's item predicate, is unused: the
// scan builds its own.) The caller holds a.mu.
//
// For a metadata match alone ([pinrec.WithMeta]) the exact index counts the items that pass
// from its inverted lists and the scan costs one exact distance per passing item; for a filter
// function, walkTooLong estimates the share that pass from a sample, and the scan costs a
// call of the filter per item as well. A filter that most items pass (leaving one item out,
// say) is walked: the walk then costs about what an unfiltered search does.
func (a *Index) filteredNodes(ctx context.Context, query []float32, k int, skip string, p pinrec.SearchParams, ef int, _ func(string, map[string]string) bool) (keepNode func(uint32) bool, res []pinrec.Result, done bool, err error) {
	g := a.g
	only := func(q *pinrec.SearchParams) { q.Filter, q.Match = p.Filter, p.Match }
	pass := a.ix.Passes(only)
	keepNode = func(n uint32) bool { return !g.dead[n] && a.ids[n] != skip && pass(a.ids[n]) }
	if a.graphOnly {
		return keepNode, nil, false, nil
	}
	var scan bool
	if c, ok := a.ix.CountMatching(only); ok {
		scan = a.scanCheaper(c, ef)
	} else {
		scan = a.walkTooLong(keepNode, ef)
	}
	if !scan {
		return keepNode, nil, false, nil
	}
	// The exact scan of the items that pass; the exact index also holds the items a
	// calibration holds out of the graph, which must not be found.
	filter := p.Filter
	if f, held := p.Filter, a.held; skip != "" || held != nil {
		filter = func(id string, meta map[string]string) bool {
			return id != skip && !held[id] && (f == nil || f(id, meta))
		}
	}
	res, err = a.ix.SearchFiltered(ctx, query, k, func(q *pinrec.SearchParams) { q.Match, q.Filter = p.Match, filter })
	if errors.Is(err, pinrec.ErrEmptyIndex) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, true, fmt.Errorf("ann: search: %w", err)
	}
	return nil, res, true, nil
}

// scanCheaper reports whether an exact scan of the c items that pass a metadata match costs
// less than a filtered walk at ef: the walk expands about ef·live/c nodes of up to 2M links
// each before its beam holds ef passing nodes, each link a code distance; the scan computes c
// float32 distances, each about 4 code distances (4 bytes per value against 1).
func (a *Index) scanCheaper(c, ef int) bool {
	if c <= ef {
		return true
	}
	return 4*float64(c)*float64(c) < float64(ef)*float64(a.node.Len())*float64(a.g.m0)
}

// filterSample is the number of nodes walkTooLong tries the filter on.
const filterSample = 256

// walkTooLong estimates, from the share s of filterSample nodes spread over the graph that pass
// keep, whether a filtered walk would cost more than the exact scan of the items that pass. The
// walk expands about ef/s nodes of up to 2M links each before its beam holds ef passing nodes,
// each link a code distance; the scan calls the filter on each of the n live items (counted as
// a quarter of a code distance) and computes the float32 distances of the s·n that pass (about
// 4 code distances each: 4 bytes per value against 1).
func (a *Index) walkTooLong(keep func(uint32) bool, ef int) bool {
	g := a.g
	step := max(1, g.n/filterSample)
	tried, passed := 0, 0
	for i := 0; i < g.n; i += step {
		if g.dead[i] {
			continue
		}
		tried++
		if keep(uint32(i)) {
			passed++
		}
	}
	if tried == 0 {
		return false
	}
	// s = (passed+1)/(tried+1), so that no passing node sampled is not read as none passing.
	s := float64(passed+1) / float64(tried+1)
	walk := float64(ef) * float64(g.m0) / s
	scan := float64(a.node.Len()) * (0.25 + 4*s)
	return walk > scan
}
