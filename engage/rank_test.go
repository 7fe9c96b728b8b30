package engage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// searcherOnly hides an Index's Get, so the ranker measures co-saved items by a search.
type searcherOnly struct{ pinrec.Searcher }

// rankFixture: the query q at the origin, a..d at distances 1..4 along x, far at 10; u1 saved
// q and c, u2 saved q and far, u3 saved b and liked c, u4 liked a.
func rankFixture(t *testing.T) (*pinrec.Index, *Store) {
	t.Helper()
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	for _, it := range []struct {
		id string
		x  float32
	}{{"q", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"far", 10}} {
		require.NoError(t, ix.Add(pinrec.Item{ID: it.id, Vector: []float32{it.x, 0}, Meta: map[string]string{"name": it.id}}))
	}
	s := openTemp(t, WithKnownItems(ix.Has))
	_, err = s.Record(context.Background(),
		Event{User: "u1", Item: "q", Action: Save}, Event{User: "u1", Item: "c", Action: Save},
		Event{User: "u2", Item: "q", Action: Save}, Event{User: "u2", Item: "far", Action: Save},
		Event{User: "u3", Item: "b", Action: Save}, Event{User: "u3", Item: "c", Action: Like},
		Event{User: "u4", Item: "a", Action: Like})
	require.NoError(t, err)
	return ix, s
}

type want struct {
	id             string
	score, v, e, c float64
}

func TestRankerOracle(t *testing.T) {
	ctx := context.Background()
	ix, s := rankFixture(t)
	// Hand-computed with C = 4 (d_1 = 1, d_C = 4), a_e = a_c = 2. The store holds U = 3 savers,
	// 5 saves and 7 engaged (user, item) pairs, so p = 5/7; q has 2 saves, co-saved once with
	// c and once with far.
	//   a:   v = 1,   e = (0 + 2*5/7)/(1+2) = 10/21, c = 0
	//   b:   v = 2/3, e = (1 + 10/7)/(1+2) = 17/21, c = (0 + 2*1/3)/(2+2) = 1/6
	//   c:   v = 1/3, e = (1 + 10/7)/(2+2) = 17/28, c = (1 + 2*1/3)/4 = 5/12
	//   d:   v = 0,   e = (0 + 10/7)/(0+2) = 5/7,   c = 0
	//   far: v = 0 (beyond d_C), e = 17/21, c = 5/12 (a co-saved candidate)
	all := []want{
		{"b", 2.0/3 + 17.0/21 + 1.0/6, 2.0 / 3, 17.0 / 21, 1.0 / 6},
		{"a", 1 + 10.0/21, 1, 10.0 / 21, 0},
		{"c", 1.0/3 + 17.0/28 + 5.0/12, 1.0 / 3, 17.0 / 28, 5.0 / 12},
		{"far", 17.0/21 + 5.0/12, 0, 17.0 / 21, 5.0 / 12},
		{"d", 5.0 / 7, 0, 5.0 / 7, 0},
	}
	base := []RankOption{WithCandidates(4), WithPriors(2, 2), WithWeights(Weights{1, 1, 1})}
	tests := []struct {
		name     string
		searcher pinrec.Searcher
		k        int
		opts     []RankOption
		want     []want
	}{
		{"blend", ix, 4, nil, all[:4]},
		{"blend, top 2", ix, 2, nil, all[:2]},
		{"blend without Get", searcherOnly{ix}, 4, nil, all[:4]},
		{"visual weight only", ix, 4, []RankOption{WithWeights(Weights{Visual: 1})}, []want{
			{"a", 1, 1, 10.0 / 21, 0}, {"b", 2.0 / 3, 2.0 / 3, 17.0 / 21, 1.0 / 6}, {"c", 1.0 / 3, 1.0 / 3, 17.0 / 28, 5.0 / 12},
			{"d", 0, 0, 5.0 / 7, 0}}},
		{"no co-saved candidates", ix, 4, []RankOption{WithCoCandidates(0)}, []want{all[0], all[1], all[2], all[4]}},
		{"visual candidates only, one each", ix, 4, []RankOption{WithCandidates(1), WithCoCandidates(1)}, []want{
			// C = k = 4 anyway; M = 1 adds the most co-saved item outside: far (c is inside).
			all[0], all[1], all[2], all[3]}},
		{"k above C widens the visual set", ix, 5, []RankOption{WithWeights(Weights{Visual: 1})}, []want{
			// C becomes 5: d_C = 10 (far).
			{"a", 1, 1, 10.0 / 21, 0}, {"b", 8.0 / 9, 8.0 / 9, 17.0 / 21, 1.0 / 6}, {"c", 7.0 / 9, 7.0 / 9, 17.0 / 28, 5.0 / 12},
			{"d", 6.0 / 9, 6.0 / 9, 5.0 / 7, 0}, {"far", 0, 0, 17.0 / 21, 5.0 / 12}}},
		{"filter applies to co-saved items too", ix, 4, []RankOption{WithSearch(pinrec.WithFilter(func(id string, _ map[string]string) bool {
			return id != "b" && id != "far"
		}))}, []want{
			// Three items pass: the visual set is a, c, d, d_C = 4; far is filtered out.
			{"a", 1 + 10.0/21, 1, 10.0 / 21, 0},
			{"c", 1.0/3 + 17.0/28 + 5.0/12, 1.0 / 3, 17.0 / 28, 5.0 / 12},
			{"d", 5.0 / 7, 0, 5.0 / 7, 0}}},
		{"filter by metadata", searcherOnly{ix}, 4, []RankOption{WithSearch(pinrec.WithMeta("name", "a", "c", "far"))}, []want{
			// The visual set is a, c, far: d_1 = 1, d_C = 10.
			{"c", 7.0/9 + 17.0/28 + 5.0/12, 7.0 / 9, 17.0 / 28, 5.0 / 12},
			{"a", 1 + 10.0/21, 1, 10.0 / 21, 0},
			{"far", 17.0/21 + 5.0/12, 0, 17.0 / 21, 5.0 / 12}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRanker(tc.searcher, s, base...)
			require.NoError(t, err)
			got, err := r.Similar(ctx, "q", tc.k, tc.opts...)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				g := got[i]
				assert.Equal(t, w.id, g.ID, "rank %d", i)
				assert.InDelta(t, w.score, g.Score, 1e-9, "%s score", w.id)
				assert.InDelta(t, w.v, g.Visual, 1e-6, "%s visual", w.id)
				assert.InDelta(t, w.e, g.Engagement, 1e-9, "%s engagement", w.id)
				assert.InDelta(t, w.c, g.CoEngagement, 1e-9, "%s co-engagement", w.id)
				assert.Equal(t, w.id, g.Meta["name"])
				assert.NotEqual(t, "q", g.ID)
			}
		})
	}
}

func TestRankerColdStart(t *testing.T) {
	ctx := context.Background()
	ix, s := rankFixture(t)
	// d has no engagement: the co-save term is the items' popularity saves_i/U.
	r, err := NewRanker(ix, s, WithCandidates(5), WithPriors(2, 2), WithWeights(Weights{Visual: 1, CoEngagement: 3}))
	require.NoError(t, err)
	got, err := r.Similar(ctx, "d", 10)
	require.NoError(t, err)
	// Distances from d at x=4: c 1, b 2, a 3, q 4, far 6. C = k = 10 takes all: d_1 = 1, d_C = 6.
	// v: c 1, b 4/5, a 3/5, q 2/5, far 0.
	// c_i = (0 + 2*saves_i/3)/(0 + 2) = saves_i/3: q 2/3, b 1/3, c 1/3, far 1/3, a 0.
	wantIDs := []string{"q", "c", "b", "far", "a"}
	wantScore := map[string]float64{
		"c": 1 + 1, "b": 4.0/5 + 1, "a": 3.0 / 5, "q": 2.0/5 + 2, "far": 0 + 1,
	}
	ids := make([]string, len(got))
	for i, g := range got {
		ids[i] = g.ID
		assert.InDelta(t, wantScore[g.ID], g.Score, 1e-6, g.ID)
		assert.Zero(t, g.CoSaves)
	}
	assert.Equal(t, wantIDs, ids)

	// An empty store ranks exactly as the index does.
	empty := openTemp(t)
	for _, signals := range []Signals{empty, nil} {
		r, err := NewRanker(ix, signals)
		require.NoError(t, err)
		got, err := r.Similar(ctx, "b", 5)
		require.NoError(t, err)
		visual, err := ix.Similar(ctx, "b", 5)
		require.NoError(t, err)
		require.Len(t, got, len(visual))
		for i := range visual {
			assert.Equal(t, visual[i].ID, got[i].ID)
			assert.Equal(t, visual[i].Distance, got[i].Distance)
			assert.Zero(t, got[i].Engagement)
			assert.Zero(t, got[i].CoEngagement)
		}
	}
}

func TestRankerErrors(t *testing.T) {
	ctx := context.Background()
	ix, s := rankFixture(t)
	_, err := NewRanker(nil, s)
	assert.Error(t, err)
	r, err := NewRanker(ix, s)
	require.NoError(t, err)
	_, err = r.Similar(ctx, "nope", 3)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	got, err := r.Similar(ctx, "q", 0)
	assert.NoError(t, err)
	assert.Empty(t, got)
}

// On an index with region items the ranker returns pins, each once, never the query or its own
// regions: the same IDs, in the same order, as pinrec.SimilarPins when nobody engaged.
func TestRankerRegionItems(t *testing.T) {
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	pins := []struct {
		id   string
		x, y float32
	}{{"q", 0, 0}, {"a", 2, 0}, {"b", 4, 0}, {"c", 6, 0}}
	for _, p := range pins {
		regions := []pinrec.Region{
			{Box: pinrec.Rect{X: 0, Y: 0, W: 1, H: 1}, Vector: []float32{p.x + 0.5, 1}},
			{Box: pinrec.Rect{X: 1, Y: 1, W: 1, H: 1}, Vector: []float32{p.x + 0.2, 0.5}},
		}
		require.NoError(t, pinrec.PutPin(ix, pinrec.Item{ID: p.id, Vector: []float32{p.x, p.y}}, regions))
	}
	require.Equal(t, 12, ix.Len())
	s := openTemp(t, WithKnownItems(ix.Has))
	rk, err := NewRanker(ix, s)
	require.NoError(t, err)
	got, err := rk.Similar(context.Background(), "q", 3)
	require.NoError(t, err)
	want, err := pinrec.SimilarPins(context.Background(), ix, "q", 3)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i := range got {
		assert.Equal(t, want[i].ID, got[i].ID, "rank %d", i+1)
		assert.InDelta(t, want[i].Distance, got[i].Distance, 1e-6)
		_, isRegion := pinrec.IsRegion(got[i].Meta)
		assert.False(t, isRegion, "%s is a region item", got[i].ID)
		assert.NotEqual(t, "q", got[i].ID)
	}
}
