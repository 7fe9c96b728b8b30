package ann

import "slices"

// Compact reclaims the graph nodes of removed (and replaced) items: their codes and links
// leave RAM, and the live nodes that linked to them are relinked. Each such node takes as
// candidates its live neighbours and the live neighbours of its removed ones (one hop through
// each, as hnswlib repairs a deleted node's neighbourhood), and keeps up to its degree of them
// by the graph's usual diversity heuristic, on the code distances. Nodes are then renumbered
// in their old order; an entry point that was removed is replaced by a live node of the
// highest level. The index answers as before, up to the approximate search's own changes
// (the removed waypoints are gone); the next [Index.Save] writes the compact graph.
//
// Compact holds the index's write lock: searches wait for it. It costs one pass over the
// links plus a few code distances per link that pointed to a removed node. Stats reports
// deleted_nodes, what it would reclaim. It is allowed on a read-only (memory-mapped) index,
// whose graph is in RAM.
func (a *Index) Compact() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.compact()
}

// compact is Compact under a.mu.
func (a *Index) compact() {
	g := a.g
	if g == nil || g.n == len(a.node) {
		return
	}
	// Relink live nodes away from dead ones. Dead nodes' lists are only read, live nodes'
	// lists only written by their own repair, so the order does not matter.
	seen := make(map[uint32]bool)
	var cands []item
	for i := 0; i < g.n; i++ {
		if g.dead[i] {
			continue
		}
		ci := g.code(uint32(i))
		for l := 0; l <= int(g.levels[i]); l++ {
			ln := g.links(uint32(i), l)
			if !slices.ContainsFunc(ln[1:1+ln[0]], func(x uint32) bool { return g.dead[x] }) {
				continue
			}
			clear(seen)
			cands = cands[:0]
			add := func(x uint32) {
				if x != uint32(i) && !g.dead[x] && !seen[x] {
					seen[x] = true
					cands = append(cands, item{g.cd.distCodes(ci, g.code(x)), x})
				}
			}
			for _, x := range ln[1 : 1+ln[0]] {
				if !g.dead[x] {
					add(x)
					continue
				}
				dl := g.links(x, l)
				for _, y := range dl[1 : 1+dl[0]] {
					add(y)
				}
			}
			sortItems(cands)
			mmax := g.m
			if l == 0 {
				mmax = g.m0
			}
			sel := g.selectNeighbours(cands, mmax)
			ln[0] = uint32(len(sel))
			for j, s := range sel {
				ln[1+j] = s.node
			}
		}
	}

	// Renumber the live nodes into a fresh graph.
	live := len(a.node)
	renum := make([]uint32, g.n)
	ng := newGraph(g.cd, g.m, g.efc)
	ng.grow(live)
	ids := make([]string, 0, live)
	next := uint32(0)
	for i := 0; i < g.n; i++ {
		if g.dead[i] {
			renum[i] = none
			continue
		}
		renum[i] = next
		ids = append(ids, a.ids[i])
		next++
	}
	entry, top := uint32(none), 0
	for i := 0; i < g.n; i++ {
		if g.dead[i] {
			continue
		}
		j := renum[i]
		lvl := int(g.levels[i])
		ng.levels[j] = uint8(lvl)
		if lvl > 0 {
			ng.upper[j] = make([]uint32, lvl*(g.m+1))
		}
		copy(ng.code(j), g.code(uint32(i)))
		for l := 0; l <= lvl; l++ {
			src, dst := g.links(uint32(i), l), ng.links(j, l)
			cnt := 0
			for _, x := range src[1 : 1+src[0]] {
				if r := renum[x]; r != none { // always, after the relinking
					dst[1+cnt] = r
					cnt++
				}
			}
			dst[0] = uint32(cnt)
		}
		if entry == none || lvl > top {
			entry, top = j, lvl
		}
	}
	if g.entry != none && !g.dead[g.entry] {
		entry, top = renum[g.entry], g.top
	}
	ng.entry, ng.top = entry, top
	a.g = ng
	a.ids = ids
	for j, id := range ids {
		a.node[id] = uint32(j)
	}
}
