package ann

import (
	"math"
	"math/rand/v2"
	"sync"
	"unsafe"

	"pinrec/internal/sq8"
)

// The HNSW graph (Malkov and Yashunin, "Efficient and robust approximate nearest neighbor
// search using Hierarchical Navigable Small World graphs", 2016/2018), over node numbers
// 0..n-1 whose distances come from the codec. Node i's block (its code, then for SQ8 and PCA
// the norm the integer distance needs: see codec.blockSize) is codes[i*cs:(i+1)*cs].
//
// Level 0 keeps up to m0 = 2m neighbours per node in one flat block (links0, stride m0+1:
// the count, then the neighbours), in 16-bit slots (narrow) instead while the graph is at
// rest and every node number fits (see narrowLinks); the upper levels keep up to m in blocks
// of m+1 in one flat slab (upper), node i's from upperOff[i].
// Deleted nodes stay in the graph as waypoints (their codes too): searches walk through them
// but never return them, so removing any node, the entry point included, leaves the graph
// connected as it was.

const (
	none     = math.MaxUint32 // no node
	maxLevel = 16             // levels are capped (the expected top level at 10M nodes, M=16, is ~6)
)

type graph struct {
	m, m0, efc int
	ml         float64 // level multiplier 1/ln(m)
	cd         *codec
	cs         int // block size: code size, plus 4 for the norm (SQ8, PCA)

	n      int
	levels []uint8
	links0 []uint32
	// narrow holds the level-0 lists instead of links0 (then nil), 16 bits a slot, in a graph
	// of at most narrowMax nodes that no insert is changing: see narrowLinks and widenLinks.
	// Only searchLayer, marshal and memoryBytes read it; everything else runs on links0.
	narrow []uint16
	// upper holds the blocks of m+1 of the upper levels: node i with levels[i] > 0 has its
	// levels[i] blocks, level 1 first, at upper[upperOff[i]:]. One slab and an offset cost 4
	// bytes a node against 24 for a slice a node (most nodes have no upper level).
	upperOff []uint32
	upper    []uint32
	codes    []byte
	dead     []bool

	entry uint32 // none while the graph is empty
	top   int    // level of entry

	// lock(i) guards node i's neighbour lists while inserts run in parallel; entryMu guards
	// entry and top then. Searches outside an insert hold the index's read lock instead and
	// take neither.
	locks   [lockStripes]sync.Mutex
	entryMu sync.RWMutex

	visited sync.Pool // *visitSet
	queries sync.Pool // *query
}

// lockStripes is the number of node locks: node i takes lock i mod lockStripes. An insert
// holds one node's lock at a time, so sharing them cannot deadlock, and with a few insert
// goroutines two rarely want the same one; a lock per node cost 8 bytes a node (8 MB at a
// million) for nothing more.
const lockStripes = 4096

// lock returns the lock of node i's neighbour lists.
func (g *graph) lock(i uint32) *sync.Mutex { return &g.locks[i%lockStripes] }

func newGraph(cd *codec, m, efc int) *graph {
	return &graph{m: m, m0: 2 * m, efc: efc, ml: 1 / math.Log(float64(max(m, 2))), cd: cd,
		cs: cd.blockSize(), entry: none}
}

// pfAhead is how many neighbours ahead searchLayer prefetches blocks: on Fashion-MNIST (784-B
// blocks) the CPU per query at efSearch 16 fell from 0.081-0.095 ms at 1 ahead to 0.065-0.072 at
// 3 to 8.
const pfAhead = 4

// prefetch asks the CPU to fetch node i's block.
func (g *graph) prefetch(i uint32) {
	if g.cd.kind != kindNone {
		sq8.DotU8(nil, nil, g.code(i))
	}
}

// code returns node i's block (code, then norm).
func (g *graph) code(i uint32) []byte { return g.codes[int(i)*g.cs : (int(i)+1)*g.cs] }

// dist returns the distance between q and node i, prefetching node next's block (none: no
// prefetch).
func (g *graph) dist(q *query, i, next uint32) float32 {
	var pf []byte
	if next != none {
		pf = g.code(next)
	}
	return g.cd.dist(q, g.code(i), pf)
}

// links returns node i's neighbour list at level l (count first); the slice aliases the graph.
// Level 0 needs the wide lists (see widenLinks): only searchLayer reads the narrow ones.
func (g *graph) links(i uint32, l int) []uint32 {
	if l == 0 {
		s := int(i) * (g.m0 + 1)
		return g.links0[s : s+g.m0+1]
	}
	s := int(g.upperOff[i]) + (l-1)*(g.m+1)
	return g.upper[s : s+g.m+1]
}

// setLevel gives node i the level lvl and empty lists on its upper levels. Only while no
// insert runs: it may move the upper slab.
func (g *graph) setLevel(i uint32, lvl int) {
	g.levels[i] = uint8(lvl)
	g.upperOff[i] = 0
	if lvl > 0 {
		g.upperOff[i] = uint32(len(g.upper))
		g.upper = append(g.upper, make([]uint32, lvl*(g.m+1))...)
	}
}

// hugeMin is the smallest slab hugePages advises (see huge_linux.go): below it the pages a
// search touches fit the CPU's TLB anyway.
const hugeMin = 8 << 20

// narrowMax is the most nodes a graph may have for narrowLinks to store its level-0 lists in
// 16 bits a slot (node numbers 0..narrowMax-1); a variable so that tests can cross it with
// few nodes.
var narrowMax = 1 << 16

// narrowLinks stores the level-0 lists in 16-bit slots when every node number fits, halving
// the largest part of the graph after the codes: at 60,000 Fashion-MNIST images (784-B codes,
// M=32) the 65 slots a node take 130 bytes instead of 260, 7.8 MB of the index's 66. The
// file format is unchanged (32-bit slots). Build, Load and Compact call it when they are done;
// the next insert (Add) or compaction widens the lists again first (widenLinks), so an index
// that grows stays wide until it is loaded or compacted again. Only while nothing else uses
// the graph.
func (g *graph) narrowLinks() {
	if g.narrow != nil || g.links0 == nil || g.n > narrowMax || g.m0 >= 1<<16 {
		return
	}
	narrow := make([]uint16, len(g.links0))
	hugePages(unsafe.Pointer(unsafe.SliceData(narrow)), 2*len(narrow), true)
	for i, v := range g.links0 {
		narrow[i] = uint16(v)
	}
	hugePages(unsafe.Pointer(unsafe.SliceData(g.links0)), 4*cap(g.links0), false)
	g.narrow, g.links0 = narrow, nil
}

// widenLinks moves narrow level-0 lists back to 32-bit slots (links0), which every change of
// the graph works on. Only while nothing else uses the graph.
func (g *graph) widenLinks() {
	if g.narrow == nil {
		return
	}
	// Room for as many nodes as the other slabs have (grow reslices them all alike).
	links0 := make([]uint32, len(g.narrow), max(len(g.narrow), cap(g.levels)*(g.m0+1)))
	hugePages(unsafe.Pointer(unsafe.SliceData(links0)), 4*cap(links0), true)
	for i, v := range g.narrow {
		links0[i] = uint32(v)
	}
	hugePages(unsafe.Pointer(unsafe.SliceData(g.narrow)), 2*cap(g.narrow), false)
	g.links0, g.narrow = links0, nil
}

// grow makes room for n nodes in total. Only while no insert runs.
func (g *graph) grow(n int) {
	if n <= g.n {
		return
	}
	g.widenLinks()
	if n > cap(g.levels) {
		c := max(n, cap(g.levels)+cap(g.levels)/4)
		g.levels = append(make([]uint8, 0, c), g.levels...)
		links0 := make([]uint32, len(g.links0), c*(g.m0+1))
		codes := make([]byte, len(g.codes), c*g.cs)
		// The slabs a search reads at random, advised before the copies touch them; the old
		// ones, dropped, no longer.
		hugeSlabs(links0, codes, true)
		copy(links0, g.links0)
		copy(codes, g.codes)
		g.hugeSlabs(false)
		g.links0, g.codes = links0, codes
		g.upperOff = append(make([]uint32, 0, c), g.upperOff...)
		g.dead = append(make([]bool, 0, c), g.dead...)
	}
	g.levels = g.levels[:n]
	g.links0 = g.links0[:n*(g.m0+1)]
	g.upperOff = g.upperOff[:n]
	g.codes = g.codes[:n*g.cs]
	g.dead = g.dead[:n]
	g.n = n
}

// hugeSlabs advises the level-0 links and codes slabs to huge pages (on) or back (off): see
// hugePages.
func hugeSlabs(links0 []uint32, codes []byte, on bool) {
	hugePages(unsafe.Pointer(unsafe.SliceData(links0)), 4*cap(links0), on)
	hugePages(unsafe.Pointer(unsafe.SliceData(codes)), cap(codes), on)
}

// hugeSlabs un-advises (off) the graph's slabs when the index drops them, or advises them.
func (g *graph) hugeSlabs(on bool) {
	hugeSlabs(g.links0, g.codes, on)
	hugePages(unsafe.Pointer(unsafe.SliceData(g.narrow)), 2*cap(g.narrow), on)
}

// randomLevel draws a node's top level: floor(-ln(U)·ml), capped.
func (g *graph) randomLevel(rng *rand.Rand) int {
	return min(maxLevel, int(-math.Log(1-rng.Float64())*g.ml))
}

// visitSet marks nodes visited during one search with a generation number.
type visitSet struct {
	gen  uint32
	mark []uint32
}

func (g *graph) getVisited() *visitSet {
	v, _ := g.visited.Get().(*visitSet)
	if v == nil {
		v = &visitSet{}
	}
	if len(v.mark) < g.n {
		v.mark = make([]uint32, g.n+g.n/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.mark)
		v.gen = 1
	}
	return v
}

func (g *graph) getQuery() *query {
	q, _ := g.queries.Get().(*query)
	if q == nil || len(q.y) != g.cd.pdim {
		q = g.cd.newQuery()
	}
	return q
}

// item is a node and its distance to the query.
type item struct {
	d    float32
	node uint32
}

// minHeap and maxHeap are binary heaps of items by distance.
type minHeap []item
type maxHeap []item

func (h *minHeap) push(x item) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].d <= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() item {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s[r].d < s[l].d {
			m = r
		}
		if s[i].d <= s[m].d {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (h *maxHeap) push(x item) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].d >= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *maxHeap) pop() item {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s[r].d > s[l].d {
			m = r
		}
		if s[i].d >= s[m].d {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// greedy walks level l from ep towards q, one closest neighbour at a time, and returns the
// node where no neighbour is closer, with its distance.
func (g *graph) greedy(q *query, ep item, l int, locked bool) item {
	for changed := true; changed; {
		changed = false
		if locked {
			g.lock(ep.node).Lock()
		}
		ln := g.links(ep.node, l)
		cnt := int(ln[0])
		var best item = ep
		nbs := ln[1 : 1+cnt]
		for j, nb := range nbs {
			next := uint32(none)
			if j+1 < len(nbs) {
				next = nbs[j+1]
			}
			if d := g.dist(q, nb, next); d < best.d {
				best = item{d, nb}
			}
		}
		if locked {
			g.lock(ep.node).Unlock()
		}
		if best.node != ep.node {
			ep, changed = best, true
		}
	}
	return ep
}

// searchLayer is the beam search of level l from ep with a beam of ef: it returns up to ef
// nodes (a max-heap, unordered) nearest to q that pass keep (all when keep is nil); nodes
// that fail it are still walked through. With locked, it locks each node while reading its
// list (inserts running in parallel).
func (g *graph) searchLayer(q *query, ep item, ef, l int, locked bool, keep func(uint32) bool, vs *visitSet) maxHeap {
	cand := minHeap(make([]item, 0, 2*ef))
	res := maxHeap(make([]item, 0, ef+1))
	vs.mark[ep.node] = vs.gen
	cand.push(ep)
	if keep == nil || keep(ep.node) {
		res.push(ep)
	}
	var buf [64]uint32
	for len(cand) > 0 {
		c := cand.pop()
		if len(res) >= ef && c.d > res[0].d {
			break
		}
		if locked {
			g.lock(c.node).Lock()
		}
		// The unvisited neighbours first, then their distances, each call prefetching the
		// block pfAhead neighbours on.
		var nbs []uint32
		if l == 0 && g.narrow != nil { // no insert runs (see narrowLinks)
			s := int(c.node) * (g.m0 + 1)
			nbs = unvisited(g.narrow[s:s+g.m0+1], vs, buf[:0])
		} else {
			nbs = unvisited(g.links(c.node, l), vs, buf[:0])
		}
		if locked {
			g.lock(c.node).Unlock()
		}
		for j := 0; j < min(pfAhead, len(nbs)); j++ {
			g.prefetch(nbs[j])
		}
		for j, nb := range nbs {
			next := uint32(none)
			if j+pfAhead < len(nbs) {
				next = nbs[j+pfAhead]
			}
			d := g.dist(q, nb, next)
			if len(res) < ef || d < res[0].d {
				cand.push(item{d, nb})
				if keep == nil || keep(nb) {
					res.push(item{d, nb})
					if len(res) > ef {
						res.pop()
					}
				}
			}
		}
	}
	return res
}

// unvisited appends to nbs the neighbours in list ln (count first) that vs has not seen, and
// marks them seen.
func unvisited[T uint16 | uint32](ln []T, vs *visitSet, nbs []uint32) []uint32 {
	for _, nb := range ln[1 : 1+int(ln[0])] {
		if vs.mark[nb] != vs.gen {
			vs.mark[nb] = vs.gen
			nbs = append(nbs, uint32(nb))
		}
	}
	return nbs
}

// selectNeighbours keeps at most m of the candidates (sorted nearest first) by the
// heuristic of the HNSW paper: a candidate is kept only if it is closer to the base than to
// every one kept before it, so that the links point in diverse directions; the closest
// rejected ones fill the remaining places up to 3/4 of m. With m or fewer candidates it keeps
// them all.
func (g *graph) selectNeighbours(cands []item, m int) []item {
	return g.selectFill(cands, m, m-m/4)
}

// selectFill is selectNeighbours filling up to fill places (at most m) with rejected ones.
//
// Inserts select M neighbours and fill up to M; pruning a full list keeps its diverse part and
// fills to 3/4 of it, so the next links append without pruning again. Filling pruned lists to
// the brim instead (as this package did before) found 0.001 more recall@10 at efSearch 16 on
// Fashion-MNIST but made every later link re-prune a full list, O(4M²) code distances: the
// build took 3x the CPU. Keeping all efConstruction candidates on level 0 (up to 2M, as FAISS
// does) found less per efSearch, and after compaction left nodes that a search from the
// entry point could not find.
func (g *graph) selectFill(cands []item, m, fill int) []item {
	fill = min(fill, m)
	if len(cands) <= m {
		return cands
	}
	kept := make([]item, 0, m)
	var pruned []item
	for _, c := range cands {
		if len(kept) == m {
			break
		}
		good := true
		cc := g.code(c.node)
		for _, r := range kept {
			if g.cd.distCodes(cc, g.code(r.node)) < c.d {
				good = false
				break
			}
		}
		if good {
			kept = append(kept, c)
		} else {
			pruned = append(pruned, c)
		}
	}
	for _, c := range pruned {
		if len(kept) >= fill {
			break
		}
		kept = append(kept, c)
	}
	return kept
}

// sortItems sorts by distance, then node (insertion sort: lists are short).
func sortItems(s []item) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].d < s[j-1].d || (s[j].d == s[j-1].d && s[j].node < s[j-1].node)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// heapSorted empties a max-heap into a slice sorted nearest first.
func heapSorted(h maxHeap) []item {
	out := make([]item, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = h.pop()
	}
	return out
}

// insert links node i (its code and level already stored) into the graph. q is its query
// form. Inserts may run in parallel with each other (locked), never with searches.
func (g *graph) insert(i uint32, q *query, level int) {
	g.entryMu.RLock()
	entry, top := g.entry, g.top
	g.entryMu.RUnlock()
	if level > top || entry == none {
		// A new top level: hold the entry lock for the whole insert (rare), as hnswlib does.
		g.entryMu.Lock()
		defer g.entryMu.Unlock()
		entry, top = g.entry, g.top
		if entry == none {
			g.entry, g.top = i, level
			return
		}
	}
	ep := item{g.dist(q, entry, none), entry}
	for l := top; l > level; l-- {
		ep = g.greedy(q, ep, l, true)
	}
	vs := g.getVisited()
	defer g.visited.Put(vs)
	for l := min(level, top); l >= 0; l-- {
		if l < min(level, top) {
			vs.gen++
			if vs.gen == 0 {
				clear(vs.mark)
				vs.gen = 1
			}
		}
		w := heapSorted(g.searchLayer(q, ep, g.efc, l, true, nil, vs))
		ep = w[0]
		if w[0].node == i { // cannot happen: i is not linked yet
			w = w[1:]
		}
		mmax := g.m
		if l == 0 {
			mmax = g.m0
		}
		sel := g.selectFill(w, g.m, g.m)
		g.lock(i).Lock()
		ln := g.links(i, l)
		ln[0] = uint32(len(sel))
		for j, s := range sel {
			ln[1+j] = s.node
		}
		g.lock(i).Unlock()
		for _, s := range sel {
			g.link(s.node, i, s.d, l, mmax)
		}
	}
	if level > top {
		g.entry, g.top = i, level // entryMu held since the start
	}
}

// link adds node i (at distance d) to node e's list at level l, pruning it back to mmax
// with the heuristic when full.
func (g *graph) link(e, i uint32, d float32, l, mmax int) {
	g.lock(e).Lock()
	defer g.lock(e).Unlock()
	ln := g.links(e, l)
	cnt := int(ln[0])
	for _, x := range ln[1 : 1+cnt] {
		if x == i {
			return
		}
	}
	if cnt < mmax {
		ln[1+cnt] = i
		ln[0]++
		return
	}
	// The neighbours' codes are not in cache (a search did not just read them): each
	// distance asks for the code pfAhead neighbours on.
	ce := g.code(e)
	cands := make([]item, 0, cnt+1)
	cands = append(cands, item{d, i})
	nbs := ln[1 : 1+cnt]
	for j := 0; j < min(pfAhead, len(nbs)); j++ {
		g.prefetch(nbs[j])
	}
	for j, x := range nbs {
		if j+pfAhead < len(nbs) {
			g.prefetch(nbs[j+pfAhead])
		}
		cands = append(cands, item{g.cd.distCodes(ce, g.code(x)), x})
	}
	sortItems(cands)
	sel := g.selectNeighbours(cands, mmax)
	ln[0] = uint32(len(sel))
	for j, s := range sel {
		ln[1+j] = s.node
	}
}

// search returns up to ef nodes nearest to q that pass keep, nearest first. The caller holds
// the index's read lock, so no insert runs.
func (g *graph) search(q *query, ef int, keep func(uint32) bool) []item {
	if g.entry == none {
		return nil
	}
	ep := item{g.dist(q, g.entry, none), g.entry}
	for l := g.top; l > 0; l-- {
		ep = g.greedy(q, ep, l, false)
	}
	vs := g.getVisited()
	defer g.visited.Put(vs)
	return heapSorted(g.searchLayer(q, ep, ef, 0, false, keep, vs))
}
