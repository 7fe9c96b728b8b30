//go:build cluster

package weaviate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	wv "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate/entities/models"

	"pinrec"
)

// testItems returns n items of dimension dim with clustered vectors and metadata: label
// (i%5), parity, and a key holding separators.
func testItems(n, dim int, seed uint64) []pinrec.Item {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float32, 8)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(r.NormFloat64() * 3)
		}
	}
	items := make([]pinrec.Item, n)
	for i := range items {
		v := make([]float32, dim)
		c := centres[r.IntN(len(centres))]
		for j := range v {
			v[j] = c[j] + float32(r.NormFloat64())
		}
		items[i] = pinrec.Item{
			ID:     fmt.Sprintf("img/%04d.jpg", i),
			Vector: v,
			Meta:   map[string]string{"label": fmt.Sprint(i % 5), "parity": []string{"even", "odd"}[i%2], "a=b c": fmt.Sprintf("x&%d", i%3)},
		}
	}
	return items
}

// sameResults asserts that got equals the exact results want: same IDs in the same order
// (up to swaps of equal distances), distances within float32 rounding, same metadata.
func sameResults(t *testing.T, want, got []pinrec.Result, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		assert.InDelta(t, want[i].Distance, got[i].Distance, 1e-3*max(1, float64(want[i].Distance)), "%s: rank %d", msg, i)
		if want[i].ID != got[i].ID {
			assert.InDelta(t, want[i].Distance, got[i].Distance, 1e-4, "%s: rank %d: %s vs %s", msg, i, want[i].ID, got[i].ID)
			continue
		}
		assert.Equal(t, want[i].Meta, got[i].Meta, "%s: rank %d", msg, i)
	}
}

// TestStoreAgreesWithIndex fills a collection replicated on the three nodes and an exact
// pinrec.Index with the same items and checks that every operation answers alike.
func TestStoreAgreesWithIndex(t *testing.T) {
	ctx := context.Background()
	const n, dim, k = 300, 24, 10
	items := testItems(n, dim, 1)
	ix, err := pinrec.NewIndex(dim)
	require.NoError(t, err)
	require.NoError(t, ix.Add(items...))

	url := clusterURL(t)
	// Writes at ALL: a search runs on the shard replica of the node that coordinates it, which
	// may not have applied a write acknowledged at QUORUM yet.
	s, err := Open(ctx, url, WithDim(dim), WithReplication(3), WithBatchSize(64), WithWriteConsistency(All))
	require.NoError(t, err)
	defer s.Drop(ctx)
	defer s.Close()
	require.NoError(t, s.Add(items...))
	// ef above the item count makes HNSW visit every reachable item: exact answers to compare.
	require.NoError(t, s.SetEf(ctx, 512))

	assert.Equal(t, n, s.Len())
	assert.Equal(t, dim, s.Dim())
	ids := s.IDs()
	assert.ElementsMatch(t, ix.IDs(), ids)

	got, err := s.Get(items[7].ID)
	require.NoError(t, err)
	assert.Equal(t, items[7], got, "vector and metadata come back bit for bit")
	assert.True(t, s.Has(items[7].ID))
	assert.False(t, s.Has("missing.jpg"))
	_, err = s.Get("missing.jpg")
	assert.ErrorIs(t, err, pinrec.ErrNotFound)

	r := rand.New(rand.NewPCG(2, 2))
	queries := make([][]float32, 12)
	for i := range queries {
		q := slices.Clone(items[r.IntN(n)].Vector)
		for j := range q {
			q[j] += float32(r.NormFloat64() * 0.5)
		}
		queries[i] = q
	}
	selective := func(id string, meta map[string]string) bool { return id[len(id)-5] == '7' } // 1 in 10
	searches := []struct {
		name string
		opts []pinrec.SearchOption
	}{
		{"plain", nil},
		{"meta one key", []pinrec.SearchOption{pinrec.WithMeta("label", "3")}},
		{"meta two keys, two values", []pinrec.SearchOption{pinrec.WithMeta("label", "1", "2"), pinrec.WithMeta("a=b c", "x&0")}},
		{"meta no match", []pinrec.SearchOption{pinrec.WithMeta("label", "nope")}},
		{"meta no values", []pinrec.SearchOption{pinrec.WithMeta("label")}},
		{"go filter, over-fetch grows", []pinrec.SearchOption{pinrec.WithFilter(selective)}},
		{"go filter and meta", []pinrec.SearchOption{pinrec.WithFilter(selective), pinrec.WithMeta("parity", "odd")}},
	}
	for _, c := range searches {
		t.Run(c.name, func(t *testing.T) {
			want, err := ix.SearchBatch(ctx, queries, k, c.opts...)
			require.NoError(t, err)
			got, err := s.SearchBatch(ctx, queries, k, c.opts...)
			require.NoError(t, err)
			for i := range queries {
				sameResults(t, want[i], got[i], fmt.Sprintf("batch query %d", i))
			}
			one, err := s.Search(ctx, queries[0], k, c.opts...)
			require.NoError(t, err)
			sameResults(t, want[0], one, "search")
			wantSim, err := ix.Similar(ctx, items[5].ID, k, c.opts...)
			require.NoError(t, err)
			gotSim, err := s.Similar(ctx, items[5].ID, k, c.opts...)
			require.NoError(t, err)
			sameResults(t, wantSim, gotSim, "similar")
			for _, res := range gotSim {
				assert.NotEqual(t, items[5].ID, res.ID)
			}
		})
	}
	_, err = s.Similar(ctx, "missing.jpg", k)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	_, err = s.Search(ctx, queries[0][:dim-1], k)
	assert.ErrorIs(t, err, pinrec.ErrDimMismatch)
	_, err = s.Search(ctx, queries[0], 0)
	assert.ErrorIs(t, err, pinrec.ErrBadK)

	// Replacing an item moves it: its own vector now finds it first.
	moved := pinrec.Item{ID: items[0].ID, Vector: slices.Clone(items[1].Vector), Meta: map[string]string{"label": "moved"}}
	moved.Vector[0] += 0.001
	require.NoError(t, s.Add(moved))
	require.NoError(t, ix.Add(moved))
	res, err := s.Search(ctx, moved.Vector, 1, pinrec.WithMeta("label", "moved"))
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, moved.ID, res[0].ID)
	assert.Equal(t, n, s.Len(), "a replaced item is not a new one")

	// Invalid items: nothing is sent.
	bad := []pinrec.Item{{ID: "new.jpg", Vector: make([]float32, dim)}, {ID: "short.jpg", Vector: make([]float32, dim-1)}}
	assert.ErrorIs(t, s.Add(bad...), pinrec.ErrDimMismatch)
	assert.False(t, s.Has("new.jpg"))
	assert.ErrorIs(t, s.Add(pinrec.Item{Vector: make([]float32, dim)}), pinrec.ErrEmptyID)

	// Remove: known IDs go, an unknown one is reported by name.
	err = s.Remove(items[10].ID, "missing.jpg", items[11].ID)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	assert.Equal(t, []string{"missing.jpg"}, be.IDs())
	assert.False(t, s.Has(items[10].ID))
	assert.False(t, s.Has(items[11].ID))
	require.NoError(t, ix.Remove(items[10].ID, items[11].ID))
	assert.Equal(t, n-2, s.Len())
	want, err := ix.Search(ctx, items[10].Vector, k)
	require.NoError(t, err)
	got2, err := s.Search(ctx, items[10].Vector, k)
	require.NoError(t, err)
	sameResults(t, want, got2, "after remove")

	// Info survives a reopen, which also finds the dimension without being told.
	s.SetInfo("model", "resnet50")
	s.SetInfo("weights", "random seed 0")
	s.SetInfo("weights", "")
	require.NoError(t, s.Close())
	s2, err := Open(ctx, url, WithConsistency(All))
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, map[string]string{"model": "resnet50"}, s2.Info())
	assert.Equal(t, dim, s2.Dim())
	st := s2.Stats()
	assert.Equal(t, "3", st["replication_factor"])
	assert.Contains(t, st["nodes"], "weaviate-2:HEALTHY")
	assert.Equal(t, "l2-squared", st["distance"])

	_, err = Open(ctx, url, WithDim(dim+1))
	assert.ErrorIs(t, err, pinrec.ErrDimMismatch)
	_, err = Open(ctx, url, WithReplication(1))
	assert.ErrorIs(t, err, ErrCollectionMismatch)
	_, err = s.Search(ctx, queries[0], k)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no collection", func(t *testing.T) {
		_, err := Open(ctx, clusterURL(t))
		assert.ErrorIs(t, err, ErrNoCollection)
	})
	t.Run("cosine collection", func(t *testing.T) {
		url := clusterURL(t)
		tg, err := ParseURL(url)
		require.NoError(t, err)
		c, err := wv.NewClient(wv.Config{Host: tg.Hosts[0], Scheme: "http"})
		require.NoError(t, err)
		require.NoError(t, c.Schema().ClassCreator().WithClass(&models.Class{
			Class: tg.Collection, Vectorizer: "none",
			Properties: []*models.Property{textProp(propID, false), textProp(propMeta, true)},
		}).Do(ctx))
		defer c.Schema().ClassDeleter().WithClassName(tg.Collection).Do(ctx)
		_, err = Open(ctx, url)
		assert.ErrorIs(t, err, ErrCollectionMismatch)
		assert.Contains(t, err.Error(), "cosine")
	})
	t.Run("bad options", func(t *testing.T) {
		_, err := Open(ctx, clusterURL(t), WithConsistency("TWO"))
		assert.Error(t, err)
		assert.False(t, errors.Is(err, ErrUnreachable))
	})
}

// TestPushPull copies an index into a collection and back: the same items, vectors, metadata
// and info.
func TestPushPull(t *testing.T) {
	ctx := context.Background()
	const n, dim = 450, 8
	src, err := pinrec.NewIndex(dim)
	require.NoError(t, err)
	items := testItems(n, dim, 5)
	require.NoError(t, src.Add(items...))
	src.SetInfo("model", "resnet50 (random weights, seed 0)")

	url := clusterURL(t)
	dst, err := Open(ctx, url, WithDim(dim), WithReplication(3), WithBatchSize(100), WithWriteConsistency(All))
	require.NoError(t, err)
	defer dst.Drop(ctx)
	var calls int
	require.NoError(t, Push(ctx, src, dst, func(done, total int) { calls++ }))
	assert.Equal(t, 5, calls, "one progress call per batch of 100")
	assert.Equal(t, n, dst.Len())
	assert.Equal(t, src.Info(), dst.Info())

	back, err := pinrec.NewIndex(dim)
	require.NoError(t, err)
	require.NoError(t, Pull(ctx, dst, back, nil))
	assert.ElementsMatch(t, src.IDs(), back.IDs())
	for _, it := range items {
		got, err := back.Get(it.ID)
		require.NoError(t, err)
		assert.Equal(t, it, got)
	}
	assert.Equal(t, src.Info(), back.Info())
}

// TestUnreplicated: a collection with replication factor 1 (GraphQL then has no
// consistencyLevel argument) searches like any other.
func TestUnreplicated(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, clusterURL(t), WithDim(2), WithReplication(1))
	require.NoError(t, err)
	defer s.Drop(ctx)
	require.NoError(t, s.Add(
		pinrec.Item{ID: "a", Vector: []float32{0, 0}},
		pinrec.Item{ID: "b", Vector: []float32{3, 4}},
		pinrec.Item{ID: "c", Vector: []float32{6, 8}, Meta: map[string]string{"k": "v"}},
	))
	res, err := s.Similar(ctx, "a", 2)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "b", res[0].ID)
	assert.InDelta(t, 5, res[0].Distance, 1e-5)
	assert.Equal(t, "c", res[1].ID)
	assert.InDelta(t, 10, res[1].Distance, 1e-5)
	res, err = s.Search(ctx, []float32{0, 0}, 5, pinrec.WithMeta("k", "v"))
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, map[string]string{"k": "v"}, res[0].Meta)
}
