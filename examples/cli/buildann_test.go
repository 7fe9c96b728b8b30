package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLIBuildANN builds the approximate index of the labelled test index with each codec and
// queries it: with 12 items the graph finds every neighbour, so similar and query answer as
// on the flat index; stats names the kind and its parameters.
func TestCLIBuildANN(t *testing.T) {
	dir, modelIndex, _ := labelledIndex(t)
	const id = "green/green-2.png"
	var flat answer
	r := cli(t, "", "similar", "-index", modelIndex, "-k", "5", "-json", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &flat))
	var flatQ answer
	query := filepath.Join(filepath.Dir(dir), "query-blue.png")
	r = cli(t, "", "query", "-index", modelIndex, "-k", "5", "-json", query)
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &flatQ))

	for _, codec := range []string{"sq8", "pca512-sq8", "none"} {
		t.Run(codec, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ann.pinrec")
			r := cli(t, "", "build-ann", "-index", modelIndex, "-m", "8", "-ef", "40", "-codec", codec, "-out", out)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "built "+out+": 12 items, M=8")

			r = cli(t, "", "similar", "-index", out, "-k", "5", "-json", id)
			require.Equal(t, 0, r.code, r.stderr)
			var got answer
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			checkRanked(t, got, 5)
			assert.Equal(t, flat.Results, got.Results, "12 items: the graph finds the exact neighbours")

			r = cli(t, "", "query", "-index", out, "-k", "5", "-json", query)
			require.Equal(t, 0, r.code, r.stderr)
			var gotQ answer
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &gotQ))
			assert.Equal(t, flatQ.Results, gotQ.Results)

			r = cli(t, "", "stats", "-index", out, "-json")
			require.Equal(t, 0, r.code, r.stderr)
			var s indexStats
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), r.stdout)
			assert.Equal(t, "hnsw", s.Kind)
			assert.Equal(t, 12, s.Items)
			assert.Equal(t, "8", s.Store["m"])
			assert.Equal(t, "40", s.Store["ef_search"])
			assert.Equal(t, codec, s.Store["codec"])
			assert.NotEmpty(t, s.Store["memory_bytes"])
			assert.NotEmpty(t, s.Store["recall_at_10"], "the recall measured at build time")

			r = cli(t, "", "ls", "-index", out)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Len(t, lines(r.stdout), 12)
		})
	}

	// Without -ef, the default efSearch is calibrated for -target-recall; stats prints what was
	// measured.
	out := filepath.Join(t.TempDir(), "calibrated.pinrec")
	r = cli(t, "", "build-ann", "-index", modelIndex, "-target-recall", "0.9", "-out", out)
	require.Equal(t, 0, r.code, r.stderr)
	// 12 items: one held-out query and 11 in the graph, so the ladder stops at its first
	// efSearch, 20, past the graph's size, where a search is the exact scan: recall 1. stats
	// must print what the build measured.
	m := regexp.MustCompile(`recall@10 ([0-9.]+) at efSearch (\d+) on 1 held-out items`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	recall, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.Equal(t, "20", m[2])
	assert.Equal(t, 1.0, recall, "an 11-node graph searched at efSearch 20 is scanned exactly")
	r = cli(t, "", "stats", "-index", out)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "recall_at_10: "+m[1])
	assert.Contains(t, r.stdout, "ef_search:  "+m[2])
	assert.Contains(t, r.stdout, "target_recall: 0.9")

	// Bad flags are usage errors; a missing file is a failure.
	for _, args := range [][]string{
		{"build-ann"},
		{"build-ann", "-index", modelIndex, "-codec", "pq"},
		{"build-ann", "-index", modelIndex, "-m", "1"},
		{"build-ann", "-index", modelIndex, "-target-recall", "1.5"},
		{"build-ann", "-index", modelIndex, "extra"},
	} {
		r := cli(t, "", args...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
	}
	r = cli(t, "", "build-ann", "-index", filepath.Join(t.TempDir(), "missing.pinrec"))
	assert.Equal(t, 1, r.code, r.stderr)
}
