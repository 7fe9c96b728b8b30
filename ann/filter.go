package ann

import (
	"context"
	"fmt"
	"sync"

	"pinrec"
)

// filteredNodes decides how a filtered search (p has a Filter or Match) runs. It returns the
// node predicate of a filtered walk (live, not skip, through the filter), or, when so few items
// pass that the walk would cost more than a scan of the items that pass (see scanFiltered),
// the answer of that scan with done true. (The last parameter, the search's item predicate,
// is unused: the scan builds its own.) The caller holds a.mu.
//
// For a metadata match alone ([pinrec.WithMeta]) the exact index counts the items that pass
// from its inverted lists and the scan costs one code distance per passing item; for a filter
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
	res, err = a.scanFiltered(ctx, query, k, skip, p)
	return nil, res, true, err
}

// scanFiltered answers a filtered search from every item that passes, without the graph:
// the exact index selects them ([pinrec.Index.EachMatching]: a metadata match from its
// inverted lists, a filter function called once per item in a tight loop), each is scored on
// its code in RAM as the graph's walk scores nodes (no float32 vector read: a quarter of the
// bytes, in RAM where a mapped index's vectors may not be), and the best filteredRerank(k) by
// code are re-ranked on their exact vectors. Items outside the graph (those a calibration
// holds out) and skip are left out. The caller holds a.mu.
func (a *Index) scanFiltered(ctx context.Context, query []float32, k int, skip string, p pinrec.SearchParams) ([]pinrec.Result, error) {
	g := a.g
	nodes := a.rowNodes()
	q := g.getQuery()
	defer g.queries.Put(q)
	g.cd.prepare(query, q)
	r := a.filteredRerank(k)
	best := maxHeap(make([]item, 0, r+1))
	score := func(n uint32) {
		d := g.dist(q, n, none)
		if len(best) < r {
			best.push(item{d, n})
		} else if d < best[0].d {
			best.push(item{d, n})
			best.pop()
		}
	}
	// Each passing node's block is prefetched when the node comes, and scored scanAhead
	// nodes later, so that its load overlaps the filter calls and the scores in between.
	var ring [scanAhead]uint32
	seen := 0
	err := a.ix.EachMatching(ctx, func(row int) {
		if row >= len(nodes) {
			return
		}
		n := nodes[row]
		if n == none || (skip != "" && a.ids[n] == skip) {
			return
		}
		g.prefetch(n)
		slot := &ring[seen%scanAhead]
		if seen >= scanAhead {
			score(*slot)
		}
		*slot = n
		seen++
	}, func(o *pinrec.SearchParams) { o.Filter, o.Match = p.Filter, p.Match })
	if err != nil {
		return nil, fmt.Errorf("ann: search: %w", err)
	}
	for i := max(0, seen-scanAhead); i < seen; i++ {
		score(ring[i%scanAhead])
	}
	ids := make([]string, len(best))
	for i, it := range best {
		ids[i] = a.ids[it.node]
	}
	res, err := a.ix.SearchAmong(ctx, query, ids, k)
	if err != nil {
		return nil, fmt.Errorf("ann: search: %w", err)
	}
	return res, nil
}

// scanAhead is how many passing nodes ahead scanFiltered prefetches blocks.
const scanAhead = 4

// filteredRerank is how many of the items that pass scanFiltered re-ranks on their exact
// vectors for a search of k: 4k, at least 32 and at least the index's re-rank option; 4 times
// as many for CodecPCASQ8, whose codes drop what the projection leaves out. (At 200,000
// synthetic 2048-d items, SQ8, the top 16 by code held the exact filtered top 10 for every
// one of 200 queries, keeping 0.1% to 50%; each re-ranked item costs about 1.5 µs.)
func (a *Index) filteredRerank(k int) int {
	r := max(32, 4*k, a.cfg.rerank)
	if a.g.cd.kind == kindPCASQ8 {
		r *= 4
	}
	return r
}

// rowNodes returns the node of each row of the exact index (none for an item outside the
// graph), built on the first call after a change (see dropRowNodes). The caller holds a.mu.
func (a *Index) rowNodes() []uint32 {
	a.rowNode.mu.Lock()
	defer a.rowNode.mu.Unlock()
	// A length that differs: the exact index was changed behind a's back (see Exact).
	if a.rowNode.nodes == nil || len(a.rowNode.nodes) != a.ix.Len() {
		a.rowNode.nodes = matchRowsToNodes(a.ix.IDs(), a.ids)
	}
	return a.rowNode.nodes
}

// matchRowsToNodes returns, for each row's ID, the node of ids (IDs by node, "" for a deleted
// node) that has it, or none. Nodes mostly come in the order of the rows (Build inserts the
// items in row order, then those a calibration held out; Add appends to both): the rows are
// matched to the nodes in order first, and the IDs left over through a map of the nodes left
// over.
func matchRowsToNodes(rows, ids []string) []uint32 {
	nodes := make([]uint32, len(rows))
	used := make([]bool, len(ids))
	var left []int // rows not matched in order
	j := 0
	for r, id := range rows {
		for j < len(ids) && ids[j] == "" {
			j++
		}
		if j < len(ids) && ids[j] == id {
			nodes[r] = uint32(j)
			used[j] = true
			j++
			continue
		}
		nodes[r] = none
		left = append(left, r)
	}
	if len(left) == 0 {
		return nodes
	}
	rest := make(map[string]uint32)
	for n, id := range ids {
		if id != "" && !used[n] {
			rest[id] = uint32(n)
		}
	}
	for _, r := range left {
		if n, ok := rest[rows[r]]; ok {
			nodes[r] = n
		}
	}
	return nodes
}

// dropRowNodes forgets the rows' nodes; every change of the items or the graph's numbering
// calls it, under a.mu's write lock.
func (a *Index) dropRowNodes() {
	a.rowNode.mu.Lock()
	a.rowNode.nodes = nil
	a.rowNode.mu.Unlock()
}

// rowNodeMap is the exact index's rows' nodes (nil until a filtered scan needs them), 4
// bytes per item.
type rowNodeMap struct {
	mu    sync.Mutex
	nodes []uint32
}

// The costs that choose between the scan and the walk, in nanoseconds, fitted on an AMD EPYC
// (d=2048: 200,000 items, efSearch 64, M=32; d=256: 20,000 items). A code distance of the scan
// costs codeNs (the block prefetched, items in row order; 1.6 times that interleaved with the
// calls of a filter function), and each call callNs (a filter that parses a number from the
// ID: 6.75 ns); the filtered walk follows about ef·2M/s links (s the share that passes) at
// linkNs each (many lead to nodes already visited; the filter's check of a node included).
// At 200,000 x 2048 the walk took 3.2 ms CPU at s = 10% against 5.6 ms for the scan with a
// filter function and 2.5 ms for the scan of a metadata match; at 1%, 24 ms against 1.7 and 0.24.
const (
	callNs       = 7
	scanPassFunc = 1.6
)

// codeNs and linkNs are the costs of a code distance of the scan and of a link of the filtered
// walk, for the graph's block size in bytes (2,052 at d=2048 with SQ8: 128 and 77 ns).
func (g *graph) codeNs() float64 { return 15 + 0.055*float64(g.cs) }
func (g *graph) linkNs() float64 { return 15 + 0.03*float64(g.cs) }

// scanCheaper reports whether the scan of the c items that pass a metadata match (c code
// distances) costs less than a filtered walk at ef (about ef·2M·live/c links).
func (a *Index) scanCheaper(c, ef int) bool {
	if c <= ef {
		return true
	}
	g := a.g
	walk := g.linkNs() * float64(ef) * float64(g.m0) * float64(a.node.Len()) / float64(c)
	return float64(c)*g.codeNs() < walk
}

// filterSample is the number of nodes walkTooLong tries the filter on.
const filterSample = 256

// walkTooLong estimates, from the share s of filterSample nodes spread over the graph that pass
// keep, whether a filtered walk (about ef·2M/s links) would cost more than the scan of the
// items that pass (a call of the filter per live item, a code distance per passing one).
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
	walk := g.linkNs() * float64(ef) * float64(g.m0) / s
	n := float64(a.node.Len())
	scan := n*callNs + scanPassFunc*s*n*g.codeNs()
	return walk > scan
}
