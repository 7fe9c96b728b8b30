package ann

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/internal/synth"
)

// testData is an exact index of n synthetic items ("p0".."p<n-1>") and nq fresh queries.
func testData(t testing.TB, seed uint64, n, nq, d int) (*pinrec.Index, [][]float32) {
	t.Helper()
	s := synth.New(seed, d, 12, 40)
	ix, err := pinrec.NewIndex(d, pinrec.WithCapacity(n))
	require.NoError(t, err)
	items := make([]pinrec.Item, n)
	for i := range items {
		items[i] = pinrec.Item{ID: fmt.Sprintf("p%d", i), Vector: s.Draw(), Meta: map[string]string{"shard": fmt.Sprint(i % 4)}}
	}
	require.NoError(t, ix.Add(items...))
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = s.Draw()
	}
	return ix, qs
}

// recallAt10 is the share of the exact top 10 (from oracle) that s finds, over the queries.
func recallAt10(t testing.TB, s pinrec.Searcher, oracle pinrec.Searcher, qs [][]float32, opts ...pinrec.SearchOption) float64 {
	t.Helper()
	ctx := context.Background()
	hit, total := 0, 0
	for _, q := range qs {
		want, err := oracle.Search(ctx, q, 10)
		require.NoError(t, err)
		got, err := s.Search(ctx, q, 10, opts...)
		require.NoError(t, err)
		in := make(map[string]bool, len(got))
		for _, r := range got {
			in[r.ID] = true
		}
		for _, r := range want {
			if in[r.ID] {
				hit++
			}
			total++
		}
	}
	return float64(hit) / float64(total)
}
