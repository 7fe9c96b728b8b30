package pinrec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postingsIndex is an index of n random items with metadata "colour" (one of 5, "" for every
// 7th item, which lacks the key) and "shard" (i%3).
func postingsIndex(t *testing.T, n, d int) *Index {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	ix, err := NewIndex(d)
	require.NoError(t, err)
	items := make([]Item, n)
	for i := range items {
		v := make([]float32, d)
		for j := range v {
			v[j] = float32(rng.IntN(4)) // small integers: ties
		}
		meta := map[string]string{"shard": strconv.Itoa(i % 3)}
		if i%7 != 0 {
			meta["colour"] = []string{"red", "green", "blue", "grey", "pink"}[rng.IntN(5)]
		}
		items[i] = Item{ID: fmt.Sprint("p", i), Vector: v, Meta: meta}
	}
	require.NoError(t, ix.Add(items...))
	return ix
}

// checkFiltered compares SearchFiltered, Matching and CountMatching with the exact Search and
// a brute-force count under the same options (the oracle).
func checkFiltered(t *testing.T, ix *Index, q []float32, k int, opts ...SearchOption) {
	t.Helper()
	ctx := context.Background()
	want, err := ix.Search(ctx, q, k, opts...)
	require.NoError(t, err)
	got, err := ix.SearchFiltered(ctx, q, k, opts...)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].ID, got[i].ID, "rank %d", i)
		assert.InDelta(t, want[i].Distance, got[i].Distance, 1e-4*max(1, float64(want[i].Distance)))
		assert.Equal(t, want[i].Meta, got[i].Meta)
	}
	p := NewSearchParams(opts...)
	var brute []string
	for _, id := range ix.IDs() {
		it, err := ix.Get(id)
		require.NoError(t, err)
		if p.Keep(id, it.Meta) {
			brute = append(brute, id)
		}
	}
	assert.Equal(t, brute, ix.Matching(opts...))
	ids := ix.IDs()
	var each []string
	last := -1
	require.NoError(t, ix.EachMatching(context.Background(), func(r int) {
		assert.Greater(t, r, last, "rows ascending")
		last = r
		each = append(each, ids[r])
	}, opts...))
	if len(brute) == 0 {
		assert.Empty(t, each)
	} else {
		assert.Equal(t, brute, each)
	}
	if c, ok := ix.CountMatching(opts...); p.Filter == nil && p.Match != nil {
		assert.True(t, ok)
		assert.Equal(t, len(brute), c)
	} else {
		assert.False(t, ok)
	}
}

// TestSearchFiltered: SearchFiltered and Matching agree with Search and a brute-force count for
// metadata matches (one value, several, two keys, a missing key, none passing), a filter
// function, both, and no filter; and again after Add replaces metadata and Remove shifts the
// rows (the inverted lists are rebuilt).
func TestSearchFiltered(t *testing.T) {
	const n, d = 700, 6
	ix := postingsIndex(t, n, d)
	even := func(id string, _ map[string]string) bool {
		i, _ := strconv.Atoi(id[1:])
		return i%2 == 0
	}
	cases := []struct {
		name string
		opts []SearchOption
	}{
		{"one value", []SearchOption{WithMeta("colour", "red")}},
		{"two values", []SearchOption{WithMeta("colour", "red", "blue")}},
		{"repeated value", []SearchOption{WithMeta("colour", "red", "red")}},
		{"two keys", []SearchOption{WithMeta("colour", "green"), WithMeta("shard", "1", "2")}},
		{"unknown value", []SearchOption{WithMeta("colour", "black")}},
		{"unknown key", []SearchOption{WithMeta("size", "L")}},
		{"no values", []SearchOption{WithMeta("colour")}},
		{"filter function", []SearchOption{WithFilter(even)}},
		{"both", []SearchOption{WithMeta("shard", "0"), WithFilter(even)}},
		{"none", nil},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	query := func() []float32 {
		q := make([]float32, d)
		for j := range q {
			q[j] = float32(rng.IntN(4))
		}
		return q
	}
	run := func(stage string) {
		for _, tc := range cases {
			t.Run(stage+"/"+tc.name, func(t *testing.T) {
				for _, k := range []int{1, 10, 1000} {
					checkFiltered(t, ix, query(), k, tc.opts...)
				}
			})
		}
	}
	run("built")
	// Replace the metadata of some items (their rows stay) and add new ones.
	var items []Item
	for i := 0; i < n; i += 5 {
		it, err := ix.Get(fmt.Sprint("p", i))
		require.NoError(t, err)
		it.Meta = map[string]string{"colour": "red", "shard": "9"}
		items = append(items, it)
	}
	items = append(items, Item{ID: "new", Vector: query(), Meta: map[string]string{"colour": "red"}})
	require.NoError(t, ix.Add(items...))
	run("replaced")
	// Remove items: the rows after them shift.
	var gone []string
	for i := 1; i < n; i += 4 {
		gone = append(gone, fmt.Sprint("p", i))
	}
	require.NoError(t, ix.Remove(gone...))
	run("removed")

	_, err := ix.SearchFiltered(context.Background(), query(), 0, WithMeta("colour", "red"))
	assert.ErrorIs(t, err, ErrBadK)
	_, err = ix.SearchFiltered(context.Background(), make([]float32, d+1), 3, WithMeta("colour", "red"))
	assert.ErrorIs(t, err, ErrDimMismatch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ix.SearchFiltered(ctx, query(), 3, WithMeta("colour", "red"))
	assert.ErrorIs(t, err, context.Canceled)
	empty, err := NewIndex(d)
	require.NoError(t, err)
	_, err = empty.SearchFiltered(context.Background(), query(), 3, WithMeta("colour", "red"))
	assert.ErrorIs(t, err, ErrEmptyIndex)
}

// TestEachMatchingErrors: EachMatching stops with the context's error, once ctx ends before
// or during the filter's pass (which checks it every 16,384 items); on a closed index it
// (a mapped one) returns ErrIndexClosed; a panic in the filter reaches the caller, and the index stays
// usable.
func TestEachMatchingErrors(t *testing.T) {
	const d = 2
	ix, err := NewIndex(d)
	require.NoError(t, err)
	items := make([]Item, 40000)
	for i := range items {
		items[i] = Item{ID: fmt.Sprint("p", i), Vector: []float32{float32(i), 1}}
	}
	require.NoError(t, ix.Add(items...))
	count := func(int) {}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, ix.EachMatching(ctx, count), context.Canceled)
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	stop := WithFilter(func(string, map[string]string) bool {
		calls++
		if calls == 100 {
			cancel()
		}
		return true
	})
	assert.ErrorIs(t, ix.EachMatching(ctx, count, stop), context.Canceled)
	assert.Equal(t, 16384, calls, "stopped at the first check after the cancel")
	boom := WithFilter(func(id string, _ map[string]string) bool {
		if id == "p30000" {
			panic("boom")
		}
		return false
	})
	assert.PanicsWithValue(t, "boom", func() { _ = ix.EachMatching(context.Background(), count, boom) })
	rows := 0
	require.NoError(t, ix.EachMatching(context.Background(), func(int) { rows++ }))
	assert.Equal(t, len(items), rows, "no filter: every row")
	path := filepath.Join(t.TempDir(), "ix")
	require.NoError(t, ix.Save(path))
	mapped, err := Load(path, WithMmap())
	require.NoError(t, err)
	require.NoError(t, mapped.Close())
	assert.ErrorIs(t, mapped.EachMatching(context.Background(), count), ErrIndexClosed)
}

// TestSearchFilteredConcurrent runs filtered searches (which build the inverted lists) while
// Add and Remove change the index (which drop them): run with -race.
func TestSearchFilteredConcurrent(t *testing.T) {
	const d = 4
	ix := postingsIndex(t, 300, d)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			id := fmt.Sprint("x", i)
			assert.NoError(t, ix.Add(Item{ID: id, Vector: make([]float32, d), Meta: map[string]string{"colour": "red"}}))
			if i%2 == 1 {
				assert.NoError(t, ix.Remove(id))
			}
		}
	}()
	for range 200 {
		res, err := ix.SearchFiltered(ctx, make([]float32, d), 5, WithMeta("colour", "red"))
		require.NoError(t, err)
		for _, r := range res {
			assert.Equal(t, "red", r.Meta["colour"])
		}
		_, _ = ix.CountMatching(WithMeta("shard", "1"))
	}
	<-done
	checkFiltered(t, ix, make([]float32, d), 10, WithMeta("colour", "red"))
}
