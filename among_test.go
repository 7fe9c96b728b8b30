package pinrec

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSearchAmong checks the re-rank primitive against Search: over every ID it gives
// Search's answer; unknown and repeated IDs are skipped; the filter applies; errors.
func TestSearchAmong(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, dim = 300, 24
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	for i := 0; i < n; i++ {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		require.NoError(t, ix.Add(Item{ID: string(rune('a'+i%26)) + string(rune('0'+i/26)), Vector: v, Meta: map[string]string{"odd": []string{"n", "y"}[i%2]}}))
	}
	q := make([]float32, dim)
	for j := range q {
		q[j] = float32(rng.NormFloat64())
	}
	ids := ix.IDs()
	ctx := context.Background()
	want, err := ix.Search(ctx, q, 7)
	require.NoError(t, err)
	got, err := ix.SearchAmong(ctx, q, ids, 7)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Unknown and repeated IDs.
	some := []string{want[3].ID, "nope", want[1].ID, want[3].ID, want[5].ID}
	got, err = ix.SearchAmong(ctx, q, some, 10)
	require.NoError(t, err)
	assert.Equal(t, []Result{want[1], want[3], want[5]}, got)

	// The filter.
	keep := func(_ string, m map[string]string) bool { return m["odd"] == "y" }
	wantF, err := ix.Search(context.Background(), q, 5, WithFilter(keep))
	require.NoError(t, err)
	got, err = ix.SearchAmong(ctx, q, ids, 5, WithFilter(keep))
	require.NoError(t, err)
	assert.Equal(t, wantF, got)
	wantM, err := ix.Search(ctx, q, 5, WithMeta("odd", "n"))
	require.NoError(t, err)
	got, err = ix.SearchAmong(ctx, q, ids, 5, WithMeta("odd", "n"))
	require.NoError(t, err)
	assert.Equal(t, wantM, got)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = ix.SearchAmong(cctx, q, ids, 5)
	assert.ErrorIs(t, err, context.Canceled)

	_, err = ix.SearchAmong(ctx, q, ids, 0)
	assert.ErrorIs(t, err, ErrBadK)
	_, err = ix.SearchAmong(ctx, q[:3], ids, 1)
	assert.ErrorIs(t, err, ErrDimMismatch)
	got, err = ix.SearchAmong(ctx, q, nil, 3)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// TestPasses checks the filter function and Matching against Search with the same options: an
// item passes exactly when a search over everything returns it.
func TestPasses(t *testing.T) {
	ix, err := NewIndex(2)
	require.NoError(t, err)
	for i, c := range []string{"red", "blue", "red", "green"} {
		require.NoError(t, ix.Add(Item{ID: string(rune('a' + i)), Vector: []float32{float32(i), 1}, Meta: map[string]string{"colour": c}}))
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []SearchOption
	}{
		{"no filter", nil},
		{"meta", []SearchOption{WithMeta("colour", "red", "green")}},
		{"filter", []SearchOption{WithFilter(func(id string, _ map[string]string) bool { return id != "a" })}},
		{"both", []SearchOption{WithMeta("colour", "red"), WithFilter(func(id string, _ map[string]string) bool { return id != "a" })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ix.Search(ctx, []float32{0, 0}, 10, tc.opts...)
			require.NoError(t, err)
			want := map[string]bool{}
			for _, r := range res {
				want[r.ID] = true
			}
			pass := ix.Passes(tc.opts...)
			var matching []string
			for _, id := range []string{"a", "b", "c", "d", "missing"} {
				assert.Equal(t, want[id], pass(id), id)
				if want[id] {
					matching = append(matching, id)
				}
			}
			assert.Equal(t, matching, ix.Matching(tc.opts...))
		})
	}
}
