package dupes

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/ann"
)

// planted is a synthetic collection: distinct Gaussian vectors, some with near copies (the
// original plus small noise) and some with exact copies.
type planted struct {
	items []pinrec.Item
	group map[string]string // ID -> the original's ID, for planted copies and their originals
}

// plant makes n distinct vectors of dimension dim, then near copies of the first groups
// originals (1 to 4 each, noise of norm about noise), and exact copies of the next exact ones.
func plant(seed uint64, n, dim, groups, exact int, noise float64) planted {
	rng := rand.New(rand.NewPCG(seed, 3))
	p := planted{group: make(map[string]string)}
	vec := func() []float32 {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		return v
	}
	for i := range n {
		p.items = append(p.items, pinrec.Item{ID: fmt.Sprintf("pin-%04d", i), Vector: vec()})
	}
	for g := range groups {
		orig := p.items[g]
		p.group[orig.ID] = orig.ID
		for c := range 1 + g%4 {
			v := slices.Clone(orig.Vector)
			for j := range v {
				v[j] += float32(rng.NormFloat64() * noise / math.Sqrt(float64(dim)))
			}
			id := fmt.Sprintf("%s-near%d", orig.ID, c)
			p.items = append(p.items, pinrec.Item{ID: id, Vector: v})
			p.group[id] = orig.ID
		}
	}
	for e := range exact {
		orig := p.items[groups+e]
		p.group[orig.ID] = orig.ID
		id := orig.ID + "-copy"
		p.items = append(p.items, pinrec.Item{ID: id, Vector: slices.Clone(orig.Vector)})
		p.group[id] = orig.ID
	}
	rng.Shuffle(len(p.items), func(i, j int) { p.items[i], p.items[j] = p.items[j], p.items[i] })
	return p
}

func exactIndex(t testing.TB, items []pinrec.Item) *pinrec.Index {
	t.Helper()
	ix, err := pinrec.NewIndex(len(items[0].Vector))
	require.NoError(t, err)
	require.NoError(t, ix.Add(items...))
	return ix
}

func annIndex(t testing.TB, items []pinrec.Item) *ann.Index {
	t.Helper()
	a, err := ann.Build(context.Background(), exactIndex(t, items), ann.WithWorkers(2), ann.WithCodec(ann.CodecNone))
	require.NoError(t, err)
	return a
}

// oracle groups items by brute force: every pair within t, then connected components (by
// depth-first search), as sorted ID lists, sorted.
func oracle(items []pinrec.Item, t float32) [][]string {
	n := len(items)
	adj := make([][]int, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if distance(items[i].Vector, items[j].Vector) <= t {
				adj[i] = append(adj[i], j)
				adj[j] = append(adj[j], i)
			}
		}
	}
	seen := make([]bool, n)
	var out [][]string
	for i := range n {
		if seen[i] || len(adj[i]) == 0 {
			continue
		}
		var comp []string
		stack := []int{i}
		seen[i] = true
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, items[x].ID)
			for _, y := range adj[x] {
				if !seen[y] {
					seen[y] = true
					stack = append(stack, y)
				}
			}
		}
		sort.Strings(comp)
		out = append(out, comp)
	}
	sortGroups(out)
	return out
}

func sortGroups(g [][]string) {
	sort.Slice(g, func(a, b int) bool { return strings.Join(g[a], ",") < strings.Join(g[b], ",") })
}

// components turns a report back into the partition it describes: near groups, plus exact
// groups that no near group holds.
func components(r *Report) [][]string {
	var out [][]string
	inNear := make(map[string]bool)
	for _, g := range r.Near {
		ids := g.IDs()
		for _, id := range ids {
			inNear[id] = true
		}
		sort.Strings(ids)
		out = append(out, ids)
	}
	for _, g := range r.Exact {
		if inNear[g.Representative] {
			continue
		}
		ids := g.IDs()
		sort.Strings(ids)
		out = append(out, ids)
	}
	sortGroups(out)
	return out
}

func TestFindMatchesBruteForce(t *testing.T) {
	p := plant(1, 150, 24, 30, 6, 1.0)
	// Thresholds from none to one that chains distinct items (Gaussian vectors of dimension
	// 24 are about 7 apart): the groups must be the connected components at every one.
	cases := []struct {
		name      string
		threshold float32
		k         int
	}{
		{"zero", 0, 4},
		{"planted", 2, 2},
		{"planted k1", 2, 1},
		{"loose", 4.5, 3},
		{"chaining", 5.2, 2},
	}
	ctx := context.Background()
	stores := []struct {
		name string
		s    pinrec.Store
		opts []Option
	}{
		{"exact", exactIndex(t, p.items), nil},
		// With efSearch above the item count the graph search visits every node: exact.
		{"ann", annIndex(t, p.items), []Option{WithEffort(len(p.items) + 10)}},
	}
	for _, st := range stores {
		for _, tc := range cases {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				r, err := Find(ctx, st.s, append([]Option{WithThreshold(tc.threshold), WithK(tc.k), WithWorkers(2)}, st.opts...)...)
				require.NoError(t, err)
				assert.Equal(t, oracle(p.items, tc.threshold), components(r))
				assert.Equal(t, RuleGiven, r.Calibration.Rule)
				assert.Equal(t, len(p.items), r.Items)
				assert.GreaterOrEqual(t, r.Searches, len(p.items))
				for x, g := range r.Near {
					if x > 0 {
						assert.GreaterOrEqual(t, len(r.Near[x-1].Members), len(g.Members), "largest first")
					}
					assert.Equal(t, g.Representative, g.Members[0].ID)
					assert.Zero(t, g.Members[0].Distance)
					for _, m := range g.Members[1:] {
						want := distance(vectorOf(p.items, g.Representative), vectorOf(p.items, m.ID))
						assert.InDelta(t, want, m.Distance, 1e-4, m.ID)
					}
				}
			})
		}
	}
}

func vectorOf(items []pinrec.Item, id string) []float32 {
	for _, it := range items {
		if it.ID == id {
			return it.Vector
		}
	}
	panic("no item " + id)
}

// The representative of a near group is its medoid: the member with the least total distance
// to the others, checked by hand on three points on a line.
func TestMedoidRepresentative(t *testing.T) {
	items := []pinrec.Item{
		{ID: "a", Vector: []float32{0, 0}},
		{ID: "b", Vector: []float32{1, 0}},
		{ID: "c", Vector: []float32{3, 0}},
		{ID: "far", Vector: []float32{100, 100}},
	}
	r, err := Find(context.Background(), exactIndex(t, items), WithThreshold(2.5))
	require.NoError(t, err)
	require.Len(t, r.Near, 1)
	assert.Equal(t, Group{Representative: "b", Members: []Member{
		{ID: "b"}, {ID: "a", Distance: 1}, {ID: "c", Distance: 2},
	}}, r.Near[0])
	assert.Empty(t, r.Exact)
}

func TestExactApartFromNear(t *testing.T) {
	v := func(x ...float32) []float32 { return x }
	items := []pinrec.Item{
		{ID: "orig", Vector: v(0, 0, 0), Meta: map[string]string{MetaHash: "h1"}},
		{ID: "same-file", Vector: v(0, 0, 0), Meta: map[string]string{MetaHash: "h1"}},
		{ID: "same-pixels", Vector: v(0, 0, 0), Meta: map[string]string{MetaHash: "h2"}},
		{ID: "edited", Vector: v(0.1, 0, 0), Meta: map[string]string{MetaHash: "h3"}},
		{ID: "alone-a", Vector: v(10, 0, 0)},
		{ID: "alone-a-copy", Vector: v(10, 0, 0)},
		{ID: "other", Vector: v(0, 10, 0)},
		// The same bytes recorded for two vectors that differ (an embedding that is not
		// deterministic): still the same file.
		{ID: "x1", Vector: v(0, 0, 20), Meta: map[string]string{MetaHash: "h9"}},
		{ID: "x2", Vector: v(0, 0, 20.001), Meta: map[string]string{MetaHash: "h9"}},
	}
	r, err := Find(context.Background(), exactIndex(t, items), WithThreshold(0.5))
	require.NoError(t, err)
	// Near: the group with the edited copy; its exact members say why.
	require.Len(t, r.Near, 1)
	g := r.Near[0]
	assert.ElementsMatch(t, []string{"orig", "same-file", "same-pixels", "edited"}, g.IDs())
	byID := map[string]Member{}
	for _, m := range g.Members {
		byID[m.ID] = m
	}
	assert.Equal(t, "", byID["edited"].Exact)
	assert.InDelta(t, 0.1, byID["edited"].Distance, 1e-6)
	// Exact: the three identical ones, the pair of identical vectors, the pair of equal files.
	require.Len(t, r.Exact, 3)
	assert.Equal(t, Group{Representative: "orig", Members: []Member{
		{ID: "orig"}, {ID: "same-file", Exact: SameBytes}, {ID: "same-pixels", Exact: SameVector},
	}}, r.Exact[0])
	assert.Equal(t, Group{Representative: "alone-a", Members: []Member{
		{ID: "alone-a"}, {ID: "alone-a-copy", Exact: SameVector},
	}}, r.Exact[1])
	assert.Equal(t, Group{Representative: "x1", Members: []Member{
		{ID: "x1"}, {ID: "x2", Exact: SameBytes},
	}}, r.Exact[2])

	// Threshold 0: exact duplicates only, and no near group made of copies alone.
	r, err = Find(context.Background(), exactIndex(t, items), WithThreshold(0))
	require.NoError(t, err)
	assert.Empty(t, r.Near)
	assert.Len(t, r.Exact, 3)

	// Without hashes, equal files with different vectors are not exact duplicates.
	r, err = Find(context.Background(), exactIndex(t, items), WithThreshold(0), WithHashKey(""))
	require.NoError(t, err)
	assert.Len(t, r.Exact, 2)
}

// pairs lists the unordered pairs of items that share a group.
func pairs(groups [][]string) map[[2]string]bool {
	out := make(map[[2]string]bool)
	for _, g := range groups {
		for a := range g {
			for b := a + 1; b < len(g); b++ {
				x, y := g[a], g[b]
				if x > y {
					x, y = y, x
				}
				out[[2]string{x, y}] = true
			}
		}
	}
	return out
}

func TestCalibrationPlantedAndNone(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		groups int
		noise  float64
		rule   string
	}{
		{"planted", 60, 0.8, RuleTail},
		{"planted noisy", 60, 2.0, RuleTail},
		{"none", 0, 0, RuleTail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := plant(7, 1000, 32, tc.groups, 0, tc.noise)
			for _, st := range []struct {
				name string
				s    pinrec.Store
			}{{"exact", exactIndex(t, p.items)}, {"ann", annIndex(t, p.items)}} {
				r, err := Find(ctx, st.s)
				require.NoError(t, err)
				assert.Equal(t, tc.rule, r.Calibration.Rule, st.name+": "+r.Calibration.Explanation)
				assert.NotEmpty(t, r.Calibration.Explanation)
				assert.Equal(t, len(p.items), r.Calibration.Items)
				var got [][]string
				for _, g := range r.Near {
					got = append(got, g.IDs())
				}
				found := pairs(got)
				var truth [][]string
				byOrig := map[string][]string{}
				for id, o := range p.group {
					byOrig[o] = append(byOrig[o], id)
				}
				for _, g := range byOrig {
					truth = append(truth, g)
				}
				want := pairs(truth)
				hit := 0
				for pr := range found {
					if want[pr] {
						hit++
					}
				}
				if tc.groups == 0 {
					// No duplicates: a few chance pairs at most (the tail rule's 1 in ~700).
					assert.LessOrEqual(t, len(found), 5, st.name)
					return
				}
				assert.Equal(t, len(found), hit, st.name+": every pair found is planted")
				assert.GreaterOrEqual(t, float64(hit), 0.98*float64(len(want)), st.name+": recall")
			}
		})
	}
}

func TestCalibrateDistances(t *testing.T) {
	bulk := func(n int, seed uint64) []float32 {
		rng := rand.New(rand.NewPCG(seed, 1))
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(math.Exp(math.Log(10) + 0.1*rng.NormFloat64()))
		}
		return out
	}
	withDupes := append(bulk(500, 1), 0.5, 0.6, 0.7, 0.55, 0.9, 1.1, 0, 0) // zeros are ignored
	// A wide bulk (spread 0.3) cut under 6.5, and duplicates reaching 4.2: above the tail bound
	// exp(log 10 - 3*0.3) = 4.07, then nothing until 6.5.
	var reaching []float32
	for _, d := range bulk(2000, 3) {
		if w := float32(math.Exp(math.Log(10) + 3*(math.Log(float64(d))-math.Log(10)))); w >= 6.5 {
			reaching = append(reaching, w)
		}
	}
	reaching = append(reaching, 1, 2, 3, 3.5, 4.0, 4.2)
	cases := []struct {
		name      string
		nn        []float32
		rule      string
		threshold [2]float32 // bounds
		below     int
	}{
		{"empty", nil, RuleTooFew, [2]float32{0, 0}, 0},
		{"too few", []float32{1, 2, 3}, RuleTooFew, [2]float32{0, 0}, 0},
		// A low mode far under the bulk: the tail bound exp(log 10 - 3*0.1) = 7.4 takes it.
		{"low mode", withDupes, RuleTail, [2]float32{7.0, 7.8}, 6},
		// No low mode: the same bound, within sampling error.
		{"tail", bulk(500, 2), RuleTail, [2]float32{7.0, 7.8}, -1},
		// The gap from 4.2 to 6.5: threshold at its geometric middle, 5.22.
		{"gap", reaching, RuleGap, [2]float32{5.1, 5.4}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := CalibrateDistances(tc.nn)
			assert.Equal(t, tc.rule, c.Rule, c.Explanation)
			assert.GreaterOrEqual(t, c.Threshold, tc.threshold[0])
			assert.LessOrEqual(t, c.Threshold, tc.threshold[1])
			if tc.below >= 0 {
				assert.Equal(t, tc.below, c.Below)
			}
			assert.NotEmpty(t, c.Explanation)
		})
	}
}
