package ann

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// TestFilteredRecall searches with a filter that keeps 1% of the items (IDs p7, p107, ...,
// unrelated to the vectors; the index scans them exactly, and, forced to, walks the graph for
// them), with metadata matches that keep 1% or 2% (an exact scan of the items the inverted
// lists select), a quarter (a walk), and a match and a filter together: every search returns
// k results that pass, and recall@10 against the exact filtered top 10 is at least 0.9, at
// the index's default (calibrated) search. Similar with the 1% match leaves its item out.
func TestFilteredRecall(t *testing.T) {
	n := 10000 / raceScale
	exact, qs := testData(t, 31, n, 200/raceScale, 48)
	// A metadata key that 1% of the items have the value "7" of: the inverted lists' path.
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(t, err)
		it.Meta["bucket"] = strconv.Itoa(i % 100)
		items = append(items, it)
	}
	require.NoError(t, exact.Add(items...))
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2))
	require.NoError(t, err)
	rare := func(id string, _ map[string]string) bool {
		i, err := strconv.Atoi(id[1:])
		return err == nil && i%100 == 7
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		opt       pinrec.SearchOption
		graphOnly bool
	}{
		{"1% by a filter function", pinrec.WithFilter(rare), false},
		{"1% by the walk alone", pinrec.WithFilter(rare), true},
		{"25% by metadata", pinrec.WithMeta("shard", "2"), false},
		{"1% by metadata", pinrec.WithMeta("bucket", "7"), false},
		{"1% by metadata, two values", pinrec.WithMeta("bucket", "7", "8"), false},
		{"1% by metadata and a filter", func(p *pinrec.SearchParams) {
			pinrec.WithMeta("shard", "3")(p)
			pinrec.WithFilter(func(id string, _ map[string]string) bool { return id[len(id)-1] == '7' })(p)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.graphOnly = tc.graphOnly
			defer func() { a.graphOnly = false }()
			hit, total := 0, 0
			for _, q := range qs {
				want, err := exact.Search(ctx, q, 10, tc.opt)
				require.NoError(t, err)
				got, err := a.Search(ctx, q, 10, tc.opt)
				require.NoError(t, err)
				require.Len(t, got, 10)
				in := map[string]bool{}
				for _, r := range got {
					in[r.ID] = true
					it, err := exact.Get(r.ID)
					require.NoError(t, err)
					require.True(t, pinrec.NewSearchParams(tc.opt).Keep(r.ID, it.Meta), r.ID)
				}
				for _, r := range want {
					if in[r.ID] {
						hit++
					}
					total++
				}
			}
			r := float64(hit) / float64(total)
			t.Logf("%s: recall@10 %.4f against the exact filtered top 10 (ef %s)", tc.name, r, a.Stats()["ef_search"])
			assert.GreaterOrEqual(t, r, 0.9)
		})
	}
}

// TestFilteredSimilar: Similar with a metadata match that few items pass (the exact scan of
// the items the inverted lists select) returns the exact filtered neighbours, leaving the item
// itself out.
func TestFilteredSimilar(t *testing.T) {
	exact, _ := testData(t, 32, 3000, 1, 16)
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(t, err)
		it.Meta["bucket"] = strconv.Itoa(i % 100)
		items = append(items, it)
	}
	require.NoError(t, exact.Add(items...))
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(1))
	require.NoError(t, err)
	ctx := context.Background()
	for _, id := range []string{"p7", "p1507", "p2999"} {
		it, err := exact.Get(id)
		require.NoError(t, err)
		got, err := a.Similar(ctx, id, 5, pinrec.WithMeta("bucket", it.Meta["bucket"]))
		require.NoError(t, err)
		want, err := exact.Search(ctx, it.Vector, 6, pinrec.WithMeta("bucket", it.Meta["bucket"]),
			pinrec.WithFilter(func(x string, _ map[string]string) bool { return x != id }))
		require.NoError(t, err)
		require.Len(t, got, 5)
		for i := range got {
			assert.Equal(t, want[i].ID, got[i].ID, "%s rank %d", id, i)
		}
	}
}
