package ann

import "slices"

// Compact reclaims the graph nodes of removed (and replaced) items: their codes and links
// leave RAM, and the live nodes that linked to them are relinked. Each such node takes as
// candidates its live neighbours and the live neighbours of its removed ones (one hop through
// each, as hnswlib repairs a deleted node's neighbourhood), and keeps up to its degree of them
// by the graph's usual diversity heuristic, on the code distances. Nodes are then renumbered
// in their old order; an entry point that was removed is replaced by a live node of the
// highest level. Last, every node that no level-0 path from the entry point reaches is linked
// back in (see relinkUnreachable), so each live item can be found; with no removed node,
// Compact does only that (a build on many identical vectors can leave nodes cut off). The index answers as before, up to the approximate search's own changes
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
	if g == nil {
		return
	}
	g.widenLinks()
	if g.n == a.node.Len() {
		g.relinkUnreachable() // nothing to reclaim; the build may have left nodes cut off
		g.narrowLinks()
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
	live := a.node.Len()
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
		ng.setLevel(j, lvl)
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
	ng.relinkUnreachable()
	a.dropRowNodes()
	a.g.hugeSlabs(false) // dropped
	a.g = ng
	a.ids = ids
	a.node.Reset(len(ids))
	for j, id := range ids {
		a.node.Add(id, j, ids)
	}
	ng.narrowLinks()
}

// reachable marks the nodes that level-0 links lead to from the entry point, the nodes a
// search's beam can reach.
func (g *graph) reachable() []bool {
	seen := make([]bool, g.n)
	if g.entry == none {
		return seen
	}
	stack := []uint32{g.entry}
	seen[g.entry] = true
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ln := g.links(x, 0)
		for _, y := range ln[1 : 1+ln[0]] {
			if !seen[y] {
				seen[y] = true
				stack = append(stack, y)
			}
		}
	}
	return seen
}

// relinkUnreachable links every node that no level-0 path from the entry point reaches back
// into the graph. The one-hop repair of compact can leave such nodes (a node whose links in
// came only from removed ones, which on duplicate-heavy data the diversity heuristic prunes
// from every candidate list), and so can the build itself on many identical vectors. For each
// such node u it searches the reachable part for u's nearest nodes (on code distances), links
// the nearest one with room (or, all being full, the nearest, in place of its farthest link
// w, which u then links to) to u, and gives u's free places to the nearest ones. Everything u
// leads to becomes reachable with it. Then, the other way round, every node from which no
// level-0 path leads back to the entry point (see untrap) links to its nearest node that does.
// A replaced link can cut off its target; the passes repeat until nothing changes (at most 8).
// The graph has no dead nodes.
func (g *graph) relinkUnreachable() {
	for pass := 0; pass < 8; pass++ {
		seen := g.reachable()
		fixed := 0
		for u := 0; u < g.n; u++ {
			if seen[u] {
				continue
			}
			g.relink(uint32(u), seen)
			fixed++
			// What u leads to is reachable now.
			stack := []uint32{uint32(u)}
			seen[u] = true
			for len(stack) > 0 {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				ln := g.links(x, 0)
				for _, y := range ln[1 : 1+ln[0]] {
					if !seen[y] {
						seen[y] = true
						stack = append(stack, y)
					}
				}
			}
		}
		// The other way round: nodes from which no level-0 path leads back to the entry point
		// (a group of identical vectors whose lists hold only each other) trap a search that
		// enters the level-0 walk there. Each such node links to its nearest node that leads
		// back, in place of its farthest link when full.
		fixed += g.untrap()
		if fixed == 0 {
			return
		}
	}
}

// leadsBack marks the nodes from which a level-0 path reaches the entry point.
func (g *graph) leadsBack() []bool {
	ok := make([]bool, g.n)
	if g.entry == none {
		return ok
	}
	ok[g.entry] = true
	for changed := true; changed; {
		changed = false
		for x := 0; x < g.n; x++ {
			if ok[x] {
				continue
			}
			ln := g.links(uint32(x), 0)
			for _, y := range ln[1 : 1+ln[0]] {
				if ok[y] {
					ok[x], changed = true, true
					break
				}
			}
		}
	}
	return ok
}

// untrap links each node that does not lead back to the entry point to its nearest node that
// does, and returns how many it linked.
func (g *graph) untrap() int {
	ok := g.leadsBack()
	all := make([]bool, g.n)
	for i := range all {
		all[i] = true
	}
	fixed := 0
	for x := 0; x < g.n; x++ {
		if ok[x] {
			continue
		}
		cx := g.code(uint32(x))
		var v uint32 = none
		for _, c := range g.nearestCodes(cx, max(g.efc, g.m0), all) {
			if ok[c.node] && c.node != uint32(x) {
				v = c.node
				break
			}
		}
		if v == none {
			v = g.entry
		}
		ln := g.links(uint32(x), 0)
		if int(ln[0]) < g.m0 {
			ln[1+ln[0]] = v
			ln[0]++
		} else {
			far, farD := 1, float32(-1)
			for j, y := range ln[1 : 1+ln[0]] {
				if d := g.cd.distCodes(cx, g.code(y)); d > farD {
					far, farD = 1+j, d
				}
			}
			ln[far] = v
		}
		ok[x] = true
		fixed++
	}
	return fixed
}

// relink links the unreachable node u into the reachable part of the graph (seen) at level 0.
func (g *graph) relink(u uint32, seen []bool) {
	cu := g.code(u)
	near := g.nearestCodes(cu, max(g.efc, g.m0), seen)
	if len(near) == 0 {
		return
	}
	// The in-link: the nearest node with room, else the nearest, replacing its farthest link.
	v := near[0].node
	for _, c := range near {
		if ln := g.links(c.node, 0); int(ln[0]) < g.m0 {
			v = c.node
			break
		}
	}
	lv := g.links(v, 0)
	lu := g.links(u, 0)
	if int(lv[0]) < g.m0 {
		lv[1+lv[0]] = u
		lv[0]++
	} else {
		cv := g.code(v)
		far, farD := 1, float32(-1)
		for j, x := range lv[1 : 1+lv[0]] {
			if d := g.cd.distCodes(cv, g.code(x)); d > farD {
				far, farD = 1+j, d
			}
		}
		w := lv[far]
		lv[far] = u
		// u takes over the link to w, in its own last place if it has none free.
		if !slices.Contains(lu[1:1+lu[0]], w) && w != u {
			if int(lu[0]) < g.m0 {
				lu[1+lu[0]] = w
				lu[0]++
			} else {
				lu[lu[0]] = w
			}
		}
	}
	// u's free places go to its nearest reachable nodes, so that searches leave u well.
	for _, c := range near {
		if int(lu[0]) >= g.m0 {
			break
		}
		if c.node != u && !slices.Contains(lu[1:1+lu[0]], c.node) {
			lu[1+lu[0]] = c.node
			lu[0]++
		}
	}
}

// nearestCodes returns up to ef nodes among those seen marks, nearest (by code distance) to
// the code c first, found by a greedy descent of the upper levels and a beam search of level 0
// from the entry point, which only go through reachable nodes.
func (g *graph) nearestCodes(c []byte, ef int, seen []bool) []item {
	if g.entry == none {
		return nil
	}
	dist := func(x uint32) float32 { return g.cd.distCodes(c, g.code(x)) }
	ep := item{dist(g.entry), g.entry}
	for l := g.top; l > 0; l-- {
		for changed := true; changed; {
			changed = false
			ln := g.links(ep.node, l)
			for _, x := range ln[1 : 1+ln[0]] {
				if d := dist(x); d < ep.d && seen[x] {
					ep, changed = item{d, x}, true
				}
			}
		}
	}
	visited := map[uint32]bool{ep.node: true}
	cand := minHeap{ep}
	res := maxHeap{ep}
	for len(cand) > 0 {
		x := cand.pop()
		if len(res) >= ef && x.d > res[0].d {
			break
		}
		ln := g.links(x.node, 0)
		for _, y := range ln[1 : 1+ln[0]] {
			if visited[y] || !seen[y] {
				continue
			}
			visited[y] = true
			if d := dist(y); len(res) < ef || d < res[0].d {
				cand.push(item{d, y})
				res.push(item{d, y})
				if len(res) > ef {
					res.pop()
				}
			}
		}
	}
	return heapSorted(res)
}
