package foryou

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"pinrec/internal/kernel"
)

// Merge is one step of a hierarchical clustering of n items. Clusters are numbered as SciPy
// numbers them: 0..n-1 are the items, n+i is the cluster that merge i (in height order)
// forms. A and B (A < B) join at Height into a cluster of Size items.
type Merge struct {
	A, B   int
	Height float64
	Size   int
}

// MaxWardItems bounds the number of vectors [Ward] accepts: its distance matrix takes
// 4*n*(n-1) bytes (about 400 MB at this bound).
const MaxWardItems = 10000

// Ward clusters vectors (all of one length) bottom-up by Ward's minimum-variance criterion
// and returns the n-1 merges in height order (ties keep the order they were found in).
//
// The height of merging clusters A and B is
//
//	h(A, B) = sqrt(2*|A|*|B|/(|A|+|B|)) * ||mean(A) - mean(B)||
//
// (SciPy's "ward" linkage: two single items merge at their Euclidean distance). Merging
// minimises the growth of the within-cluster sum of squares, which is h²/2.
//
// The algorithm is the nearest-neighbour chain (Murtagh 1983, Müllner 2011) with the
// Lance-Williams update: O(n²) time after the O(n²·dim) pairwise distances, and one
// condensed matrix of n(n-1)/2 float64 (4·n² bytes) as memory. It returns an error for
// more than [MaxWardItems] vectors, vectors of different lengths or non-finite values.
func Ward(vectors [][]float32) ([]Merge, error) {
	n := len(vectors)
	if n > MaxWardItems {
		return nil, fmt.Errorf("foryou: ward: %d vectors, at most %d", n, MaxWardItems)
	}
	if n < 2 {
		return nil, nil
	}
	d2, err := pairwiseSq(vectors)
	if err != nil {
		return nil, err
	}
	return nnChain(n, d2), nil
}

// tri returns the position of the pair (i, j), i != j, in a condensed matrix of n items.
func tri(n, i, j int) int {
	if i > j {
		i, j = j, i
	}
	return n*i - i*(i+1)/2 + j - i - 1
}

// pairwiseSq returns the condensed matrix of squared Euclidean distances.
func pairwiseSq(vectors [][]float32) ([]float64, error) {
	n, dim := len(vectors), len(vectors[0])
	flat := make([]float32, n*dim)
	for i, v := range vectors {
		if len(v) != dim {
			return nil, fmt.Errorf("foryou: ward: vector %d has %d values, vector 0 has %d", i, len(v), dim)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("foryou: ward: vector %d has a non-finite value", i)
			}
		}
		copy(flat[i*dim:], v)
	}
	d2 := make([]float64, n*(n-1)/2)
	if dim == 0 {
		return d2, nil
	}
	const tile = 64
	out := make([]float32, tile*tile)
	for i0 := 0; i0 < n; i0 += tile {
		nr := min(tile, n-i0)
		for j0 := i0; j0 < n; j0 += tile {
			nq := min(tile, n-j0)
			// out[j*nr+i] = ||x_{i0+i} - x_{j0+j}||²
			kernel.L2sqTile(flat[i0*dim:], nr, dim, flat[j0*dim:], nq, dim, dim, out, nr)
			for j := range nq {
				for i := range nr {
					if a, b := i0+i, j0+j; a < b {
						d2[tri(n, a, b)] = float64(out[j*nr+i])
					}
				}
			}
		}
	}
	return d2, nil
}

// nnChain runs the nearest-neighbour chain on the condensed matrix d2 of squared distances
// (overwritten with squared Ward heights) and returns the merges in height order.
func nnChain(n int, d2 []float64) []Merge {
	size := make([]int, n)
	for i := range size {
		size[i] = 1
	}
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	raw := make([]Merge, 0, n-1) // A, B are slots here; renumbered below
	chain := make([]int, 0, n)
	for left := n; left > 1; {
		if len(chain) == 0 {
			for i, ok := range active {
				if ok {
					chain = append(chain, i)
					break
				}
			}
		}
		a := chain[len(chain)-1]
		prev := -1
		if len(chain) >= 2 {
			prev = chain[len(chain)-2]
		}
		// The nearest active cluster to a; on a tie, the previous link of the chain (so the
		// chain always ends in a reciprocal pair), else the lowest slot.
		b, best := prev, math.Inf(1)
		if prev >= 0 {
			best = d2[tri(n, a, prev)]
		}
		for c, ok := range active {
			if !ok || c == a {
				continue
			}
			if v := d2[tri(n, a, c)]; v < best {
				b, best = c, v
			}
		}
		if b != prev {
			chain = append(chain, b)
			continue
		}
		chain = chain[:len(chain)-2]
		// Merge a and b into slot lo; slot hi goes inactive.
		lo, hi := min(a, b), max(a, b)
		na, nb := float64(size[lo]), float64(size[hi])
		for c, ok := range active {
			if !ok || c == lo || c == hi {
				continue
			}
			nc := float64(size[c])
			dlc, dhc := d2[tri(n, lo, c)], d2[tri(n, hi, c)]
			d2[tri(n, lo, c)] = ((na+nc)*dlc + (nb+nc)*dhc - nc*best) / (na + nb + nc)
		}
		raw = append(raw, Merge{A: lo, B: hi, Height: math.Sqrt(max(best, 0)), Size: size[lo] + size[hi]})
		size[lo] += size[hi]
		active[hi] = false
		left--
	}
	return relabel(n, raw)
}

// relabel sorts merges given by slot (the merged cluster keeps slot A) by height and
// renumbers them as SciPy does.
func relabel(n int, raw []Merge) []Merge {
	order := make([]int, len(raw))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(raw[x].Height, raw[y].Height) })
	// Union-find over slots, in height order: each slot's current cluster label.
	parent := make([]int, n)
	label := make([]int, n)
	for i := range parent {
		parent[i], label[i] = i, i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	out := make([]Merge, len(raw))
	for step, i := range order {
		m := raw[i]
		ra, rb := find(m.A), find(m.B)
		la, lb := label[ra], label[rb]
		parent[rb] = ra
		label[ra] = n + step
		out[step] = Merge{A: min(la, lb), B: max(la, lb), Height: m.Height, Size: m.Size}
	}
	return out
}

// Cut returns the flat clustering of n items that keeps the merges of height at most height:
// labels[i] is item i's cluster, clusters numbered 0, 1, ... in order of their first item.
// merges are [Ward]'s (any order of merges that SciPy's numbering allows).
func Cut(n int, merges []Merge, height float64) []int {
	parent := make([]int, 2*n)
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for i, m := range merges {
		if m.Height > height || m.A >= n+i || m.B >= n+i || n+i >= len(parent) {
			continue
		}
		// Cluster n+i is the union of A and B; a merge above the cut leaves it unlinked.
		parent[find(m.A)] = n + i
		parent[find(m.B)] = n + i
	}
	labels := make([]int, n)
	ids := map[int]int{}
	for i := range labels {
		r := find(i)
		l, ok := ids[r]
		if !ok {
			l = len(ids)
			ids[r] = l
		}
		labels[i] = l
	}
	return labels
}
