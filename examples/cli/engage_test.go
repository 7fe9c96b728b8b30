package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
)

// engageIndex writes a small index without images: q at the origin, a..d at 1..4 along x,
// far at 10 (the engage package's ranking fixture).
func engageIndex(t *testing.T) string {
	t.Helper()
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	for _, it := range []struct {
		id string
		x  float32
	}{{"q", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"far", 10}} {
		require.NoError(t, ix.Add(pinrec.Item{ID: it.id, Vector: []float32{it.x, 0}}))
	}
	path := filepath.Join(t.TempDir(), "e.pinrec")
	require.NoError(t, ix.Save(path))
	return path
}

func engageTotals(t *testing.T, index string) engage.Totals {
	t.Helper()
	r := cli(t, "", "stats", "-index", index, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var s indexStats
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), r.stdout)
	if s.Engagement == nil {
		return engage.Totals{}
	}
	assert.Equal(t, engage.PathFor(index), s.Engagement.Database)
	return s.Engagement.Totals
}

func TestCLIEngage(t *testing.T) {
	index := engageIndex(t)
	dir := filepath.Dir(index)
	assert.Equal(t, engage.Totals{}, engageTotals(t, index))
	r := cli(t, "", "stats", "-index", index)
	assert.Contains(t, r.stdout, "engagement: none recorded")

	// Before any engagement, hybrid is the visual order.
	var visual answer
	r = cli(t, "", "similar", "-index", index, "-json", "-k", "4", "q")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &visual))
	var hyb hybridAnswer
	r = cli(t, "", "similar", "-index", index, "-rank", "hybrid", "-json", "-k", "4", "q")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "no engagement database")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &hyb))
	require.Len(t, hyb.Results, 4)
	for i := range visual.Results {
		assert.Equal(t, visual.Results[i].ID, hyb.Results[i].ID)
	}

	r = cli(t, "", "engage", "-index", index, "-user", "u1", "-action", "save", "q", "c")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2 events: 2 applied, 0 unchanged, 0 stale")
	r = cli(t, "", "engage", "-index", index, "-user", "u1", "-action", "save", "c")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 events: 0 applied, 1 unchanged, 0 stale", "a second save of a saved pin")

	// Refusals write nothing.
	for _, tc := range []struct {
		name string
		code int
		args []string
		msg  string
	}{
		{"unknown ID", 1, []string{"-user", "u1", "-action", "save", "a", "ghost"}, `unknown item: "ghost"`},
		{"bad action", 2, []string{"-user", "u1", "-action", "pin", "a"}, `-action "pin"`},
		{"no IDs", 2, []string{"-user", "u1", "-action", "save"}, "at least one ID"},
		{"events and IDs", 2, []string{"-events", "x.csv", "-user", "u1"}, "without -user"},
		{"bad file type", 2, []string{"-events", "x.txt"}, ".csv or .jsonl"},
		{"a web visitor's name", 2, []string{"-user", "web:0123", "-action", "save", "a"}, "belong to the web page's visitors"},
	} {
		r := cli(t, dir, append([]string{"engage", "-index", index}, tc.args...)...)
		assert.Equal(t, tc.code, r.code, "%s: %s", tc.name, r.stderr)
		assert.Contains(t, r.stderr, tc.msg, tc.name)
	}

	// Bulk import: a file with an unknown ID records nothing; a good one records all.
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"user":"u2","item":"q","action":"save"}`+"\n"+`{"user":"u2","item":"nope","action":"save"}`+"\n"), 0o644))
	r = cli(t, "", "engage", "-index", index, "-events", bad)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "event 2")
	csvFile := filepath.Join(dir, "events.csv")
	require.NoError(t, os.WriteFile(csvFile, []byte("user,item,action,board\nu2,q,save,\nu2,far,save,trips\nu3,b,save,\nu3,c,like,\nu4,a,like,\n"), 0o644))
	r = cli(t, "", "engage", "-index", index, "-events", csvFile, "-batch", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "5 events: 5 applied, 0 unchanged, 0 stale")

	tot := engageTotals(t, index)
	assert.Equal(t, engage.Totals{Events: 7, Users: 4, Savers: 3, Items: 5, Likes: 2, Saves: 5, Pairs: 2}, tot)
	r = cli(t, "", "stats", "-index", index)
	assert.Contains(t, r.stdout, "engagement: 7 events by 4 users: 2 likes and 5 saves now, on 5 items; 2 co-saved pairs")

	// similar -rank hybrid prints what the library's Ranker computes (its formula is tested
	// against hand-computed values in package engage).
	r = cli(t, "", "similar", "-index", index, "-rank", "hybrid", "-json", "-k", "4", "q")
	require.Equal(t, 0, r.code, r.stderr)
	hyb = hybridAnswer{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &hyb))
	ix, err := pinrec.Load(index)
	require.NoError(t, err)
	st, err := engage.Open(engage.PathFor(index))
	require.NoError(t, err)
	defer st.Close()
	rk, err := engage.NewRanker(ix, st)
	require.NoError(t, err)
	want, err := rk.Similar(context.Background(), "q", 4)
	require.NoError(t, err)
	require.Len(t, hyb.Results, len(want))
	assert.Equal(t, engage.DefaultWeights(), hyb.Weights)
	for i, w := range want {
		g := hyb.Results[i]
		assert.Equal(t, w.ID, g.ID)
		assert.Equal(t, i+1, g.Rank)
		assert.InDelta(t, w.Score, g.Score, 1e-12)
		assert.InDelta(t, w.Visual, g.Visual, 1e-12)
		assert.InDelta(t, w.Engagement, g.Engagement, 1e-12)
		assert.InDelta(t, w.CoEngagement, g.CoEngagement, 1e-12)
		assert.Equal(t, w.CoSaves, g.CoSaves)
		assert.Equal(t, w.Saves, g.Saves)
	}
	// far (distance 10) is not among the 4 visual neighbours: only its co-save with q brings it.
	ids := []string{}
	for _, g := range hyb.Results {
		ids = append(ids, g.ID)
	}
	assert.Contains(t, ids, "far")
	assert.NotContains(t, ids, "q")

	r = cli(t, "", "similar", "-index", index, "-rank", "hybrid", "-k", "3", "q")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "co-saves")
	r = cli(t, "", "similar", "-index", index, "-rank", "best", "q")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "want visual or hybrid")
}
