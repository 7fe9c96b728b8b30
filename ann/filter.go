package ann

import (
	"context"
	"fmt"

	"pinrec"
)

// filteredNodes decides how a filtered search (p has a Filter or Match) runs. It returns the
// node predicate of a filtered walk (live, not skip, through the filter), or, when so few items
// pass that the walk would evaluate more codes than a scan of the passing items costs, the
// answer of that scan with done true. keep is the search's item predicate. The caller holds a.mu.
func (a *Index) filteredNodes(ctx context.Context, query []float32, k int, skip string, p pinrec.SearchParams, ef int, keep func(string, map[string]string) bool) (keepNode func(uint32) bool, res []pinrec.Result, done bool, err error) {
	g := a.g
	only := func(q *pinrec.SearchParams) { q.Filter, q.Match = p.Filter, p.Match }
	pass := a.ix.Passes(only)
	keepNode = func(n uint32) bool { return !g.dead[n] && a.ids[n] != skip && pass(a.ids[n]) }
	if a.walkTooLong(keepNode, ef) && !a.graphOnly {
		// So few pass that the walk would evaluate more codes than there are items: one
		// call of the filter per item and exact distances for those that pass cost less.
		res, err := a.ix.SearchAmong(ctx, query, a.ix.Matching(only), k, pinrec.WithFilter(keep))
		if err != nil {
			return nil, nil, true, fmt.Errorf("ann: search: %w", err)
		}
		return nil, res, true, nil
	}
	return keepNode, nil, false, nil
}

// filterSample is the number of nodes walkTooLong tries the filter on.
const filterSample = 256

// walkTooLong estimates, from the share s of filterSample nodes spread over the graph that pass
// keep, whether a filtered walk would evaluate more codes than half the graph holds: it
// expands about ef/s nodes of up to 2M links each before its beam holds ef passing nodes.
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
	// ef/s·2M > n/2, with s = (passed+1)/(tried+1) so that no passing node sampled is not
	// read as none passing.
	return float64(ef)*float64(tried+1)*float64(g.m0) > float64(passed+1)*float64(len(a.node))/2
}
