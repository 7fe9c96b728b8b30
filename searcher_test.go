package pinrec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepOracle is the brute-force meaning of a list of WithMeta conditions and a filter: every
// condition's key is present with one of the condition's values (conditions on one key pool
// their values), and the filter (if any) keeps the item.
func keepOracle(conds [][]string, filter func(string, map[string]string) bool, id string, meta map[string]string) bool {
	allowed := map[string][]string{}
	for _, c := range conds {
		allowed[c[0]] = append(allowed[c[0]], c[1:]...)
	}
	for key, vals := range allowed {
		v, ok := meta[key]
		if !ok {
			return false
		}
		found := false
		for _, x := range vals {
			if x == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return filter == nil || filter(id, meta)
}

// metaCases are WithMeta condition lists ({key, values...} each) with an optional filter.
var metaCases = []struct {
	name   string
	conds  [][]string
	filter func(string, map[string]string) bool
}{
	{"nothing", nil, nil},
	{"one value", [][]string{{"colour", "red"}}, nil},
	{"two values", [][]string{{"colour", "red", "blue"}}, nil},
	{"two keys", [][]string{{"colour", "red", "blue"}, {"shape", "round"}}, nil},
	{"same key twice pools values", [][]string{{"colour", "red"}, {"colour", "green"}}, nil},
	{"no values keeps nothing", [][]string{{"colour"}}, nil},
	{"missing key", [][]string{{"size", "big"}}, nil},
	{"empty value", [][]string{{"shape", ""}}, nil},
	{"filter only", nil, func(id string, _ map[string]string) bool { return id[len(id)-1] == '3' }},
	{"meta and filter", [][]string{{"colour", "red", "green"}},
		func(id string, _ map[string]string) bool { return id[len(id)-1] != '0' }},
}

func metaOpts(conds [][]string, filter func(string, map[string]string) bool) []SearchOption {
	var opts []SearchOption
	for _, c := range conds {
		opts = append(opts, WithMeta(c[0], c[1:]...))
	}
	if filter != nil {
		opts = append(opts, WithFilter(filter))
	}
	return opts
}

// randMeta returns metadata for item i: a colour of three (or none), a shape of two (or empty).
func randMeta(rng *rand.Rand) map[string]string {
	m := map[string]string{}
	if c := rng.IntN(4); c < 3 {
		m["colour"] = []string{"red", "green", "blue"}[c]
	}
	m["shape"] = []string{"round", "square", ""}[rng.IntN(3)]
	return m
}

func TestSearchParamsKeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	metas := make([]map[string]string, 200)
	for i := range metas {
		metas[i] = randMeta(rng)
	}
	metas[0] = nil
	for _, tc := range metaCases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewSearchParams(metaOpts(tc.conds, tc.filter)...)
			kept := 0
			for i, m := range metas {
				id := fmt.Sprintf("id%d", i)
				want := keepOracle(tc.conds, tc.filter, id, m)
				require.Equal(t, want, p.Keep(id, m), "item %d %v", i, m)
				if want {
					kept++
				}
			}
			if len(tc.conds) == 0 && tc.filter == nil {
				require.Nil(t, p.keeper(), "nothing to check: the scan skips the call")
				require.Equal(t, len(metas), kept)
			}
		})
	}
}

func TestNewSearchParams(t *testing.T) {
	require.Equal(t, SearchParams{}, NewSearchParams())
	require.Equal(t, SearchParams{}, NewSearchParams(nil, WithWorkers(-3), WithEffort(0)))
	p := NewSearchParams(WithWorkers(4), WithEffort(64), WithMeta("a", "x"), WithMeta("b"), WithMeta("a", "y"))
	require.Equal(t, 4, p.Workers)
	require.Equal(t, 64, p.Effort)
	require.Equal(t, map[string][]string{"a": {"x", "y"}, "b": {}}, p.Match)

	// Options are values: applying one twice, or to two params, shares nothing.
	values := []string{"x"}
	o := WithMeta("a", values...)
	values[0] = "changed"
	p1, p2 := NewSearchParams(o), NewSearchParams(o, o)
	p1.Match["a"][0] = "p1"
	require.Equal(t, []string{"x", "x"}, p2.Match["a"])
}

// TestSearchWithMeta checks Search, SearchBatch (both paths) and Similar with WithMeta (and a
// filter) against the brute-force oracle over the kept rows.
func TestSearchWithMeta(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	const n, dim, k = 1200, 19, 12
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	vecs := make([][]float32, n)
	metas := make([]map[string]string, n)
	for i := range vecs {
		vecs[i] = randVectors(rng, 1, dim)
		metas[i] = randMeta(rng)
		require.NoError(t, ix.Add(Item{ID: fmt.Sprintf("id%d", i), Vector: vecs[i], Meta: metas[i]}))
	}
	q := randVectors(rng, 1, dim)
	for _, tc := range metaCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := metaOpts(tc.conds, tc.filter)
			keepRow := func(r int) bool { return keepOracle(tc.conds, tc.filter, fmt.Sprintf("id%d", r), metas[r]) }
			rows, ds := oracle(vecs, q, -1, keepRow)
			res, err := ix.Search(ctx, q, k, opts...)
			require.NoError(t, err)
			checkAgainstOracle(t, ix, vecs, q, res, rows, ds, k)
			for _, r := range res {
				assert.True(t, keepRow(slices.Index(ix.IDs(), r.ID)), "result %s passes", r.ID)
			}
			queries := [][]float32{q, vecs[1], vecs[2], vecs[3], q}
			batch, err := ix.SearchBatch(ctx, queries, k, opts...)
			require.NoError(t, err)
			require.Equal(t, res, batch[0])
			require.Equal(t, res, batch[4])
			require.Equal(t, batchDirect(t, ix, queries, k, opts...), batch)

			sim, err := ix.Similar(ctx, "id7", k, opts...)
			require.NoError(t, err)
			rows, ds = oracle(vecs, vecs[7], 7, keepRow)
			checkAgainstOracle(t, ix, vecs, vecs[7], sim, rows, ds, k)
		})
	}
}
