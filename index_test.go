package pinrec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec/internal/idtable"
)

func TestIndexNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		dim  int
		opts []IndexOption
		err  error
	}{
		{"dim 1", 1, nil, nil},
		{"with capacity", 8, []IndexOption{WithCapacity(100)}, nil},
		{"nil option", 8, []IndexOption{nil}, nil},
		{"huge capacity ignored", 8, []IndexOption{WithCapacity(math.MaxInt)}, nil},
		{"zero dim", 0, nil, ErrBadDim},
		{"negative dim", -5, nil, ErrBadDim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := NewIndex(tc.dim, tc.opts...)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, ix)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.dim, ix.Dim())
			assert.Zero(t, ix.Len())
			assert.Empty(t, ix.IDs())
			require.NoError(t, ix.checkLayout())
		})
	}
}

func TestIndexAddGetReplace(t *testing.T) {
	ix, err := NewIndex(2)
	require.NoError(t, err)
	meta := map[string]string{"path": "a.jpg"}
	vec := []float32{1, 2}
	require.NoError(t, ix.Add(Item{ID: "a", Vector: vec, Meta: meta}, Item{ID: "b", Vector: []float32{3, 4}}))
	vec[0], meta["path"] = 99, "changed" // the index keeps its own copies
	got, err := ix.Get("a")
	require.NoError(t, err)
	assert.Equal(t, Item{ID: "a", Vector: []float32{1, 2}, Meta: map[string]string{"path": "a.jpg"}}, got)
	got.Vector[1], got.Meta["path"] = -1, "mutated" // and hands out copies
	again, _ := ix.Get("a")
	assert.Equal(t, []float32{1, 2}, again.Vector)
	assert.Equal(t, "a.jpg", again.Meta["path"])

	// Replacing keeps the position; within one call the last item with an ID wins.
	require.NoError(t, ix.Add(Item{ID: "c", Vector: []float32{5, 6}}, Item{ID: "a", Vector: []float32{7, 8}},
		Item{ID: "c", Vector: []float32{9, 9}}))
	assert.Equal(t, []string{"a", "b", "c"}, ix.IDs())
	got, _ = ix.Get("a")
	assert.Equal(t, []float32{7, 8}, got.Vector)
	assert.Nil(t, got.Meta, "replacing drops the old metadata")
	got, _ = ix.Get("c")
	assert.Equal(t, []float32{9, 9}, got.Vector)
	assert.Equal(t, 3, ix.Len())
	assert.True(t, ix.Has("b"))
	assert.False(t, ix.Has("zz"))
	require.NoError(t, ix.checkLayout())

	_, err = ix.Get("zz")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `get "zz": pinrec: id not found`)
}

// TestIndexAddRejectsBadItems: one bad item rejects the whole call and leaves the index as it was.
func TestIndexAddRejectsBadItems(t *testing.T) {
	ix, err := NewIndex(3)
	require.NoError(t, err)
	require.NoError(t, ix.Add(Item{ID: "keep", Vector: []float32{1, 1, 1}}))
	good := Item{ID: "new", Vector: []float32{0, 0, 0}}
	for _, tc := range []struct {
		name string
		bad  Item
		err  error
		msg  string
	}{
		{"short", Item{ID: "x", Vector: []float32{1}}, ErrDimMismatch, `add "x": length 1, index dimension 3: pinrec: dimension mismatch`},
		{"nil vector", Item{ID: "x"}, ErrDimMismatch, ""},
		{"NaN", Item{ID: "x", Vector: []float32{0, float32(math.NaN()), 0}}, ErrNonFinite, ""},
		{"+Inf", Item{ID: "x", Vector: []float32{0, 0, float32(math.Inf(1))}}, ErrNonFinite, `add "x": element 2 is +Inf: pinrec: non-finite value`},
		{"empty id", Item{Vector: []float32{0, 0, 0}}, ErrEmptyID, "add: item 1: pinrec: empty id"},
		{"replacing with NaN", Item{ID: "keep", Vector: []float32{float32(math.NaN()), 0, 0}}, ErrNonFinite, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ix.Add(good, tc.bad)
			require.ErrorIs(t, err, tc.err)
			if tc.msg != "" {
				assert.EqualError(t, err, tc.msg)
			}
			assert.Equal(t, []string{"keep"}, ix.IDs())
			got, _ := ix.Get("keep")
			assert.Equal(t, []float32{1, 1, 1}, got.Vector)
		})
	}
	require.NoError(t, ix.Add()) // nothing to add is fine
}

func TestIndexRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	ix, vecs := newRandIndex(t, rng, 10, 3)
	require.NoError(t, ix.Remove("id0", "id4", "id9", "id4"))
	assert.Equal(t, []string{"id1", "id2", "id3", "id5", "id6", "id7", "id8"}, ix.IDs())
	require.NoError(t, ix.checkLayout())
	for _, id := range ix.IDs() {
		var r int
		fmt.Sscanf(id, "id%d", &r)
		got, err := ix.Get(id)
		require.NoError(t, err)
		assert.Equal(t, vecs[r], got.Vector, id)
		assert.Equal(t, fmt.Sprint(r), got.Meta["n"], id)
	}
	// An unknown ID removes nothing.
	err := ix.Remove("id1", "nope")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `remove "nope": pinrec: id not found`)
	assert.Equal(t, 7, ix.Len())
	require.NoError(t, ix.Remove())
	// Remove everything, then use the index again.
	require.NoError(t, ix.Remove(ix.IDs()...))
	assert.Zero(t, ix.Len())
	_, err = ix.Search(context.Background(), []float32{0, 0, 0}, 1)
	require.ErrorIs(t, err, ErrEmptyIndex)
	require.NoError(t, ix.Add(Item{ID: "id1", Vector: []float32{1, 2, 3}}))
	res, err := ix.Search(context.Background(), []float32{1, 2, 3}, 5)
	require.NoError(t, err)
	assert.Equal(t, []Result{{ID: "id1"}}, res)
	require.NoError(t, ix.checkLayout())
}

// TestIndexRemoveReleasesMemory: removing most rows of a large index gives memory back.
func TestIndexRemoveReleasesMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	ix, _ := newRandIndex(t, rng, 3000, 512)
	ids := ix.IDs()
	require.NoError(t, ix.Remove(ids[:2900]...))
	assert.Equal(t, ids[2900:], ix.IDs())
	assert.LessOrEqual(t, cap(ix.vectors), 2*len(ix.vectors))
	require.NoError(t, ix.checkLayout())
}

func TestIndexInfo(t *testing.T) {
	ix, err := NewIndex(4)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{}, ix.Info())
	ix.SetInfo("model", "resnet50")
	ix.SetInfo("weights", "imagenet")
	ix.SetInfo("weights", "")
	info := ix.Info()
	assert.Equal(t, map[string]string{"model": "resnet50"}, info)
	info["model"] = "changed"
	assert.Equal(t, "resnet50", ix.Info()["model"])
}

// fakeMapping records Close calls; it stands for the memory mapping of a loaded index.
type fakeMapping struct {
	closed int
	err    error
}

func (m *fakeMapping) Close() error { m.closed++; return m.err }

// TestIndexReadOnly builds a read-only, "mapped" index from its fields, as the loader does.
func TestIndexReadOnly(t *testing.T) {
	ctx := context.Background()
	m := &fakeMapping{err: errors.New("munmap failed")}
	ix := &Index{
		dim:      2,
		vectors:  []float32{0, 0, 3, 4},
		ids:      []string{"o", "p"},
		meta:     []map[string]string{nil, {"k": "v"}},
		pos:      tableOf("o", "p"),
		mapping:  m,
		readOnly: true,
	}
	require.NoError(t, ix.checkLayout())
	require.ErrorIs(t, ix.Add(Item{ID: "q", Vector: []float32{1, 1}}), ErrReadOnly)
	require.ErrorIs(t, ix.Remove("o"), ErrReadOnly)
	res, err := ix.Similar(ctx, "o", 1)
	require.NoError(t, err)
	assert.Equal(t, []Result{{ID: "p", Distance: 5, Meta: map[string]string{"k": "v"}}}, res)

	err = ix.Close()
	require.ErrorContains(t, err, "munmap failed")
	assert.Equal(t, 1, m.closed)
	require.NoError(t, ix.Close(), "a second Close does nothing")
	assert.Equal(t, 1, m.closed)
	_, err = ix.Search(ctx, []float32{0, 0}, 1)
	require.ErrorIs(t, err, ErrIndexClosed)
	_, err = ix.Get("o")
	require.ErrorIs(t, err, ErrIndexClosed)
	require.ErrorIs(t, ix.Add(Item{ID: "q", Vector: []float32{1, 1}}), ErrIndexClosed)
	assert.Zero(t, ix.Len())
	assert.False(t, ix.Has("o"))

	// Close on an ordinary index is a no-op.
	plain, err := NewIndex(2)
	require.NoError(t, err)
	require.NoError(t, plain.Close())
	require.NoError(t, plain.Add(Item{ID: "a", Vector: []float32{1, 1}}))
}

func TestIndexCheckLayout(t *testing.T) {
	good := func() *Index {
		return &Index{dim: 1, vectors: []float32{1, 2}, ids: []string{"a", "b"},
			meta: make([]map[string]string, 2), pos: tableOf("a", "b")}
	}
	require.NoError(t, good().checkLayout())
	for _, tc := range []struct {
		name  string
		spoil func(*Index)
	}{
		{"zero dim", func(ix *Index) { ix.dim = 0 }},
		{"short vectors", func(ix *Index) { ix.vectors = ix.vectors[:1] }},
		{"short meta", func(ix *Index) { ix.meta = ix.meta[:1] }},
		{"wrong pos", func(ix *Index) { ix.pos.Move("a", 0, 1, ix.ids) }},
		{"duplicate id", func(ix *Index) { ix.pos = tableOf("a", "x"); ix.ids[1] = "a" }},
		{"empty id", func(ix *Index) { ix.pos = tableOf("", "b"); ix.ids[0] = "" }},
		{"missing id", func(ix *Index) { ix.pos.Delete("b", ix.ids) }},
		{"NaN", func(ix *Index) { ix.vectors[1] = float32(math.NaN()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := good()
			tc.spoil(ix)
			require.Error(t, ix.checkLayout())
		})
	}
}

// tableOf returns the position table of ids (ids[i] at i).
func tableOf(ids ...string) idtable.Table {
	var t idtable.Table
	for i, id := range ids {
		t.Add(id, i, ids)
	}
	return t
}
