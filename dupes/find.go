package dupes

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
)

// Why two items are exact duplicates ([Member.Exact]).
const (
	// SameBytes: equal content hashes in the metadata (the same file).
	SameBytes = "same bytes"
	// SameVector: bit-identical embeddings (the same pixels, as far as the embedding sees).
	SameVector = "same vector"
)

// maxMedoid is the largest group whose representative is its medoid; larger groups (which
// only a threshold far too high makes) take their earliest item, as the medoid costs the
// square of the size.
const maxMedoid = 256

// Report is what [Find] found.
type Report struct {
	// Calibration says how the threshold was chosen.
	Calibration Calibration `json:"calibration"`
	// Near holds the near-duplicate groups, largest first (ties: earliest representative
	// first). A group of items that are all exact copies of each other is in Exact only.
	Near []Group `json:"near"`
	// Exact holds the groups of exact duplicates (same bytes or same vector), largest first.
	Exact []Group `json:"exact"`
	// Items is the number of items grouped (pins; region items only with [WithRegions]).
	Items int `json:"items"`
	// Searches is the number of neighbour searches run (Items, plus the repeats of items with
	// more than k neighbours within the threshold).
	Searches int `json:"searches"`
}

// Group is a set of duplicates.
type Group struct {
	// Representative is the member the others are measured against: the medoid (least total
	// distance to the others; earliest on ties) of a near group, the earliest item of an exact
	// one.
	Representative string `json:"representative"`
	// Members lists every member, the representative first, then by distance to it.
	Members []Member `json:"members"`
}

// Member is one item of a [Group].
type Member struct {
	ID string `json:"id"`
	// Distance is the Euclidean distance of the item's vector to the representative's.
	Distance float32 `json:"distance"`
	// Exact is SameBytes or SameVector when the item is an exact copy of the representative,
	// "" otherwise (and for the representative itself).
	Exact string `json:"exact,omitempty"`
}

// IDs lists the group's member IDs, the representative first.
func (g Group) IDs() []string {
	out := make([]string, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.ID
	}
	return out
}

// Find groups the near-duplicates of s by a self-join through its own searches: each item's
// nearest other items (k of them, more while the k-th is still within the threshold), then
// union-find over the pairs within the threshold. The threshold is [WithThreshold]'s, or
// calibrated from every item's nearest-neighbour distance ([CalibrateDistances]). Through an
// approximate store (pinrec/ann) a pair the graph search misses may split a group; through
// the exact [pinrec.Index] the groups are exactly the connected components of the pairs within
// the threshold.
//
// Memory grows with the number of items times k, time with one search per item. The store's
// Get must return vectors ([ErrNoVectors] otherwise). Errors name the item and wrap the
// store's error, or the context's.
func Find(ctx context.Context, s Source, opts ...Option) (*Report, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ids, filter := pins(s, cfg)
	n := len(ids)
	rep := &Report{Items: n, Near: []Group{}, Exact: []Group{}}
	if n == 0 {
		rep.Calibration = CalibrateDistances(nil)
		if cfg.given {
			rep.Calibration = given(cfg.threshold)
		}
		return rep, nil
	}
	pos := make(map[string]int, n)
	for i, id := range ids {
		pos[id] = i
	}

	// Exact duplicates: equal content hashes or bit-identical vectors.
	exact := newUnionFind(n)
	why := make(map[[2]int]string) // root pairs joined, for the members' reasons
	if err := exactClasses(s, ids, cfg.hashKey, exact, why); err != nil {
		return nil, err
	}

	// The self-join.
	j := newJoin(s, cfg, filter)
	var prog *progress
	if cfg.progress != nil {
		prog = &progress{fn: cfg.progress, total: n}
	}
	nbrs, err := j.neighbours(ctx, ids, cfg.k, prog.tick)
	if err != nil {
		return nil, err
	}
	rep.Searches = n
	if cfg.given {
		rep.Calibration = given(cfg.threshold)
	} else {
		nn := make([]float32, 0, n)
		for _, list := range nbrs {
			if d, ok := nearestDistinct(list); ok {
				nn = append(nn, d)
			}
		}
		rep.Calibration = CalibrateDistances(nn)
	}
	t := rep.Calibration.Threshold

	// Items whose k-th neighbour is within the threshold may have more: ask again, 4x.
	for k := cfg.k; ; k *= 4 {
		var again []int
		for i, list := range nbrs {
			if len(list) == k && list[k-1].Distance <= t && k < n-1 {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			break
		}
		sub := make([]string, len(again))
		for x, i := range again {
			sub[x] = ids[i]
		}
		more, err := j.neighbours(ctx, sub, min(4*k, n-1), nil)
		if err != nil {
			return nil, err
		}
		rep.Searches += len(again)
		for x, i := range again {
			nbrs[i] = more[x]
		}
	}

	near := newUnionFind(n)
	for i := range n {
		if r := exact.find(i); r != i {
			near.union(i, r)
		}
	}
	for i, list := range nbrs {
		for _, r := range list {
			if r.Distance > t {
				break
			}
			if o, ok := pos[r.ID]; ok {
				near.union(i, o)
			}
		}
	}

	for _, members := range near.sets(2) {
		g, err := nearGroup(s, ids, members, exact, why)
		if err != nil {
			return nil, err
		}
		if g != nil {
			rep.Near = append(rep.Near, *g)
		}
	}
	for _, members := range exact.sets(2) {
		rep.Exact = append(rep.Exact, exactGroup(ids, members, exact, why))
	}
	order := func(a, b Group) int {
		return cmp.Or(cmp.Compare(len(b.Members), len(a.Members)), cmp.Compare(pos[a.Representative], pos[b.Representative]))
	}
	slices.SortFunc(rep.Near, order)
	slices.SortFunc(rep.Exact, order)
	return rep, nil
}

// exactClasses unions items with equal content hashes (hashKey in the metadata, when not "")
// or bit-identical vectors, and records why for each pair of roots it joins.
func exactClasses(s Source, ids []string, hashKey string, uf *unionFind, why map[[2]int]string) error {
	byHash := make(map[string]int)
	byVec := make(map[uint64][]int) // by vector hash: candidates, confirmed bit for bit
	for i, id := range ids {
		it, err := s.Get(id)
		if err != nil {
			return fmt.Errorf("dupes: %q: %w", id, err)
		}
		if len(it.Vector) == 0 {
			return fmt.Errorf("dupes: %q: %w", id, ErrNoVectors)
		}
		if h := it.Meta[hashKey]; hashKey != "" && h != "" {
			if o, ok := byHash[h]; ok {
				uf.union(o, i)
				why[[2]int{o, i}] = SameBytes
			} else {
				byHash[h] = i
			}
		}
		vh := vectorHash(it.Vector)
		for _, o := range byVec[vh] {
			prev, err := s.Get(ids[o])
			if err != nil {
				return fmt.Errorf("dupes: %q: %w", ids[o], err)
			}
			if sameBits(prev.Vector, it.Vector) {
				if _, ok := why[[2]int{o, i}]; !ok {
					why[[2]int{o, i}] = SameVector
				}
				uf.union(o, i)
				break
			}
		}
		byVec[vh] = append(byVec[vh], i)
	}
	return nil
}

// vectorHash is FNV-1a over the vector's bits.
func vectorHash(v []float32) uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		h.Write(b[:])
	}
	return h.Sum64()
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// exactReason says why member m is an exact copy of the earliest member first of its class.
func exactReason(why map[[2]int]string, members []int, m int) string {
	r := SameVector
	for _, o := range members {
		if w, ok := why[[2]int{min(o, m), max(o, m)}]; ok && w == SameBytes {
			return SameBytes
		}
	}
	return r
}

// exactGroup is a class of exact copies, the earliest as representative.
func exactGroup(ids []string, members []int, uf *unionFind, why map[[2]int]string) Group {
	g := Group{Representative: ids[members[0]]}
	for x, m := range members {
		mem := Member{ID: ids[m]}
		if x > 0 {
			mem.Exact = exactReason(why, members, m)
		}
		g.Members = append(g.Members, mem)
	}
	return g
}

// nearGroup builds a near-duplicate group from its members (ascending positions), or returns
// nil when they are all exact copies of one another.
func nearGroup(s Source, ids []string, members []int, exact *unionFind, why map[[2]int]string) (*Group, error) {
	root := exact.find(members[0])
	all := true
	for _, m := range members[1:] {
		if exact.find(m) != root {
			all = false
			break
		}
	}
	if all {
		return nil, nil
	}
	vecs := make([][]float32, len(members))
	for x, m := range members {
		it, err := s.Get(ids[m])
		if err != nil {
			return nil, fmt.Errorf("dupes: %q: %w", ids[m], err)
		}
		vecs[x] = it.Vector
	}
	rep := 0
	if len(members) <= maxMedoid {
		best := math.Inf(1)
		for a := range members {
			sum := 0.0
			for b := range members {
				if a != b {
					sum += float64(distance(vecs[a], vecs[b]))
				}
			}
			if sum < best {
				best, rep = sum, a
			}
		}
	}
	g := &Group{Representative: ids[members[rep]]}
	repRoot := exact.find(members[rep])
	var class []int // the representative's exact copies, for the reasons
	for _, m := range members {
		if exact.find(m) == repRoot {
			class = append(class, m)
		}
	}
	for x, m := range members {
		mem := Member{ID: ids[m], Distance: distance(vecs[rep], vecs[x])}
		if x != rep && exact.find(m) == repRoot {
			mem.Exact = exactReason(why, class, m)
		}
		g.Members = append(g.Members, mem)
	}
	// The representative first, then by distance, then by position.
	first := g.Members[rep]
	g.Members = append(g.Members[:rep:rep], g.Members[rep+1:]...)
	slices.SortStableFunc(g.Members, func(a, b Member) int { return cmp.Compare(a.Distance, b.Distance) })
	g.Members = append([]Member{first}, g.Members...)
	return g, nil
}

// distance is the Euclidean distance between a and b, accumulated in float64.
func distance(a, b []float32) float32 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return float32(math.Sqrt(s))
}

// progress reports Find's searches at most about 100 times.
type progress struct {
	mu          sync.Mutex
	fn          func(done, total int)
	done, total int
	last        int
}

func (p *progress) tick(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if step := max(p.total/100, 1); p.done-p.last >= step || p.done == p.total {
		p.last = p.done
		p.fn(p.done, p.total)
	}
}
