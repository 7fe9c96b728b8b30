package pinrec

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec/internal/kernel"
)

// l2sq64 is the float64 reference: Σ (x[t]-y[t])².
func l2sq64(x, y []float32) float64 {
	var s float64
	for t := range x {
		d := float64(x[t]) - float64(y[t])
		s += d * d
	}
	return s
}

func randVectors(rng *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// newRandIndex returns an index of n random items "id0".."id<n-1>" (normal values) and their
// vectors.
func newRandIndex(t testing.TB, rng *rand.Rand, n, dim int) (*Index, [][]float32) {
	t.Helper()
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	vecs := make([][]float32, n)
	items := make([]Item, n)
	for i := range items {
		vecs[i] = randVectors(rng, 1, dim)
		items[i] = Item{ID: fmt.Sprintf("id%d", i), Vector: vecs[i], Meta: map[string]string{"n": fmt.Sprint(i)}}
	}
	require.NoError(t, ix.Add(items...))
	return ix, vecs
}

// oracle ranks the rows by float64 distance to q (ties by row) and returns the rows and the
// distances, leaving out skip and rows that keep rejects.
func oracle(vecs [][]float32, q []float32, skip int, keep func(int) bool) ([]int, []float64) {
	type rd struct {
		row int
		d   float64
	}
	var all []rd
	for r, v := range vecs {
		if r == skip || (keep != nil && !keep(r)) {
			continue
		}
		all = append(all, rd{r, math.Sqrt(l2sq64(v, q))})
	}
	slices.SortFunc(all, func(a, b rd) int {
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	rows := make([]int, len(all))
	ds := make([]float64, len(all))
	for i, x := range all {
		rows[i], ds[i] = x.row, x.d
	}
	return rows, ds
}

// tieTol is how far apart two float64 distances may be and still swap places after float32
// rounding: a relative 1e-5 is far above the kernels' error (a few float32 ulps over
// the dimension) and far below the gaps between random vectors' distances.
func tieTol(d float64) float64 { return 1e-5*d + 1e-12 }

// checkAgainstOracle requires res to be the oracle's top len(res) in order. Where the oracle's
// distances at neighbouring ranks lie within tieTol, float32 rounding may legitimately order
// them either way: there it requires the rank's distance to match and the ID to belong to the
// tied group; everywhere else the exact ID.
// It returns the number of ranks that fell in near-tie groups.
func checkAgainstOracle(t *testing.T, ix *Index, vecs [][]float32, q []float32, res []Result, rows []int, ds []float64, k int) int {
	t.Helper()
	require.Len(t, res, min(k, len(rows)))
	seen := map[string]bool{}
	nearTies := 0
	for i, r := range res {
		require.False(t, seen[r.ID], "duplicate %s", r.ID)
		seen[r.ID] = true
		want := ds[i]
		assert.InDelta(t, want, float64(r.Distance), tieTol(want)+1e-6*want, "rank %d distance", i)
		tiedBelow := i > 0 && ds[i]-ds[i-1] <= tieTol(ds[i])
		tiedAbove := i+1 < len(ds) && ds[i+1]-ds[i] <= tieTol(ds[i])
		if !tiedBelow && !tiedAbove {
			require.Equal(t, fmt.Sprintf("id%d", rows[i]), r.ID, "rank %d", i)
			continue
		}
		// A near tie: the item's true distance must equal this rank's within the tolerance.
		var row int
		_, err := fmt.Sscanf(r.ID, "id%d", &row)
		require.NoError(t, err)
		got := math.Sqrt(l2sq64(vecs[row], q))
		require.InDelta(t, want, got, 2*tieTol(want), "rank %d: %s is not in the tie group", i, r.ID)
		nearTies++
	}
	// Results are sorted, ties by insertion order.
	for i := 1; i < len(res); i++ {
		require.LessOrEqual(t, res[i-1].Distance, res[i].Distance)
		if res[i-1].Distance == res[i].Distance {
			a, _ := ix.pos.Get(res[i-1].ID, ix.ids)
			b, _ := ix.pos.Get(res[i].ID, ix.ids)
			require.Less(t, a, b, "equal distances in insertion order")
		}
	}
	return nearTies
}

// TestSearchMatchesOracle runs once per kernel set this CPU has (the log names them): the
// portable kernels, AVX2+FMA, and AVX-512 where the CPU has it.
func TestSearchMatchesOracle(t *testing.T) {
	t.Cleanup(func() { kernel.Limit(os.Getenv("PINREC_KERNEL")) })
	seen := map[string]bool{}
	for _, limit := range []string{"go", "avx2", ""} {
		name := kernel.Limit(limit)
		if seen[name] {
			continue
		}
		seen[name] = true
		t.Logf("kernels: %s", name)
		forEachFirstPass(t, name, testSearchMatchesOracle)
	}
}

// forEachFirstPass runs test with the bounded path's first pass on float32 dot products and
// on int16 codes (whatever kernel.I16Fast says, so that the portable int16 kernels run too).
func forEachFirstPass(t *testing.T, name string, test func(*testing.T)) {
	old := i16Path
	t.Cleanup(func() { i16Path = old })
	for _, path := range []int{-1, 1} {
		i16Path = path
		sub := name + "/float32"
		if path > 0 {
			sub = name + "/int16 " + kernel.I16Name
		}
		t.Run(sub, test)
	}
}

func testSearchMatchesOracle(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		n, dim, k, nq int
		workers       int
	}{
		{"small", 50, 3, 5, 7, 0},
		{"tail dims", 1500, 37, 10, 9, 0},
		{"k above len", 30, 8, 100, 3, 0},
		{"one worker", 999, 64, 10, 5, 1},
		{"many workers", 2001, 65, 13, 5, 7},
		{"wide", 400, 2048, 10, 4, 0},
		{"tile edges", 1001, 67, 10, 13, 0},
		{"batch of 100", 1203, 130, 10, 100, 2},
		{"long blocks", 601, 1024, 10, i16LongBlockQueries + 7, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.workers > 1 {
				splitSmallScans(t)
			}
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.dim)))
			ix, vecs := newRandIndex(t, rng, tc.n, tc.dim)
			queries := make([][]float32, tc.nq)
			for j := range queries {
				queries[j] = randVectors(rng, 1, tc.dim)
			}
			queries[0] = slices.Clone(vecs[tc.n/2]) // an indexed vector: distance 0
			opts := []SearchOption{WithWorkers(tc.workers)}
			batch, err := ix.SearchBatch(ctx, queries, tc.k, opts...)
			require.NoError(t, err)
			require.Len(t, batch, tc.nq)
			direct := batchDirect(t, ix, queries, tc.k, opts...)
			for j, q := range queries {
				rows, ds := oracle(vecs, q, -1, nil)
				res, err := ix.Search(ctx, q, tc.k, opts...)
				require.NoError(t, err)
				checkAgainstOracle(t, ix, vecs, q, res, rows, ds, tc.k)
				require.Equal(t, res, batch[j], "SearchBatch agrees with Search exactly")
				require.Equal(t, res, direct[j], "the direct batch path too")
			}
			require.Equal(t, fmt.Sprintf("id%d", tc.n/2), batch[0][0].ID)
			require.Zero(t, batch[0][0].Distance)
		})
	}
}

// batchDirect runs SearchBatch on the direct path (distances for every pair), which batches of
// at least boundedMinQueries queries otherwise leave for the bounded path.
func batchDirect(t *testing.T, ix *Index, queries [][]float32, k int, opts ...SearchOption) [][]Result {
	t.Helper()
	old := boundedMinQueries
	boundedMinQueries = math.MaxInt
	defer func() { boundedMinQueries = old }()
	res, err := ix.SearchBatch(context.Background(), queries, k, opts...)
	require.NoError(t, err)
	return res
}

// splitSmallScans lets searches over small test indexes use several workers.
func splitSmallScans(t *testing.T) {
	old := minWorkFloats
	minWorkFloats = 1
	t.Cleanup(func() { minWorkFloats = old })
}

// TestSearchTiesInInsertionOrder: equal vectors, hence equal distances, come back in
// insertion order, across worker boundaries and after a replace.
func TestSearchTiesInInsertionOrder(t *testing.T) {
	splitSmallScans(t)
	ix, err := NewIndex(5)
	require.NoError(t, err)
	v := []float32{1, 2, 3, 4, 5}
	far := []float32{9, 9, 9, 9, 9}
	var want []string
	for i := range 300 {
		id := fmt.Sprintf("t%03d", i)
		if i%3 == 0 {
			require.NoError(t, ix.Add(Item{ID: id, Vector: v}))
			want = append(want, id)
		} else {
			require.NoError(t, ix.Add(Item{ID: id, Vector: far}))
		}
	}
	for _, w := range []int{1, 2, 5} {
		res, err := ix.Search(context.Background(), []float32{1, 2, 3, 4, 6}, 100, WithWorkers(w))
		require.NoError(t, err)
		require.Len(t, res, 100)
		for i, r := range res {
			require.Equal(t, want[i], r.ID, "workers=%d rank %d", w, i)
			require.Equal(t, float32(1), r.Distance)
		}
	}
}

func TestSearchFilter(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	ix, vecs := newRandIndex(t, rng, 3000, 24)
	even := func(id string, meta map[string]string) bool {
		var n int
		fmt.Sscan(meta["n"], &n)
		return n%2 == 0
	}
	rare := func(id string, meta map[string]string) bool { return meta["n"] == "17" || meta["n"] == "2999" }
	none := func(string, map[string]string) bool { return false }
	q := randVectors(rng, 1, 24)
	for _, tc := range []struct {
		name string
		keep func(string, map[string]string) bool
		row  func(int) bool
		k    int
	}{
		{"even", even, func(r int) bool { return r%2 == 0 }, 25},
		{"two pass", rare, func(r int) bool { return r == 17 || r == 2999 }, 10},
		{"none pass", none, func(int) bool { return false }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, ds := oracle(vecs, q, -1, tc.row)
			res, err := ix.Search(ctx, q, tc.k, WithFilter(tc.keep))
			require.NoError(t, err)
			checkAgainstOracle(t, ix, vecs, q, res, rows, ds, tc.k)
			queries := [][]float32{q, q, vecs[5], vecs[6], vecs[7]}
			batch, err := ix.SearchBatch(ctx, queries, tc.k, WithFilter(tc.keep))
			require.NoError(t, err)
			require.Equal(t, res, batch[0])
			require.Equal(t, res, batch[1])
			require.Equal(t, batchDirect(t, ix, queries, tc.k, WithFilter(tc.keep)), batch)
		})
	}
}

func TestSearchSimilarLeavesItemOut(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	ix, vecs := newRandIndex(t, rng, 500, 16)
	// A duplicate of id7 under another ID: at distance 0, it must come first.
	require.NoError(t, ix.Add(Item{ID: "copy", Vector: vecs[7]}))
	res, err := ix.Similar(ctx, "id7", 5)
	require.NoError(t, err)
	require.Len(t, res, 5)
	assert.Equal(t, "copy", res[0].ID)
	assert.Zero(t, res[0].Distance)
	for _, r := range res {
		assert.NotEqual(t, "id7", r.ID)
	}
	rows, ds := oracle(vecs, vecs[7], 7, nil)
	checkAgainstOracle(t, ix, vecs, vecs[7], res[1:], rows, ds, 4)

	all, err := ix.Similar(ctx, "id3", 10000)
	require.NoError(t, err)
	assert.Len(t, all, ix.Len()-1)

	one, err := NewIndex(2)
	require.NoError(t, err)
	require.NoError(t, one.Add(Item{ID: "only", Vector: []float32{1, 2}}))
	res, err = one.Similar(ctx, "only", 3)
	require.NoError(t, err)
	assert.Empty(t, res)
}

func TestSearchErrors(t *testing.T) {
	ctx := context.Background()
	ix, err := NewIndex(3)
	require.NoError(t, err)
	empty, err := NewIndex(3)
	require.NoError(t, err)
	require.NoError(t, ix.Add(Item{ID: "a", Vector: []float32{1, 2, 3}}))
	good := []float32{0, 0, 0}
	nan := float32(math.NaN())
	inf := float32(math.Inf(-1))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"k=0", func() error { _, err := ix.Search(ctx, good, 0); return err }, ErrBadK},
		{"k<0", func() error { _, err := ix.Search(ctx, good, -3); return err }, ErrBadK},
		{"short query", func() error { _, err := ix.Search(ctx, good[:2], 1); return err }, ErrDimMismatch},
		{"nil query", func() error { _, err := ix.Search(ctx, nil, 1); return err }, ErrDimMismatch},
		{"long query", func() error { _, err := ix.Search(ctx, []float32{1, 2, 3, 4}, 1); return err }, ErrDimMismatch},
		{"NaN query", func() error { _, err := ix.Search(ctx, []float32{0, nan, 0}, 1); return err }, ErrNonFinite},
		{"Inf query", func() error { _, err := ix.Search(ctx, []float32{inf, 0, 0}, 1); return err }, ErrNonFinite},
		{"empty index", func() error { _, err := empty.Search(ctx, good, 1); return err }, ErrEmptyIndex},
		{"canceled", func() error { _, err := ix.Search(canceled, good, 1); return err }, context.Canceled},
		{"batch k", func() error { _, err := ix.SearchBatch(ctx, [][]float32{good}, 0); return err }, ErrBadK},
		{"batch bad query", func() error { _, err := ix.SearchBatch(ctx, [][]float32{good, {1}}, 1); return err }, ErrDimMismatch},
		{"batch NaN", func() error { _, err := ix.SearchBatch(ctx, [][]float32{{nan, 0, 0}}, 1); return err }, ErrNonFinite},
		{"batch empty index", func() error { _, err := empty.SearchBatch(ctx, [][]float32{good}, 1); return err }, ErrEmptyIndex},
		{"similar unknown", func() error { _, err := ix.Similar(ctx, "zz", 1); return err }, ErrNotFound},
		{"similar k", func() error { _, err := ix.Similar(ctx, "a", 0); return err }, ErrBadK},
		{"similar on empty", func() error { _, err := empty.Similar(ctx, "a", 1); return err }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	// A wrong-length query names both lengths.
	_, err = ix.Search(ctx, good[:2], 1)
	assert.EqualError(t, err, "search: query: length 2, index dimension 3: pinrec: dimension mismatch")
	_, err = ix.SearchBatch(ctx, [][]float32{good, {1}}, 1)
	assert.EqualError(t, err, "search batch: query 1: length 1, index dimension 3: pinrec: dimension mismatch")
	res, err := ix.SearchBatch(ctx, nil, 3)
	require.NoError(t, err)
	assert.Empty(t, res)
}

// TestSearchContextCancel cancels a long search from inside the filter: the scan stops at the
// next block and returns the context's error.
func TestSearchContextCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ix, _ := newRandIndex(t, rng, 20000, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	keep := func(string, map[string]string) bool { once.Do(cancel); return true }
	_, err := ix.Search(ctx, randVectors(rng, 1, 64), 5, WithFilter(keep))
	require.ErrorIs(t, err, context.Canceled)
	_, err = ix.SearchBatch(ctx, [][]float32{randVectors(rng, 1, 64)}, 5)
	require.ErrorIs(t, err, context.Canceled)
}

// TestSearchFilterPanicReachesCaller: a panic in the caller's filter comes back on the
// caller's goroutine, where it can be recovered, whichever worker hit it.
func TestSearchFilterPanicReachesCaller(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	ix, _ := newRandIndex(t, rng, 5000, 64)
	splitSmallScans(t)
	boom := func(string, map[string]string) bool { panic("boom") }
	assert.PanicsWithValue(t, "boom", func() {
		_, _ = ix.Search(context.Background(), randVectors(rng, 1, 64), 3, WithFilter(boom), WithWorkers(4))
	})
}

// TestIndexConcurrentSearchAndWrite runs searches, batches, Similar and reads while other
// goroutines add, replace and remove items (run it with -race). Every search must see a
// consistent index: results sorted, each result's distance that of the item's vector.
func TestIndexConcurrentSearchAndWrite(t *testing.T) {
	const dim = 32
	rng := rand.New(rand.NewPCG(15, 16))
	ix, _ := newRandIndex(t, rng, 2000, dim)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for i := range 40 {
				id := fmt.Sprintf("w%d-%d", w, i)
				require.NoError(t, ix.Add(Item{ID: id, Vector: randVectors(r, 1, dim)}))
				require.NoError(t, ix.Add(Item{ID: "id5", Vector: randVectors(r, 1, dim)})) // replace
				if i%2 == 1 {
					require.NoError(t, ix.Remove(fmt.Sprintf("w%d-%d", w, i-1)))
				}
			}
		})
	}
	for s := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(s), 7))
			for range 30 {
				q := randVectors(r, 1, dim)
				res, err := ix.Search(ctx, q, 10)
				require.NoError(t, err)
				require.Len(t, res, 10)
				require.True(t, slices.IsSortedFunc(res, func(a, b Result) int { return cmp.Compare(a.Distance, b.Distance) }))
				batch, err := ix.SearchBatch(ctx, [][]float32{q, q}, 5)
				require.NoError(t, err)
				require.Equal(t, batch[0], batch[1])
				_, err = ix.Similar(ctx, "id1", 3)
				require.NoError(t, err)
				_ = ix.IDs()
				_, _ = ix.Get("id5")
				_ = ix.Len()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 2000+3*20, ix.Len())
}

func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sz := range []struct{ n, dim int }{{10000, 128}, {10000, 2048}} {
		ix, _ := newRandIndex(b, rng, sz.n, sz.dim)
		q := randVectors(rng, 1, sz.dim)
		qs := make([][]float32, 32)
		for i := range qs {
			qs[i] = randVectors(rng, 1, sz.dim)
		}
		b.Run(fmt.Sprintf("n=%d/d=%d/single", sz.n, sz.dim), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(4 * sz.n * sz.dim))
			for b.Loop() {
				if _, err := ix.Search(context.Background(), q, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/d=%d/batch32", sz.n, sz.dim), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(4 * sz.n * sz.dim))
			for b.Loop() {
				if _, err := ix.SearchBatch(context.Background(), qs, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSearchNearTies builds items that tie in exact arithmetic (permutations of one vector,
// some nudged by a float32 ulp) so that float32 rounding decides their order: the check
// against the oracle must accept any order inside a tie group and nothing else.
func TestSearchNearTies(t *testing.T) {
	const n, dim = 300, 37
	rng := rand.New(rand.NewPCG(19, 20))
	base := randVectors(rng, 1, dim)
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	vecs := make([][]float32, n)
	for i := range vecs {
		v := slices.Clone(base)
		rng.Shuffle(dim, func(a, b int) { v[a], v[b] = v[b], v[a] })
		if i%3 == 0 {
			v[0] = math.Nextafter32(v[0], 2*v[0])
		}
		if i%7 == 0 { // clearly farther
			v[1] += 0.5
		}
		vecs[i] = v
		require.NoError(t, ix.Add(Item{ID: fmt.Sprintf("id%d", i), Vector: v}))
	}
	q := make([]float32, dim) // distance = norm: equal for permutations
	splitSmallScans(t)
	for _, k := range []int{1, 10, 100, n} {
		rows, ds := oracle(vecs, q, -1, nil)
		res, err := ix.Search(context.Background(), q, k, WithWorkers(3))
		require.NoError(t, err)
		ties := checkAgainstOracle(t, ix, vecs, q, res, rows, ds, k)
		swapped := 0
		for i, r := range res {
			if r.ID != fmt.Sprintf("id%d", rows[i]) {
				swapped++
			}
		}
		t.Logf("k=%d: %d ranks in near-tie groups, %d ordered differently from the float64 oracle", k, ties, swapped)
		queries := [][]float32{q, vecs[0], q, vecs[1], q}
		batch, err := ix.SearchBatch(context.Background(), queries, k, WithWorkers(3))
		require.NoError(t, err)
		require.Equal(t, res, batch[0])
		require.Equal(t, res, batch[4])
		require.Equal(t, batchDirect(t, ix, queries, k, WithWorkers(3)), batch)
		if k > 1 {
			require.Positive(t, ties, "the test must exercise near ties")
		}
	}
}

// TestSearchBatchLargeValues: vectors and queries whose squared norms do not fit the bounded
// path's float32 dot products make SearchBatch fall back to exact distances, block by block or
// for the whole batch, with the same results as Search.
func TestSearchBatchLargeValues(t *testing.T) {
	const dim = 16
	splitSmallScans(t)
	rng := rand.New(rand.NewPCG(25, 26))
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	for i := range 2000 {
		v := randVectors(rng, 1, dim)
		if i%500 == 7 { // one huge row in a few blocks
			for t := range v {
				v[t] *= 1e17
			}
		}
		require.NoError(t, ix.Add(Item{ID: fmt.Sprintf("id%d", i), Vector: v}))
	}
	huge := randVectors(rng, 1, dim)
	for t := range huge {
		huge[t] *= 3e18
	}
	for _, queries := range [][][]float32{
		{randVectors(rng, 1, dim), randVectors(rng, 1, dim), randVectors(rng, 1, dim), randVectors(rng, 1, dim)},
		{randVectors(rng, 1, dim), huge, randVectors(rng, 1, dim), randVectors(rng, 1, dim), randVectors(rng, 1, dim)},
	} {
		batch, err := ix.SearchBatch(context.Background(), queries, 7, WithWorkers(3))
		require.NoError(t, err)
		for j, q := range queries {
			res, err := ix.Search(context.Background(), q, 7)
			require.NoError(t, err)
			require.Equal(t, res, batch[j], "query %d", j)
		}
	}
}
