package ann

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// TestChurnKeepsRecall removes 10% of the items and adds them back (same IDs, same vectors),
// then compacts: recall@10 on fresh queries at the same efSearch drops by at most 0.01 at each
// step, against the exact index (which holds the same items throughout). One build thread
// and fixed seeds make the figures the same on every run.
func TestChurnKeepsRecall(t *testing.T) {
	n := 4000 / raceScale
	exact, qs := testData(t, 21, n, 300/raceScale, 64)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(1), WithEfSearch(24), WithM(8))
	require.NoError(t, err)
	before := recallAt10(t, a, exact, qs)

	rng := rand.New(rand.NewPCG(5, 6))
	ids := exact.IDs()
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	churn := ids[:n/10]
	items := make([]pinrec.Item, len(churn))
	for i, id := range churn {
		items[i], err = exact.Get(id)
		require.NoError(t, err)
	}
	require.NoError(t, a.Remove(churn...))
	require.NoError(t, a.Add(items...))
	assert.Equal(t, n, a.Len())
	assert.Equal(t, fmt.Sprint(n/10), a.Stats()["deleted_nodes"])
	after := recallAt10(t, a, exact, qs)

	mem, err := strconv.Atoi(a.Stats()["memory_bytes"])
	require.NoError(t, err)
	a.Compact()
	assert.Equal(t, "0", a.Stats()["deleted_nodes"])
	assert.Equal(t, fmt.Sprint(n), a.Stats()["nodes"])
	memAfter, err := strconv.Atoi(a.Stats()["memory_bytes"])
	require.NoError(t, err)
	assert.Less(t, memAfter, mem, "compaction reclaims memory")
	compacted := recallAt10(t, a, exact, qs)
	t.Logf("recall@10 at ef 24: built %.4f, after removing and re-adding 10%% %.4f, compacted %.4f (memory %d -> %d bytes)",
		before, after, compacted, mem, memAfter)
	assert.GreaterOrEqual(t, after, before-0.01)
	assert.GreaterOrEqual(t, compacted, before-0.01)
	// The compact graph passes the loader's checks and saves and loads.
	b, err := Unmarshal(a.Marshal(), cloneExact(t, a.Exact()))
	require.NoError(t, err)
	assert.Equal(t, compacted, recallAt10(t, b, exact, qs))
}

// TestCompactAfterRemovingMost removes all but a few items (the entry point among them) and
// compacts: the rest are all found, exactly, and the graph loads.
func TestCompactAfterRemovingMost(t *testing.T) {
	exact, _ := testData(t, 22, 500, 1, 16)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(1), WithM(4))
	require.NoError(t, err)
	keep := []string{"p3", "p77", "p250", "p499"}
	var gone []string
	for _, id := range exact.IDs() {
		if !slices.Contains(keep, id) {
			gone = append(gone, id)
		}
	}
	require.NoError(t, a.Remove(gone...))
	assert.Equal(t, "4", a.Stats()["nodes"], "Remove compacts once removed nodes outnumber live ones")
	a.Compact()
	assert.Equal(t, "4", a.Stats()["nodes"])
	for _, id := range keep {
		it, err := exact.Get(id)
		require.NoError(t, err)
		res, err := a.Search(context.Background(), it.Vector, 4)
		require.NoError(t, err)
		require.Len(t, res, 4)
		assert.Equal(t, id, res[0].ID)
	}
	_, err = Unmarshal(a.Marshal(), cloneExact(t, a.Exact()))
	require.NoError(t, err)
	require.NoError(t, a.Remove(keep...))
	a.Compact()
	assert.Equal(t, "0", a.Stats()["nodes"])
	_, err = a.Search(context.Background(), make([]float32, 16), 3)
	assert.ErrorIs(t, err, pinrec.ErrEmptyIndex)
	require.NoError(t, a.Add(pinrec.Item{ID: "new", Vector: make([]float32, 16)}))
	res, err := a.Search(context.Background(), make([]float32, 16), 3)
	require.NoError(t, err)
	assert.Equal(t, "new", res[0].ID)
}

// TestRandomAddRemove runs random sequences of Add (new IDs, present IDs, repeated IDs in one
// call, removed IDs), Remove (present, unknown), Compact, Marshal/Unmarshal and searches
// against a model (a map of the live items): no panic, the same items, and every search
// returns min(k, live) live items (the exact top k when there are fewer items than efSearch).
func TestRandomAddRemove(t *testing.T) {
	const d = 6
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			vec := func() []float32 {
				v := make([]float32, d)
				for i := range v {
					v[i] = float32(rng.IntN(5)) // small integers: many ties and duplicates
				}
				return v
			}
			a, err := New(d, WithM(2+rng.IntN(4)), WithEfConstruction(4+rng.IntN(20)), WithWorkers(1+rng.IntN(2)),
				WithCodec([]string{CodecSQ8, CodecPCASQ8, CodecNone}[rng.IntN(3)]))
			require.NoError(t, err)
			model := map[string][]float32{}
			ctx := context.Background()
			for op := 0; op < 300; op++ {
				switch x := rng.IntN(10); {
				case x < 4: // add
					var items []pinrec.Item
					for range 1 + rng.IntN(8) {
						id := fmt.Sprint("i", rng.IntN(60))
						items = append(items, pinrec.Item{ID: id, Vector: vec()})
					}
					require.NoError(t, a.Add(items...))
					for _, it := range items {
						model[it.ID] = it.Vector
					}
				case x < 7: // remove
					var ids []string
					for id := range model {
						if rng.IntN(3) == 0 {
							ids = append(ids, id)
						}
					}
					if rng.IntN(5) == 0 {
						err := a.Remove(append(slices.Clone(ids), "unknown")...)
						assert.ErrorIs(t, err, pinrec.ErrNotFound)
						break
					}
					require.NoError(t, a.Remove(ids...))
					for _, id := range ids {
						delete(model, id)
					}
				case x < 8:
					a.Compact()
				case x < 9: // save and load the graph
					b, err := Unmarshal(a.Marshal(), cloneExact(t, a.Exact()))
					require.NoError(t, err)
					a = b
				default: // search
					k := 1 + rng.IntN(6)
					q := vec()
					res, err := a.Search(ctx, q, k)
					if len(model) == 0 {
						assert.ErrorIs(t, err, pinrec.ErrEmptyIndex)
						break
					}
					require.NoError(t, err)
					require.Len(t, res, min(k, len(model)))
					for _, r := range res {
						require.Contains(t, model, r.ID)
					}
					if len(model) <= 10 { // fewer items than ef: the exact scan
						want, err := a.Exact().Search(ctx, q, k)
						require.NoError(t, err)
						assert.Equal(t, want, res)
					}
				}
				require.Equal(t, len(model), a.Len())
				got := a.IDs()
				slices.Sort(got)
				want := slices.Sorted(maps.Keys(model))
				require.ElementsMatch(t, want, got)
			}
		})
	}
}

// unreachable returns the live nodes that no path of level-0 links from the entry point
// reaches: a search's beam can never reach them. An oracle written apart from compact.go's.
func unreachable(g *graph) []uint32 {
	if g.entry == none {
		return nil
	}
	seen := make([]bool, g.n)
	stack := []uint32{g.entry}
	seen[g.entry] = true
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, y := range level0(g, x) {
			if !seen[y] {
				seen[y] = true
				stack = append(stack, y)
			}
		}
	}
	var out []uint32
	for i := 0; i < g.n; i++ {
		if !g.dead[i] && !seen[i] {
			out = append(out, uint32(i))
		}
	}
	return out
}

// TestCompactKeepsEveryNodeReachable removes part of the items of duplicate-heavy and clustered
// collections (large enough that searches walk the graph) and compacts: every live node is
// reachable from the entry point (level 0), and a graph-only search as wide as the graph for
// each live item's vector returns an item at distance 0 (itself or a duplicate). Build links
// in what its inserts cut off (checked on a fresh build); removed nodes stay waypoints until
// Compact drops them, whose one-hop repair alone left 1,206, 6, 27 and 1 nodes cut off here.
func TestCompactKeepsEveryNodeReachable(t *testing.T) {
	const d = 8
	dups := func(n, distinct int, seed uint64) *pinrec.Index {
		rng := rand.New(rand.NewPCG(seed, 1))
		points := make([][]float32, distinct)
		for i := range points {
			points[i] = make([]float32, d)
			for j := range points[i] {
				points[i][j] = float32(rng.IntN(8))
			}
		}
		ix, err := pinrec.NewIndex(d)
		require.NoError(t, err)
		items := make([]pinrec.Item, n)
		for i := range items {
			items[i] = pinrec.Item{ID: fmt.Sprint("p", i), Vector: points[rng.IntN(distinct)]}
		}
		require.NoError(t, ix.Add(items...))
		return ix
	}
	clustered, _ := testData(t, 23, 4000/raceScale, 1, d)
	for _, tc := range []struct {
		name   string
		ix     *pinrec.Index
		m      int
		remove float64
		fresh  bool // also compact a fresh build, nothing removed
	}{
		{"40 distinct vectors, M=4, 45% removed", dups(4000/raceScale, 40, 1), 4, 0.45, true},
		{"400 distinct vectors, M=6, 30% removed", dups(4000/raceScale, 400, 2), 6, 0.3, false},
		{"every vector twice, M=3, 45% removed", dups(4000/raceScale, 2000/raceScale, 3), 3, 0.45, false},
		{"clustered, M=4, 45% removed", clustered, 4, 0.45, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Build(context.Background(), cloneExact(t, tc.ix), WithWorkers(2), WithM(tc.m),
				WithEfConstruction(16), WithTargetRecall(0))
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(4, 5))
			ids := tc.ix.IDs()
			rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			require.NoError(t, a.Remove(ids[:int(tc.remove*float64(len(ids)))]...))
			if tc.fresh { // Compact with nothing removed relinks what the build cut off
				b, err := Build(context.Background(), cloneExact(t, tc.ix), WithWorkers(1), WithM(tc.m),
					WithEfConstruction(16), WithTargetRecall(0))
				require.NoError(t, err)
				require.Empty(t, unreachable(b.g), "built")
				b.Compact()
				require.Empty(t, unreachable(b.g), "built and compacted with nothing removed")
			}
			before := len(unreachable(a.g))
			a.Compact()
			after := len(unreachable(a.g))
			t.Logf("unreachable live nodes: %d before Compact, %d after", before, after)
			require.Zero(t, after)
			a.graphOnly = true
			ctx := context.Background()
			// A beam as wide as the graph visits every node the walk can reach: it finds each
			// item's vector (the item or a duplicate, at distance 0).
			for _, id := range a.IDs() {
				it, err := a.Get(id)
				require.NoError(t, err)
				res, err := a.Search(ctx, it.Vector, 1, pinrec.WithEffort(a.Len()))
				require.NoError(t, err)
				require.Len(t, res, 1)
				require.Zero(t, res[0].Distance, id)
			}
		})
	}
}
