package ann

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// answers returns a's results for each query at each effort (graph only: the exact fall-back
// of a filtered or small search would hide the graph's answers).
func answers(t *testing.T, a *Index, qs [][]float32) [][]pinrec.Result {
	t.Helper()
	var out [][]pinrec.Result
	for _, ef := range []int{10, 40, 120} {
		for _, q := range qs {
			res, err := a.Search(context.Background(), q, 10, pinrec.WithEffort(ef))
			require.NoError(t, err)
			out = append(out, res)
		}
	}
	return out
}

// TestNarrowLinks: a graph of at most narrowMax nodes keeps its level-0 lists in 16-bit slots
// at rest and answers exactly as with 32-bit ones; the file is the same either way; inserts
// widen the lists, and Load and Compact narrow them again while the node numbers fit.
func TestNarrowLinks(t *testing.T) {
	exact, qs := testData(t, 7, 600, 40, 24)
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2), WithEfSearch(40))
	require.NoError(t, err)
	a.graphOnly = true
	g := a.g
	require.NotNil(t, g.narrow, "built with 600 nodes")
	require.Nil(t, g.links0)
	assert.Equal(t, "2", a.Stats()["link_bytes"])
	narrowBytes := a.memoryBytes()
	narrowAns := answers(t, a, qs)
	narrowFile := a.Marshal()

	slots := len(g.narrow)
	g.widenLinks()
	require.Nil(t, g.narrow)
	assert.Equal(t, "4", a.Stats()["link_bytes"])
	assert.Equal(t, narrowAns, answers(t, a, qs), "the same graph, wide")
	assert.Equal(t, narrowFile, a.Marshal(), "the file does not depend on the width")
	assert.Equal(t, slots, len(g.links0))
	assert.Equal(t, int64(4*cap(g.links0)-2*slots), a.memoryBytes()-narrowBytes, "by count")

	b, err := Unmarshal(narrowFile, cloneExact(t, exact))
	require.NoError(t, err)
	b.graphOnly = true
	require.NotNil(t, b.g.narrow, "loaded")
	assert.Equal(t, narrowAns, answers(t, b, qs), "loaded")

	// An insert widens the lists; Compact narrows them again.
	require.NoError(t, b.Add(pinrec.Item{ID: "extra", Vector: qs[0]}))
	require.Nil(t, b.g.narrow, "after Add")
	res, err := b.Search(context.Background(), qs[0], 1)
	require.NoError(t, err)
	assert.Equal(t, "extra", res[0].ID)
	require.NoError(t, b.Remove("extra"))
	b.Compact()
	require.NotNil(t, b.g.narrow, "compacted")
	assert.GreaterOrEqual(t, recallAt10(t, b, exact, qs), recallBound)
}

// TestNarrowLinksCrossTheLimit grows a narrow graph past narrowMax nodes (lowered for the
// test) and shrinks it back: the lists stay wide while a node number would not fit in 16
// bits, narrow once they all do, and recall holds throughout.
func TestNarrowLinksCrossTheLimit(t *testing.T) {
	defer func(v int) { narrowMax = v }(narrowMax)
	narrowMax = 700
	exact, qs := testData(t, 8, 1000, 40, 24)
	ids := exact.IDs()
	first := cloneExact(t, exact)
	require.NoError(t, first.Remove(ids[600:]...))
	a, err := Build(context.Background(), first, WithWorkers(2), WithEfSearch(40))
	require.NoError(t, err)
	require.NotNil(t, a.g.narrow, "600 nodes")

	more := make([]pinrec.Item, 0, 400)
	for _, id := range ids[600:] {
		it, err := exact.Get(id)
		require.NoError(t, err)
		more = append(more, it)
	}
	require.NoError(t, a.Add(more...))
	require.Nil(t, a.g.narrow, "1000 nodes")
	r := recallAt10(t, a, exact, qs)
	assert.GreaterOrEqual(t, r, recallBound, "1000 nodes, wide")

	b, err := Unmarshal(a.Marshal(), cloneExact(t, a.Exact()))
	require.NoError(t, err)
	require.Nil(t, b.g.narrow, "loaded with 1000 nodes")
	assert.InDelta(t, r, recallAt10(t, b, exact, qs), 1e-9, "loaded")

	// Remove 400 (Remove compacts once the dead outnumber the live; Compact does the rest).
	gone := ids[:400]
	require.NoError(t, a.Remove(gone...))
	a.Compact()
	require.Equal(t, 600, a.g.n)
	require.NotNil(t, a.g.narrow, "compacted to 600 nodes")
	rest := cloneExact(t, exact)
	require.NoError(t, rest.Remove(gone...))
	assert.GreaterOrEqual(t, recallAt10(t, a, rest, qs), recallBound, "600 nodes, narrow")
	for _, id := range gone[:5] {
		assert.False(t, a.Has(id), fmt.Sprintf("%s removed", id))
	}
}
