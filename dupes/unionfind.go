package dupes

// unionFind is a disjoint-set forest over 0..n-1 with path halving and union by size; the
// root of a set is not its least element (sets reports that).
type unionFind struct {
	parent []int
	size   []int
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), size: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
		u.size[i] = 1
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}

// sets returns the sets of at least minSize elements, each in ascending order, ordered by
// their least element.
func (u *unionFind) sets(minSize int) [][]int {
	byRoot := make(map[int]int)
	var out [][]int
	for x := range u.parent {
		r := u.find(x)
		if u.size[r] < minSize {
			continue
		}
		i, ok := byRoot[r]
		if !ok {
			i = len(out)
			byRoot[r] = i
			out = append(out, make([]int, 0, u.size[r]))
		}
		out[i] = append(out[i], x)
	}
	return out
}
