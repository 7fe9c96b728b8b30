package ann

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/internal/synth"
)

// TestFilteredRecall searches with a filter that keeps 1% of the items (IDs p7, p107, ...,
// unrelated to the vectors; the index scans them exactly, and, forced to, walks the graph for
// them), with metadata matches that keep 1% or 2% (an exact scan of the items the inverted
// lists select), a quarter (a walk), and a match and a filter together: every search returns
// k results that pass, and recall@10 against the exact filtered top 10 is at least 0.9, at
// the index's default (calibrated) search. Similar with the 1% match leaves its item out.
func TestFilteredRecall(t *testing.T) {
	n := 10000 / raceScale
	exact, qs := testData(t, 31, n, 200/raceScale, 48)
	// A metadata key that 1% of the items have the value "7" of: the inverted lists' path.
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(t, err)
		it.Meta["bucket"] = strconv.Itoa(i % 100)
		items = append(items, it)
	}
	require.NoError(t, exact.Add(items...))
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2))
	require.NoError(t, err)
	rare := func(id string, _ map[string]string) bool {
		i, err := strconv.Atoi(id[1:])
		return err == nil && i%100 == 7
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		opt       pinrec.SearchOption
		graphOnly bool
	}{
		{"1% by a filter function", pinrec.WithFilter(rare), false},
		{"1% by the walk alone", pinrec.WithFilter(rare), true},
		{"25% by metadata", pinrec.WithMeta("shard", "2"), false},
		{"1% by metadata", pinrec.WithMeta("bucket", "7"), false},
		{"1% by metadata, two values", pinrec.WithMeta("bucket", "7", "8"), false},
		{"1% by metadata and a filter", func(p *pinrec.SearchParams) {
			pinrec.WithMeta("shard", "3")(p)
			pinrec.WithFilter(func(id string, _ map[string]string) bool { return id[len(id)-1] == '7' })(p)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.graphOnly = tc.graphOnly
			defer func() { a.graphOnly = false }()
			hit, total := 0, 0
			for _, q := range qs {
				want, err := exact.Search(ctx, q, 10, tc.opt)
				require.NoError(t, err)
				got, err := a.Search(ctx, q, 10, tc.opt)
				require.NoError(t, err)
				require.Len(t, got, 10)
				in := map[string]bool{}
				for _, r := range got {
					in[r.ID] = true
					it, err := exact.Get(r.ID)
					require.NoError(t, err)
					require.True(t, pinrec.NewSearchParams(tc.opt).Keep(r.ID, it.Meta), r.ID)
				}
				for _, r := range want {
					if in[r.ID] {
						hit++
					}
					total++
				}
			}
			r := float64(hit) / float64(total)
			t.Logf("%s: recall@10 %.4f against the exact filtered top 10 (ef %s)", tc.name, r, a.Stats()["ef_search"])
			assert.GreaterOrEqual(t, r, 0.9)
		})
	}
}

// TestFilteredSimilar: Similar with a metadata match that few items pass (the exact scan of
// the items the inverted lists select) returns the exact filtered neighbours, leaving the item
// itself out.
func TestFilteredSimilar(t *testing.T) {
	exact, _ := testData(t, 32, 3000, 1, 16)
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(t, err)
		it.Meta["bucket"] = strconv.Itoa(i % 100)
		items = append(items, it)
	}
	require.NoError(t, exact.Add(items...))
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(1))
	require.NoError(t, err)
	ctx := context.Background()
	for _, id := range []string{"p7", "p1507", "p2999"} {
		it, err := exact.Get(id)
		require.NoError(t, err)
		got, err := a.Similar(ctx, id, 5, pinrec.WithMeta("bucket", it.Meta["bucket"]))
		require.NoError(t, err)
		want, err := exact.Search(ctx, it.Vector, 6, pinrec.WithMeta("bucket", it.Meta["bucket"]),
			pinrec.WithFilter(func(x string, _ map[string]string) bool { return x != id }))
		require.NoError(t, err)
		require.Len(t, got, 5)
		for i := range got {
			assert.Equal(t, want[i].ID, got[i].ID, "%s rank %d", id, i)
		}
	}
}

// bruteFiltered is the oracle of the filtered tests: the k items nearest to q among those
// that pass p, by distances computed here in float64 from the items' vectors, nearest first.
func bruteFiltered(items []pinrec.Item, q []float32, k int, p pinrec.SearchParams) []pinrec.Result {
	var all []pinrec.Result
	for _, it := range items {
		if !p.Keep(it.ID, it.Meta) {
			continue
		}
		var s float64
		for j, v := range it.Vector {
			d := float64(v) - float64(q[j])
			s += d * d
		}
		all = append(all, pinrec.Result{ID: it.ID, Distance: float32(math.Sqrt(s))})
	}
	slices.SortStableFunc(all, func(a, b pinrec.Result) int { return cmp.Compare(a.Distance, b.Distance) })
	return all[:min(k, len(all))]
}

// allItems returns copies of every item of ix, in row order.
func allItems(t *testing.T, ix *pinrec.Index) []pinrec.Item {
	t.Helper()
	var items []pinrec.Item
	for _, id := range ix.IDs() {
		it, err := ix.Get(id)
		require.NoError(t, err)
		items = append(items, it)
	}
	return items
}

// checkFilteredAnswer checks one filtered answer against the brute-force one: as many
// results (k, or every item that passes when fewer do), each passing the filter, with its
// exact distance, nearest first; it returns how many of want it found.
func checkFilteredAnswer(t *testing.T, byID map[string]pinrec.Item, p pinrec.SearchParams, got, want []pinrec.Result) int {
	t.Helper()
	require.Len(t, got, len(want))
	in := map[string]bool{}
	for i, r := range got {
		in[r.ID] = true
		it, ok := byID[r.ID]
		require.True(t, ok, r.ID)
		require.True(t, p.Keep(r.ID, it.Meta), "%s does not pass", r.ID)
		var s float64
		for j, v := range it.Vector {
			d := float64(v) - float64(byID["\x00q"].Vector[j])
			s += d * d
		}
		assert.InDelta(t, math.Sqrt(s), r.Distance, 1e-3*max(1, math.Sqrt(s)), r.ID)
		if i > 0 {
			assert.LessOrEqual(t, got[i-1].Distance, r.Distance, "rank %d", i)
		}
	}
	hit := 0
	for _, r := range want {
		if in[r.ID] {
			hit++
		}
	}
	return hit
}

// TestFilteredSelectivity: filters that keep 0.1%, 1%, 10%, 50%, none and all of the items,
// as a filter function and as a metadata match, through Search (which chooses between the
// scan of the items that pass and the filtered walk), the scan alone and the walk alone:
// every answer has min(k, passing) results that pass, with exact distances, nearest first,
// and recall@10 against a brute force over the items that pass is at least 0.9 (every search
// that keeps 0.1% keeps fewer items than the scan re-ranks exactly: recall 1).
func TestFilteredSelectivity(t *testing.T) {
	n := 10000 / raceScale
	exact, qs := testData(t, 41, n, 60/raceScale, 32)
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(t, err)
		for _, m := range []int{1000, 100, 10, 2} {
			it.Meta["m"+strconv.Itoa(m)] = strconv.Itoa(i % m)
		}
		items = append(items, it)
	}
	require.NoError(t, exact.Add(items...))
	a, err := Build(context.Background(), cloneExact(t, exact), WithWorkers(2))
	require.NoError(t, err)
	byID := map[string]pinrec.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	mod := func(m, v int) pinrec.SearchOption {
		return pinrec.WithFilter(func(id string, _ map[string]string) bool {
			i, err := strconv.Atoi(id[1:])
			return err == nil && i%m == v
		})
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opt  pinrec.SearchOption
	}{
		{"function 0.1%", mod(1000, 7)},
		{"function 1%", mod(100, 7)},
		{"function 10%", mod(10, 7)},
		{"function 50%", mod(2, 1)},
		{"function none", pinrec.WithFilter(func(string, map[string]string) bool { return false })},
		{"function all", pinrec.WithFilter(func(string, map[string]string) bool { return true })},
		{"metadata 0.1%", pinrec.WithMeta("m1000", "7")},
		{"metadata 1%", pinrec.WithMeta("m100", "7")},
		{"metadata 10%", pinrec.WithMeta("m10", "7")},
		{"metadata 50%", pinrec.WithMeta("m2", "1")},
		{"metadata none", pinrec.WithMeta("m2", "2")},
		{"metadata all", pinrec.WithMeta("shard", "0", "1", "2", "3")},
	} {
		p := pinrec.NewSearchParams(tc.opt)
		for _, way := range []string{"search", "scan", "walk"} {
			t.Run(tc.name+"/"+way, func(t *testing.T) {
				a.graphOnly = way == "walk"
				defer func() { a.graphOnly = false }()
				hit, total := 0, 0
				for _, q := range qs {
					want := bruteFiltered(items, q, 10, p)
					var got []pinrec.Result
					var err error
					if way == "scan" {
						a.mu.RLock()
						got, err = a.scanFiltered(ctx, q, 10, "", p)
						a.mu.RUnlock()
					} else {
						got, err = a.Search(ctx, q, 10, tc.opt)
					}
					require.NoError(t, err)
					byID["\x00q"] = pinrec.Item{Vector: q}
					hit += checkFilteredAnswer(t, byID, p, got, want)
					total += len(want)
				}
				if total == 0 {
					return // none pass: every answer was empty
				}
				r := float64(hit) / float64(total)
				t.Logf("recall@10 %.4f", r)
				assert.GreaterOrEqual(t, r, 0.9)
				if strings.Contains(tc.name, "0.1%") && way != "walk" {
					assert.Equal(t, 1.0, r, "every item that passes is re-ranked exactly")
				}
			})
		}
	}
}

// TestFilteredPanic: a filter function that panics makes Search, Similar and the scan of the
// items that pass panic with its value on the caller's goroutine, whether it panics on every
// item or on one only (reached by the scan, not by the sample that chooses it); the index
// stays usable afterwards (its locks are released).
func TestFilteredPanic(t *testing.T) {
	exact, qs := testData(t, 43, 3000, 1, 16)
	a, err := Build(context.Background(), exact, WithWorkers(1))
	require.NoError(t, err)
	ctx := context.Background()
	always := pinrec.WithFilter(func(string, map[string]string) bool { panic("boom") })
	once := pinrec.WithFilter(func(id string, _ map[string]string) bool {
		if id == "p2001" {
			panic("boom")
		}
		return strings.HasSuffix(id, "01")
	})
	for _, tc := range []struct {
		name string
		opt  pinrec.SearchOption
	}{
		{"every item", always},
		{"one item", once},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.PanicsWithValue(t, "boom", func() { _, _ = a.Search(ctx, qs[0], 5, tc.opt) })
			assert.PanicsWithValue(t, "boom", func() { _, _ = a.Similar(ctx, "p7", 5, tc.opt) })
			assert.PanicsWithValue(t, "boom", func() {
				a.mu.RLock()
				defer a.mu.RUnlock()
				_, _ = a.scanFiltered(ctx, qs[0], 5, "", pinrec.NewSearchParams(tc.opt))
			})
			res, err := a.Search(ctx, qs[0], 5)
			require.NoError(t, err)
			require.Len(t, res, 5)
			require.NoError(t, a.Remove("p1"))
			it, err := exact.Get("p2")
			require.NoError(t, err)
			it.ID = "p1"
			require.NoError(t, a.Add(it))
		})
	}
}

// TestFilteredScanAfterChanges: the scan of the items that pass maps the exact index's rows to
// graph nodes; after Remove (the rows after a removed item shift), Add of new items and of
// replacements (a new node for a row that stays), Compact (the nodes renumbered), and in
// Similar (the item itself left out), its answers equal the brute force over the items that
// pass (a filter that keeps at most 64 items: every one re-ranked exactly).
func TestFilteredScanAfterChanges(t *testing.T) {
	exact, qs := testData(t, 44, 3000, 20, 16)
	a, err := Build(context.Background(), exact, WithWorkers(1))
	require.NoError(t, err)
	ctx := context.Background()
	keep := pinrec.WithFilter(func(id string, _ map[string]string) bool { return strings.HasSuffix(id, "07") })
	p := pinrec.NewSearchParams(keep)
	check := func(stage string) {
		items := allItems(t, exact)
		for i, q := range qs {
			want := bruteFiltered(items, q, 10, p)
			got, err := a.Search(ctx, q, 10, keep)
			require.NoError(t, err)
			require.Len(t, got, len(want), stage)
			for j := range want {
				assert.Equal(t, want[j].ID, got[j].ID, "%s: query %d rank %d", stage, i, j)
			}
		}
		// Similar of an item that passes leaves it out.
		it := items[len(items)/2]
		for _, c := range items {
			if p.Keep(c.ID, c.Meta) {
				it = c
			}
		}
		got, err := a.Similar(ctx, it.ID, 5, keep)
		require.NoError(t, err)
		want := bruteFiltered(items, it.Vector, 6, p)[1:]
		require.Len(t, got, len(want))
		for j := range want {
			assert.Equal(t, want[j].ID, got[j].ID, "%s: similar rank %d", stage, j)
		}
	}
	check("built")
	var gone []string
	for i := 0; i < 3000; i += 3 {
		gone = append(gone, fmt.Sprint("p", i))
	}
	require.NoError(t, a.Remove(gone...))
	check("removed")
	s := synth.New(45, 16, 12, 40)
	var add []pinrec.Item
	for i := range 200 {
		add = append(add, pinrec.Item{ID: fmt.Sprintf("n%d", i), Vector: s.Draw()}) // n107 passes
	}
	for i := 1; i < 3000; i += 50 {
		add = append(add, pinrec.Item{ID: fmt.Sprint("p", i), Vector: s.Draw()}) // replaced
	}
	require.NoError(t, a.Add(add...))
	check("added")
	a.Compact()
	check("compacted")
}
