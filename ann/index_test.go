package ann

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// recallBound is what a working graph must reach on the test data at the default efSearch;
// TestRecallBoundCatchesBrokenGraph shows broken graphs fall below it.
const recallBound = 0.9

// cloneExact copies an exact index (the ANN index takes ownership of the one it builds on).
func cloneExact(t testing.TB, ix *pinrec.Index) *pinrec.Index {
	t.Helper()
	c, err := pinrec.NewIndex(ix.Dim())
	require.NoError(t, err)
	for _, id := range ix.IDs() {
		it, err := ix.Get(id)
		require.NoError(t, err)
		require.NoError(t, c.Add(it))
	}
	return c
}

func TestRecallAgainstExact(t *testing.T) {
	n := 4000 / raceScale
	exact, qs := testData(t, 1, n, 100, 128)
	for _, codec := range []string{CodecSQ8, CodecPCASQ8, CodecNone} {
		t.Run(codec, func(t *testing.T) {
			var calls, last int
			a, err := Build(context.Background(), cloneExact(t, exact), WithCodec(codec), WithWorkers(2),
				WithProgress(func(done, total int) { calls++; last = done; require.Equal(t, n, total) }))
			require.NoError(t, err)
			assert.Equal(t, n, last, "progress ends at the total")
			assert.LessOrEqual(t, calls, 101)
			r := recallAt10(t, a, exact, qs)
			t.Logf("%s: recall@10 %.3f (default ef %s)", codec, r, a.Stats()["ef_search"])
			assert.GreaterOrEqual(t, r, recallBound)
			// More effort does not find fewer.
			r2 := recallAt10(t, a, exact, qs, pinrec.WithEffort(256))
			t.Logf("%s: recall@10 %.3f (ef 256)", codec, r2)
			assert.GreaterOrEqual(t, r2, 0.97)
			// Distances are exact: they equal the oracle's for the same IDs.
			got, err := a.Search(context.Background(), qs[0], 5)
			require.NoError(t, err)
			for _, res := range got {
				it, err := exact.Get(res.ID)
				require.NoError(t, err)
				one, err := exact.SearchAmong(context.Background(), qs[0], []string{res.ID}, 1)
				require.NoError(t, err)
				assert.Equal(t, one[0].Distance, res.Distance)
				assert.Equal(t, it.Meta, res.Meta)
			}
		})
	}
}

// breakGraph damages a's level-0 links: keep leaves each node only its first kept links.
func breakGraph(a *Index, kept int) {
	g := a.g
	g.widenLinks()
	for i := 0; i < g.n; i++ {
		ln := g.links(uint32(i), 0)
		ln[0] = uint32(min(int(ln[0]), kept))
	}
}

// TestRecallBoundCatchesBrokenGraph proves the recall assertion can fail: a graph whose
// level-0 lists are cut to one link, or whose links were never made, falls below recallBound.
func TestRecallBoundCatchesBrokenGraph(t *testing.T) {
	exact, qs := testData(t, 1, 4000/raceScale, 100, 128)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2), WithEfSearch(DefaultEfSearch))
	require.NoError(t, err)
	a.graphOnly = true // else the exact fall-back makes up for the missing links
	breakGraph(a, 1)
	r := recallAt10(t, a, exact, qs)
	t.Logf("level-0 lists cut to 1 link: recall@10 %.3f", r)
	assert.Less(t, r, recallBound)
	breakGraph(a, 0)
	for i := 0; i < a.g.n; i++ {
		for l := 1; l <= int(a.g.levels[i]); l++ {
			a.g.links(uint32(i), l)[0] = 0
		}
	}
	r = recallAt10(t, a, exact, qs)
	t.Logf("no links: recall@10 %.3f", r)
	assert.Less(t, r, recallBound)
}

func TestRemoveAndReAdd(t *testing.T) {
	exact, qs := testData(t, 2, 2000, 50, 64)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2))
	require.NoError(t, err)
	ctx := context.Background()

	// Remove the entry point and then a third of the items: results never hold a removed ID,
	// and recall against an exact index of what is left stays up.
	entryID := a.ids[a.g.entry]
	require.NoError(t, a.Remove(entryID))
	require.NoError(t, exact.Remove(entryID))
	var gone []string
	for i := 0; i < 2000; i += 3 {
		id := fmt.Sprintf("p%d", i)
		if id != entryID {
			gone = append(gone, id)
		}
	}
	require.NoError(t, a.Remove(gone...))
	require.NoError(t, exact.Remove(gone...))
	assert.Equal(t, exact.Len(), a.Len())
	err = a.Remove("p0", "no-such-id")
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	r := recallAt10(t, a, exact, qs)
	t.Logf("after removing the entry point and a third: recall@10 %.3f", r)
	assert.GreaterOrEqual(t, r, recallBound)

	// Re-adding a removed ID and replacing a present one do not panic; the item is found at
	// its new vector.
	it, err := exact.Get("p1")
	require.NoError(t, err)
	require.NoError(t, a.Add(pinrec.Item{ID: "p0", Vector: it.Vector}))                                   // removed before
	require.NoError(t, a.Add(pinrec.Item{ID: "p1", Vector: qs[0]}))                                       // replaced
	require.NoError(t, a.Add(pinrec.Item{ID: "p1", Vector: qs[0]}, pinrec.Item{ID: "p1", Vector: qs[1]})) // the later wins
	res, err := a.Search(ctx, qs[1], 1)
	require.NoError(t, err)
	assert.Equal(t, "p1", res[0].ID)
	assert.InDelta(t, 0, res[0].Distance, 1e-6)
	res, err = a.Search(ctx, it.Vector, 2)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"p0"}, []string{res[0].ID})

	// Remove everything: searches say the index is empty, and adding brings it back.
	require.NoError(t, a.Remove(a.IDs()...))
	assert.Equal(t, 0, a.Len())
	_, err = a.Search(ctx, qs[0], 3)
	assert.ErrorIs(t, err, pinrec.ErrEmptyIndex)
	require.NoError(t, a.Add(pinrec.Item{ID: "back", Vector: qs[2]}, pinrec.Item{ID: "again", Vector: qs[3]}))
	res, err = a.Search(ctx, qs[2], 5)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "back", res[0].ID)
}

func TestSearchOptionsAndErrors(t *testing.T) {
	exact, qs := testData(t, 3, 1500, 20, 64)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(1))
	require.NoError(t, err)
	ctx := context.Background()

	// A filter: results pass it, and match the exact filtered search.
	for _, q := range qs[:5] {
		got, err := a.Search(ctx, q, 10, pinrec.WithMeta("shard", "1"))
		require.NoError(t, err)
		want, err := exact.Search(ctx, q, 10, pinrec.WithMeta("shard", "1"))
		require.NoError(t, err)
		require.Len(t, got, 10)
		for _, r := range got {
			assert.Equal(t, "1", r.Meta["shard"])
		}
		assert.Equal(t, want[0].ID, got[0].ID)
	}
	// A filter only a handful pass: the exact fall-back finds them all.
	rare := func(id string, _ map[string]string) bool { return id == "p7" || id == "p900" }
	got, err := a.Search(ctx, qs[0], 10, pinrec.WithFilter(rare))
	require.NoError(t, err)
	ids := []string{got[0].ID, got[1].ID}
	slices.Sort(ids)
	assert.Equal(t, []string{"p7", "p900"}, ids)

	// Similar leaves the item out.
	sim, err := a.Similar(ctx, "p5", 5)
	require.NoError(t, err)
	require.Len(t, sim, 5)
	for _, r := range sim {
		assert.NotEqual(t, "p5", r.ID)
	}
	_, err = a.Similar(ctx, "nope", 5)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)

	_, err = a.Search(ctx, qs[0], 0)
	assert.ErrorIs(t, err, pinrec.ErrBadK)
	_, err = a.Search(ctx, qs[0][:10], 3)
	assert.ErrorIs(t, err, pinrec.ErrDimMismatch)
	bad := slices.Clone(qs[0])
	bad[3] = float32(nanValue())
	_, err = a.Search(ctx, bad, 3)
	assert.ErrorIs(t, err, pinrec.ErrNonFinite)
	err = a.Add(pinrec.Item{ID: "", Vector: qs[0]})
	assert.ErrorIs(t, err, pinrec.ErrEmptyID)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = a.Search(cctx, qs[0], 3)
	assert.True(t, errors.Is(err, context.Canceled))

	batch, err := a.SearchBatch(ctx, qs[:3], 4)
	require.NoError(t, err)
	for i := range batch {
		one, err := a.Search(ctx, qs[i], 4)
		require.NoError(t, err)
		assert.Equal(t, one, batch[i])
	}

	for _, bad := range []Option{WithM(1), WithM(MaxM + 1), WithEfSearch(0), WithEfConstruction(MaxEf + 1), WithCodec("pq"), WithRerank(-1)} {
		_, err := New(8, bad)
		assert.ErrorIs(t, err, ErrBadOption)
	}
	st := a.Stats()
	assert.Equal(t, "hnsw", st["kind"])
	assert.Equal(t, fmt.Sprint(DefaultM), st["m"])
	assert.Equal(t, "sq8", st["codec"])
	assert.NotEmpty(t, st["memory_bytes"])
}

// TestConcurrentSearchAndAdd runs searches while items are added and removed (run it with
// -race): no error, and every result is an item that was present at some point.
func TestConcurrentSearchAndAdd(t *testing.T) {
	exact, qs := testData(t, 4, 1200, 20, 32)
	all := exact.IDs()
	first := cloneExact(t, exact)
	require.NoError(t, first.Remove(all[800:]...))
	a, err := Build(context.Background(), first, WithWorkers(2))
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Go(func() {
			for i := 0; i < 60; i++ {
				res, err := a.Search(ctx, qs[(i+w)%len(qs)], 5)
				assert.NoError(t, err)
				for _, r := range res {
					assert.True(t, exact.Has(r.ID), r.ID)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 800; i < 1200; i += 20 {
			var items []pinrec.Item
			for _, id := range all[i : i+20] {
				it, err := exact.Get(id)
				assert.NoError(t, err)
				items = append(items, it)
			}
			assert.NoError(t, a.Add(items...))
			assert.NoError(t, a.Remove(all[i-800]))
		}
	})
	wg.Wait()
	assert.Equal(t, 1200-20, a.Len())
}

// TestNewThenAdd builds through Add alone, from an empty index.
func TestNewThenAdd(t *testing.T) {
	exact, qs := testData(t, 5, 1000, 30, 48)
	a, err := New(48, WithWorkers(2))
	require.NoError(t, err)
	_, err = a.Search(context.Background(), qs[0], 3)
	assert.ErrorIs(t, err, pinrec.ErrEmptyIndex)
	ids := exact.IDs()
	for lo := 0; lo < len(ids); lo += 250 {
		var items []pinrec.Item
		for _, id := range ids[lo : lo+250] {
			it, err := exact.Get(id)
			require.NoError(t, err)
			items = append(items, it)
		}
		require.NoError(t, a.Add(items...))
	}
	r := recallAt10(t, a, exact, qs)
	t.Logf("built by Add: recall@10 %.3f", r)
	assert.GreaterOrEqual(t, r, recallBound)
}
