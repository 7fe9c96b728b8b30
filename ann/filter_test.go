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
// them) and with a metadata filter that keeps a quarter (a walk): every search returns k
// results that pass, and recall@10 against the exact filtered top 10 is at least 0.9, at the
// index's default (calibrated) search.
func TestFilteredRecall(t *testing.T) {
	n := 10000 / raceScale
	exact, qs := testData(t, 31, n, 200/raceScale, 48)
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
