package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
	"pinrec/foryou"
)

// foryouIndex writes an index without images: two areas, A near (0,0) and B near
// (1000,0), with neighbours, a few spread-out items and a lattice of filler items 80 apart
// (so the collection's scale, and with it the default cut, is about 160).
func foryouIndex(t *testing.T) string {
	t.Helper()
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	type pt struct {
		id   string
		x, y float32
	}
	pts := []pt{
		{"a1", 0, 0}, {"a2", 1, 0}, {"a3", 0, 1}, {"na1", 2, 2}, {"na2", 3, 0}, {"na3", 0, 4},
		{"b1", 1000, 0}, {"b2", 1001, 0}, {"nb1", 1003, 0}, {"nb2", 1000, 3},
		{"far1", 50, 50}, {"far2", -50, 50}, {"far3", 50, -50}, {"far4", -50, -50},
	}
	for i := range 6 {
		for j := range 6 {
			pts = append(pts, pt{fmt.Sprintf("grid%d%d", i, j), float32(-200 + 80*i), float32(-200 + 80*j)})
		}
	}
	for _, it := range pts {
		require.NoError(t, ix.Add(pinrec.Item{ID: it.id, Vector: []float32{it.x, it.y}}))
	}
	path := filepath.Join(t.TempDir(), "f.pinrec")
	require.NoError(t, ix.Save(path))
	return path
}

func TestCLIForYou(t *testing.T) {
	index := foryouIndex(t)
	dir := filepath.Dir(index)

	// No engagement database yet: the cold start, said so.
	r := cli(t, "", "foryou", "-index", index, "-user", "ann", "-k", "3", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "no engagement database")
	var ans feedAnswer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	assert.Equal(t, foryou.ColdDiverse, ans.ColdStart)
	assert.Len(t, ans.Results, 3)

	r = cli(t, "", "engage", "-index", index, "-user", "ann", "-action", "save", "a1", "a2", "a3", "b1", "b2")
	require.Equal(t, 0, r.code, r.stderr)

	// The feed names the interest each result came from, and leaves out what ann saved.
	r = cli(t, "", "foryou", "-index", index, "-user", "ann", "-k", "4", "-seed", "1", "-dupes", "show", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	ans = feedAnswer{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	assert.Empty(t, ans.ColdStart)
	assert.Equal(t, engage.PathFor(index), ans.Database)
	require.Len(t, ans.Interests, 2)
	require.Len(t, ans.Results, 4)
	// The library's answer is what the command prints.
	ix, err := pinrec.Load(index)
	require.NoError(t, err)
	st, err := engage.Open(engage.PathFor(index))
	require.NoError(t, err)
	defer st.Close()
	m, err := foryou.New(ix, st)
	require.NoError(t, err)
	want, err := m.ForYou(context.Background(), "ann", 4, foryou.WithSeed(1), foryou.WithDuplicateDistance(-1))
	require.NoError(t, err)
	for i, w := range want.Results {
		g := ans.Results[i]
		assert.Equal(t, w.ID, g.ID)
		assert.Equal(t, i+1, g.Rank)
		require.NotNil(t, g.Interest)
		assert.Equal(t, w.Interest.Medoid, g.Interest.Medoid)
		assert.Equal(t, w.Interest.Size, g.Interest.Size)
		assert.InDelta(t, w.Interest.Importance, g.Interest.Importance, 1e-4, "a moment later")
		assert.NotContains(t, []string{"a1", "a2", "a3", "b1", "b2"}, g.ID)
	}
	assert.Equal(t, "na1", ans.Results[0].ID)
	assert.Equal(t, "nb1", ans.Results[1].ID)

	// The table and the grid.
	grid := filepath.Join(dir, "feed.png")
	r = cli(t, "", "foryou", "-index", index, "-user", "ann", "-k", "4", "-seed", "1", "-dupes", "show", "-grid", grid)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "for you: ann (2 of 2 interests drawn by importance)")
	assert.Contains(t, r.stdout, "na1")
	// By default near-duplicates of ann's items are left out: in this collection the
	// calibrated threshold (package dupes) counts the items a few units from a1 and b2 as such.
	cal, err := m.DuplicateDistance(context.Background())
	require.NoError(t, err)
	r = cli(t, "", "foryou", "-index", index, "-user", "ann", "-k", "4", "-seed", "1", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	ans = feedAnswer{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	for _, g := range ans.Results {
		p, err := ix.Get(g.ID)
		require.NoError(t, err)
		for _, own := range []string{"a1", "a2", "a3", "b1", "b2"} {
			o, err := ix.Get(own)
			require.NoError(t, err)
			dx, dy := float64(p.Vector[0]-o.Vector[0]), float64(p.Vector[1]-o.Vector[1])
			assert.Greater(t, math.Hypot(dx, dy), float64(cal.Threshold), "%s is a near-duplicate of %s", g.ID, own)
		}
	}
	st2, err := os.Stat(grid)
	require.NoError(t, err)
	assert.Positive(t, st2.Size())

	// A stranger gets the popular cold start.
	r = cli(t, "", "foryou", "-index", index, "-user", "zoe", "-k", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "cold start: popular")

	// Refusals.
	for _, tc := range []struct {
		name string
		code int
		args []string
		msg  string
	}{
		{"no user", 2, []string{"foryou", "-index", index}, "-user U is required"},
		{"no index", 2, []string{"foryou", "-user", "ann"}, "-index FILE is required"},
		{"bad k", 2, []string{"foryou", "-index", index, "-user", "ann", "-k", "0"}, "-k 0"},
		{"bad dupes", 2, []string{"foryou", "-index", index, "-user", "ann", "-dupes", "maybe"}, `-dupes "maybe"`},
		{"stray argument", 2, []string{"foryou", "-index", index, "-user", "ann", "x"}, `unexpected argument "x"`},
		{"user and hybrid", 2, []string{"similar", "-index", index, "-user", "ann", "-rank", "hybrid", "a1"}, "two rankings"},
	} {
		r := cli(t, "", tc.args...)
		assert.Equal(t, tc.code, r.code, "%s: %s", tc.name, r.stderr)
		assert.Contains(t, r.stderr, tc.msg, tc.name)
	}
}

func TestCLISimilarUser(t *testing.T) {
	index := foryouIndex(t)
	r := cli(t, "", "engage", "-index", index, "-user", "ann", "-action", "save", "a1", "a2", "a3")
	require.Equal(t, 0, r.code, r.stderr)
	r = cli(t, "", "similar", "-index", index, "-user", "ann", "-k", "5", "-json", "far1")
	require.Equal(t, 0, r.code, r.stderr)
	var ans personalAnswer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	assert.True(t, ans.Personalised)
	assert.Equal(t, foryou.DefaultBlend, ans.Blend)
	ix, err := pinrec.Load(index)
	require.NoError(t, err)
	st, err := engage.Open(engage.PathFor(index))
	require.NoError(t, err)
	defer st.Close()
	m, err := foryou.New(ix, st)
	require.NoError(t, err)
	want, err := m.Similar(context.Background(), "ann", "far1", 5)
	require.NoError(t, err)
	require.Len(t, ans.Results, len(want.Results))
	for i, w := range want.Results {
		g := ans.Results[i]
		assert.Equal(t, w.ID, g.ID)
		assert.InDelta(t, w.Score, g.Score, 1e-12)
		assert.InDelta(t, w.Visual, g.Visual, 1e-12)
		assert.InDelta(t, w.Personal, g.Personal, 1e-12)
		assert.Equal(t, w.Interest, g.Interest)
	}
	// The user's interest (A, near the origin) pulls its side up: the nearest of A's
	// neighbours outranks the nearest of B's, which are as far from far1 visually.
	assert.Equal(t, "a1", ans.Results[0].Interest)
	r = cli(t, "", "similar", "-index", index, "-user", "ann", "-k", "3", "far1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "for ann: score = 0.5*visual + 0.5*personal")
	// A user without history: the visual order, said so.
	r = cli(t, "", "similar", "-index", index, "-user", "nobody", "-k", "3", "far1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "nobody has no likes or saves: visual order")
}
