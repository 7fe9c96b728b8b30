package foryou

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }

// fixture is a 2-d collection with two interest areas, A near (0,0) and B near (100,0), and
// neighbours of both, plus spread-out items for the cold start.
type fixture struct {
	ix    *pinrec.Index
	store *engage.Store
}

var points = map[string][2]float32{
	// ann's items in A and B
	"a1": {0, 0}, "a2": {1, 0}, "a3": {0, 1}, "b1": {100, 0}, "b2": {101, 0},
	// a near-duplicate of a1 and neighbours of A
	"a1dup": {0.05, 0}, "na1": {2, 2}, "na2": {3, 0}, "na3": {0, 4}, "na4": {-3, -3},
	// neighbours of B
	"nb1": {103, 0}, "nb2": {100, 3}, "nb3": {98, -2},
	// elsewhere
	"far1": {50, 50}, "far2": {-50, 50}, "far3": {50, -50}, "far4": {-50, -50},
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	ids := make([]string, 0, len(points))
	for id := range points {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := points[id]
		require.NoError(t, ix.Add(pinrec.Item{ID: id, Vector: []float32{p[0], p[1]}}))
	}
	st, err := engage.Open(filepath.Join(t.TempDir(), "e.db"), engage.WithKnownItems(ix.Has))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &fixture{ix, st}
}

func (f *fixture) record(t *testing.T, events ...engage.Event) {
	t.Helper()
	_, err := f.store.Record(context.Background(), events...)
	require.NoError(t, err)
}

// annEvents: a1 saved 10 days ago, a2 liked 20 days ago, a3 liked and saved today, b1 saved
// 100 days ago (outside the 90-day window), b2 saved 5 days ago.
func annEvents() []engage.Event {
	return []engage.Event{
		{User: "ann", Item: "a1", Action: engage.Save, Time: daysAgo(10)},
		{User: "ann", Item: "a2", Action: engage.Like, Time: daysAgo(20)},
		{User: "ann", Item: "a3", Action: engage.Like, Time: daysAgo(0)},
		{User: "ann", Item: "a3", Action: engage.Save, Time: daysAgo(0)},
		{User: "ann", Item: "b1", Action: engage.Save, Time: daysAgo(100)},
		{User: "ann", Item: "b2", Action: engage.Save, Time: daysAgo(5)},
	}
}

func (f *fixture) model(t *testing.T, opts ...Option) *Model {
	t.Helper()
	m, err := New(f.ix, f.store, append([]Option{WithClock(func() time.Time { return now }), WithCut(10)}, opts...)...)
	require.NoError(t, err)
	return m
}

func TestInterestsByHand(t *testing.T) {
	f := newFixture(t)
	f.record(t, annEvents()...)
	p, err := f.model(t).Interests(context.Background(), "ann")
	require.NoError(t, err)
	assert.Equal(t, 4, p.Items, "b1 is outside the window")
	assert.Equal(t, 10.0, p.Cut)
	require.Len(t, p.Interests, 2)
	a, b := p.Interests[0], p.Interests[1]
	// A: a3 (like 0.5 + save 1, today), a1 (save, 10 days), a2 (like, 20 days).
	assert.Equal(t, "a1", a.Medoid, "sums of squared distances: a1 2, a2 3, a3 3")
	assert.Equal(t, 3, a.Size)
	assert.Equal(t, []string{"a3", "a1", "a2"}, a.Items, "most recent first")
	assert.InDelta(t, 1.5+math.Exp(-0.1)+0.5*math.Exp(-0.2), a.Importance, 1e-9)
	assert.Equal(t, Interest{Medoid: "b2", Size: 1, Importance: math.Exp(-0.05), Items: []string{"b2"}}, b)

	// Options change the hand computation as documented.
	p, err = f.model(t, WithDecay(0), WithActionWeights(1, 2), WithWindow(0)).Interests(context.Background(), "ann")
	require.NoError(t, err)
	require.Len(t, p.Interests, 2)
	assert.InDelta(t, 2+1+2+1, p.Interests[0].Importance, 1e-9, "a1 save 2, a2 like 1, a3 like 1 + save 2")
	assert.Equal(t, []string{"b2", "b1"}, p.Interests[1].Items, "no window: b1 counts")
	assert.InDelta(t, 4, p.Interests[1].Importance, 1e-9)

	// A high cut puts everything in one interest; a tiny one gives one per item.
	p, err = f.model(t, WithCut(1e6)).Interests(context.Background(), "ann")
	require.NoError(t, err)
	assert.Len(t, p.Interests, 1)
	p, err = f.model(t, WithCut(0.5)).Interests(context.Background(), "ann")
	require.NoError(t, err)
	assert.Len(t, p.Interests, 4)

	// The cap keeps the most recent items.
	p, err = f.model(t, WithMaxItems(2)).Interests(context.Background(), "ann")
	require.NoError(t, err)
	assert.Equal(t, 2, p.Items)
	var got []string
	for _, in := range p.Interests {
		got = append(got, in.Items...)
	}
	assert.ElementsMatch(t, []string{"a3", "b2"}, got)
}

func TestMedoidMatchesBruteForce(t *testing.T) {
	// The medoid by the mean is the medoid by sums of squared distances.
	vecs := randomVectors(newRand(config{seed: new(uint64)}), 40, 6, 1)
	members := make([]int, len(vecs))
	for i := range members {
		members[i] = i
	}
	c := newCluster(members, vecs)
	best, bestSum := -1, math.Inf(1)
	for i := range vecs {
		var s float64
		for j := range vecs {
			d := dist(vecs[i], vecs[j])
			s += d * d
		}
		if s < bestSum {
			best, bestSum = i, s
		}
	}
	assert.Equal(t, best, c.medoid)
	assert.True(t, slices.IsSorted(c.meanDist))
}

func TestCacheFollowsEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	m := f.model(t)
	p1, err := m.Interests(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, 1, m.CachedUsers())
	p2, err := m.Interests(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, p1, p2)
	// A new save changes the interests at once.
	f.record(t, engage.Event{User: "ann", Item: "nb1", Action: engage.Save, Time: daysAgo(1)})
	p3, err := m.Interests(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, 2, p3.Interests[1].Size)
	// An unsave too.
	f.record(t, engage.Event{User: "ann", Item: "nb1", Action: engage.Unsave, Time: daysAgo(0.5)})
	p4, err := m.Interests(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, p1.Interests, p4.Interests)
	// The cache is bounded.
	m2 := f.model(t, WithCacheUsers(1))
	for _, u := range []string{"ann", "bob", "ann"} {
		_, err := m2.Interests(ctx, u)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, m2.CachedUsers(), 1)
	m3 := f.model(t, WithCacheUsers(0))
	_, err = m3.Interests(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, 0, m3.CachedUsers())
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, err := New(nil, f.store)
	assert.ErrorContains(t, err, "nil store")
	m := f.model(t)
	_, err = m.Interests(ctx, "")
	assert.ErrorContains(t, err, "empty user")
	_, err = m.ForYou(ctx, "", 3)
	assert.ErrorContains(t, err, "empty user")
	_, err = m.Similar(ctx, "ann", "nope", 3)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	// A relative cut needs a collection with a scale.
	tiny, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	require.NoError(t, tiny.Add(pinrec.Item{ID: "a1", Vector: []float32{0, 0}}))
	f.record(t, engage.Event{User: "zed", Item: "a1", Action: engage.Save, Time: daysAgo(1)})
	m, err = New(tiny, f.store, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = m.Interests(ctx, "zed")
	assert.ErrorIs(t, err, ErrNoScale)
}

// TestConcurrentUse runs feeds, interests and personalised searches for several users from
// many goroutines while events are recorded (the race detector checks the cache).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.record(t, annEvents()...)
	m := f.model(t, WithCacheUsers(2))
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				user := []string{"ann", "bob", "cy"}[(g+i)%3]
				_, err := m.ForYou(ctx, user, 3)
				assert.NoError(t, err)
				_, err = m.Interests(ctx, user)
				assert.NoError(t, err)
				_, err = m.Similar(ctx, user, "far1", 3)
				assert.NoError(t, err)
			}
		}()
	}
	for i := range 10 {
		_, err := f.store.Record(ctx, engage.Event{User: []string{"bob", "cy"}[i%2], Item: []string{"na1", "nb1", "far2"}[i%3], Action: engage.Save, Time: daysAgo(float64(i))})
		require.NoError(t, err)
	}
	wg.Wait()
	assert.LessOrEqual(t, m.CachedUsers(), 2)
}
