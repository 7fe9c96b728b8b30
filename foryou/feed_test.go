package foryou

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/dupes"
	"pinrec/engage"
)

func resultIDs[T interface{ id() string }](rs []T) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id()
	}
	return out
}

func (r Result) id() string { return r.ID }
func (r Ranked) id() string { return r.ID }

func TestFeedExclusionsAndSources(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	engaged := []string{"a1", "a2", "a3", "b1", "b2"}
	cases := []struct {
		name    string
		opts    []Option
		want    []string // exactly, in order
		without []string
	}{
		// Round robin: A's nearest, B's nearest, ... a1dup is a near-duplicate of a1.
		{"round robin, duplicates dropped", []Option{WithDuplicateDistance(0.1)},
			[]string{"na1", "nb1", "na2", "nb2", "na3", "nb3"}, append([]string{"a1dup"}, engaged...)},
		{"duplicate filter off", []Option{WithDuplicateDistance(-1)},
			[]string{"a1dup", "nb1", "na1", "nb2", "na2", "nb3"}, engaged},
		{"by distance", []Option{WithDuplicateDistance(-1), WithMerge(ByDistance)},
			[]string{"a1dup", "nb1", "na1", "na2", "nb2", "nb3"}, engaged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			feed, err := f.model(t).ForYou(ctx, "ann", 6, append([]Option{WithSeed(1)}, tc.opts...)...)
			require.NoError(t, err)
			assert.Empty(t, feed.ColdStart)
			assert.Equal(t, 2, feed.AllInterests)
			require.Len(t, feed.Interests, 2)
			assert.Equal(t, tc.want, resultIDs(feed.Results))
			for _, id := range tc.without {
				assert.NotContains(t, resultIDs(feed.Results), id)
			}
			for _, r := range feed.Results {
				require.NotNil(t, r.Interest)
				p := points[r.ID]
				near := "a1"
				if p[0] > 50 {
					near = "b2"
				}
				assert.Equal(t, near, r.Interest.Medoid, r.ID)
				m := points[r.Interest.Medoid]
				assert.InDelta(t, math.Hypot(float64(p[0]-m[0]), float64(p[1]-m[1])), r.Distance, 1e-5)
			}
		})
	}
}

func TestFeedDefaultDuplicateDistance(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	// An exact copy of a1 (too few items to calibrate: threshold 0, exact duplicates only).
	require.NoError(t, f.ix.Add(pinrec.Item{ID: "a1copy", Vector: []float32{0, 0}}))
	m := f.model(t)
	c, err := m.DuplicateDistance(ctx)
	require.NoError(t, err)
	want, err := dupes.Calibrate(ctx, f.ix)
	require.NoError(t, err)
	assert.Equal(t, want, c)
	feed, err := m.ForYou(ctx, "ann", 20, WithSeed(1))
	require.NoError(t, err)
	assert.NotContains(t, resultIDs(feed.Results), "a1copy")
	assert.Contains(t, resultIDs(feed.Results), "a1dup", "0.05 away: not a duplicate at threshold 0")
	feed, err = m.ForYou(ctx, "ann", 20, WithSeed(1), WithDuplicateDistance(-1))
	require.NoError(t, err)
	assert.Contains(t, resultIDs(feed.Results), "a1copy")
}

func TestFeedSamplingDeterministic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	m := f.model(t)
	seen := map[string]int{}
	for seed := range uint64(40) {
		a, err := m.ForYou(ctx, "ann", 4, WithSeed(seed), WithSamples(1))
		require.NoError(t, err)
		b, err := m.ForYou(ctx, "ann", 4, WithSeed(seed), WithSamples(1))
		require.NoError(t, err)
		assert.Equal(t, a, b, "seed %d", seed)
		require.Len(t, a.Interests, 1)
		seen[a.Interests[0].Medoid]++
		for _, r := range a.Results {
			assert.Equal(t, a.Interests[0].Medoid, r.Interest.Medoid)
		}
	}
	// Importance A ≈ 2.49, B ≈ 0.95: both drawn, A more often.
	assert.Greater(t, seen["a1"], seen["b2"])
	assert.Positive(t, seen["b2"])
}

func TestDrawByHand(t *testing.T) {
	in := []Interest{{Medoid: "x", Importance: 3}, {Medoid: "y", Importance: 1}, {Medoid: "z", Importance: 0}}
	counts := map[string]int{}
	r := newRand(config{seed: new(uint64)})
	const n = 4000
	for range n {
		d := draw(in, 1, r)
		counts[d[0].Medoid]++
	}
	assert.Zero(t, counts["z"], "importance 0 is never drawn while others are left")
	assert.InDelta(t, 0.75, float64(counts["x"])/n, 0.03)
	// Two of three: z only once x and y are gone, never; the output is importance order.
	assert.Equal(t, []Interest{in[0], in[1]}, draw(in, 2, r))
	assert.Equal(t, in, draw(in, 5, r))
	assert.Len(t, draw([]Interest{{Medoid: "p"}, {Medoid: "q"}}, 1, r), 1, "all zero: uniform")
}

func TestColdStart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.model(t)
	// No engagement at all: diverse items, spread out.
	feed, err := m.ForYou(ctx, "nobody", 4)
	require.NoError(t, err)
	assert.Equal(t, ColdDiverse, feed.ColdStart)
	assert.Empty(t, feed.Interests)
	require.Len(t, feed.Results, 4)
	ids := resultIDs(feed.Results)
	for i := range ids {
		assert.Nil(t, feed.Results[i].Interest)
		for j := range i {
			p, q := points[ids[i]], points[ids[j]]
			assert.Greater(t, math.Hypot(float64(p[0]-q[0]), float64(p[1]-q[1])), 40.0, "%s and %s", ids[i], ids[j])
		}
	}
	// With engagement: the most saved items first, then diverse ones to fill k.
	f.record(t, annEvents()...)
	f.record(t,
		engage.Event{User: "bob", Item: "nb2", Action: engage.Save, Time: daysAgo(1)},
		engage.Event{User: "cy", Item: "nb2", Action: engage.Save, Time: daysAgo(1)},
		engage.Event{User: "cy", Item: "far1", Action: engage.Like, Time: daysAgo(1)},
	)
	feed, err = m.ForYou(ctx, "nobody", 3)
	require.NoError(t, err)
	assert.Equal(t, ColdPopular, feed.ColdStart)
	require.Len(t, feed.Results, 3)
	assert.Equal(t, "nb2", feed.Results[0].ID, "2 saves")
	assert.Contains(t, []string{"a1", "a3", "b1", "b2"}, feed.Results[1].ID, "1 save each, by ID")
	// A user whose actions are all outside the window gets the cold start, without their items.
	f.record(t, engage.Event{User: "old", Item: "nb2", Action: engage.Save, Time: daysAgo(200)})
	feed, err = m.ForYou(ctx, "old", 3)
	require.NoError(t, err)
	assert.Equal(t, ColdPopular, feed.ColdStart)
	assert.NotContains(t, resultIDs(feed.Results), "nb2")
	// Search options hold in a cold start too.
	feed, err = m.ForYou(ctx, "nobody", 3, WithSearch(pinrec.WithFilter(func(id string, _ map[string]string) bool { return id != "nb2" })))
	require.NoError(t, err)
	assert.NotContains(t, resultIDs(feed.Results), "nb2")
	// No Engagement at all.
	m0, err := New(f.ix, nil)
	require.NoError(t, err)
	feed, err = m0.ForYou(ctx, "ann", 2)
	require.NoError(t, err)
	assert.Equal(t, ColdDiverse, feed.ColdStart)
	// k <= 0.
	feed, err = m.ForYou(ctx, "ann", 0)
	require.NoError(t, err)
	assert.Empty(t, feed.Results)
}

func TestSimilarPersonalised(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	m := f.model(t)
	// Query far1 (50,50): its visual neighbours, all 16 others as candidates.
	const beta = 0.5
	ans, err := m.Similar(ctx, "ann", "far1", 16, WithCandidates(16), WithBlend(beta), WithBlendInterests(1))
	require.NoError(t, err)
	assert.True(t, ans.Personalised)
	require.Len(t, ans.Results, 16)
	// Oracle: recompute every component from the points.
	q := points["far1"]
	d := func(a, b [2]float32) float64 { return math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1])) }
	var d1, dC, uMin, uMax = math.Inf(1), 0.0, math.Inf(1), 0.0
	for id, p := range points {
		if id == "far1" {
			continue
		}
		d1, dC = math.Min(d1, d(p, q)), math.Max(dC, d(p, q))
		u := d(p, points["a1"]) // the one interest used: A (medoid a1)
		uMin, uMax = math.Min(uMin, u), math.Max(uMax, u)
	}
	for _, r := range ans.Results {
		p := points[r.ID]
		v := (dC - d(p, q)) / (dC - d1)
		pers := (uMax - d(p, points["a1"])) / (uMax - uMin)
		assert.InDelta(t, v, r.Visual, 1e-5, r.ID)
		assert.InDelta(t, pers, r.Personal, 1e-5, r.ID)
		assert.InDelta(t, (1-beta)*v+beta*pers, r.Score, 1e-5, r.ID)
		assert.Equal(t, "a1", r.Interest)
	}
	for i := 1; i < len(ans.Results); i++ {
		assert.GreaterOrEqual(t, ans.Results[i-1].Score, ans.Results[i].Score)
	}
	// β = 0 is the visual order; a user without interests too.
	vis, err := pinrec.SimilarPins(ctx, f.ix, "far1", 5)
	require.NoError(t, err)
	var want []string
	for _, r := range vis {
		want = append(want, r.ID)
	}
	ans, err = m.Similar(ctx, "ann", "far1", 5, WithBlend(0))
	require.NoError(t, err)
	assert.Equal(t, want, resultIDs(ans.Results))
	// Rerank of the same candidates is Similar.
	cands, err := pinrec.SimilarPins(ctx, f.ix, "far1", 16)
	require.NoError(t, err)
	rr, err := m.Rerank(ctx, "ann", "far1", cands, 16, WithBlendInterests(1))
	require.NoError(t, err)
	sim, err := m.Similar(ctx, "ann", "far1", 16, WithCandidates(16), WithBlendInterests(1))
	require.NoError(t, err)
	assert.Equal(t, sim, rr)
	ans, err = m.Similar(ctx, "nobody", "far1", 5)
	require.NoError(t, err)
	assert.False(t, ans.Personalised)
	assert.Equal(t, want, resultIDs(ans.Results))
	for _, r := range ans.Results {
		assert.Zero(t, r.Personal)
		assert.Empty(t, r.Interest)
	}
}
