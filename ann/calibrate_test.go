package ann

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/internal/stats"
)

// TestCalibratedRecallHoldsOnFreshQueries builds with a target recall and checks the recorded
// recall against recall@10 measured on fresh queries from the same distribution (drawn after
// the collection, never in it), at the default search the calibration chose: within 0.01.
//
// The bound: the recorded figure is a mean over the 4,000 held-out queries that did not
// choose efSearch, the fresh one a mean over 10,000 queries; both estimate the same recall
// without bias (the calibration's graph lacks the 10% held-out items, which costs these data
// well under 0.005). Per-query recall@10 has a standard deviation of at most 0.15 on these
// data (0.148 at target 0.9, 0.093 at 0.95, 0.049 at 0.99; the test logs it), so the
// difference of the two means has a standard error of at most 0.15·sqrt(1/4000 + 1/10000) =
// 0.0028: 0.01 is 3.6 standard errors, a false failure about once in 3,000 runs at target 0.9
// and far less often at the others. The graph is not bit-identical on every CPU (two build
// workers, distance kernels that differ in their last bits), so these odds, not a fixed
// graph, make the test safe. Under -race (data a third the size, 1,333 recording queries)
// the bound is 0.025, 5 standard errors: the race run checks the locking.
func TestCalibratedRecallHoldsOnFreshQueries(t *testing.T) {
	n, nq := 60000/raceScale, 10000/raceScale
	bound := 0.01
	if raceScale > 1 {
		bound = 0.025
	}
	exact, qs := testData(t, 11, n, nq, 32)
	for _, tc := range []struct {
		name   string
		target float64
	}{
		{"target 0.9", 0.9},
		{"target 0.95 (default)", 0},
		{"target 0.99", 0.99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithWorkers(2), WithEfConstruction(24), WithM(6)}
			target := DefaultTargetRecall
			if tc.target > 0 {
				opts = append(opts, WithTargetRecall(tc.target))
				target = tc.target
			}
			a, err := Build(context.Background(), cloneExact(t, exact), opts...)
			require.NoError(t, err)
			c := a.Calibration()
			assert.Equal(t, target, c.Target)
			held := min(6000, n/10)
			assert.Equal(t, held-(held+2)/3, c.Queries)
			assert.Equal(t, n, c.Items)
			assert.GreaterOrEqual(t, c.Recall, target-bound)
			assert.Equal(t, fmt.Sprint(c.EfSearch), a.Stats()["ef_search"])
			fresh, sd := recallSD(t, a, exact, qs)
			t.Logf("target %.2f: efSearch %d, recorded recall@10 %.4f, fresh queries %.4f (per-query sd %.3f)", target, c.EfSearch, c.Recall, fresh, sd)
			assert.InDelta(t, c.Recall, fresh, bound, "recorded vs fresh")
			assert.GreaterOrEqual(t, fresh, target-bound)
			// The choice is not wasteful: one step down the ladder does not clear the target by
			// more than the margin.
			if i := indexOf(efLadder, c.EfSearch); i > 0 {
				lower := recallAt10(t, a, exact, qs[:len(qs)/4], pinrec.WithEffort(efLadder[i-1]))
				t.Logf("  one step down (ef %d): fresh %.4f", efLadder[i-1], lower)
				assert.Less(t, lower, target+0.01)
			}
		})
	}
}

// recallSD is recallAt10 with the standard deviation of the per-query recall.
func recallSD(t testing.TB, s, oracle pinrec.Searcher, qs [][]float32) (mean, sd float64) {
	t.Helper()
	per := make([]float64, len(qs))
	for i := range qs {
		per[i] = recallAt10(t, s, oracle, qs[i:i+1])
	}
	mean, se := stats.MeanSE(per)
	return mean, se * math.Sqrt(float64(len(per)))
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestCalibrationOptions: WithEfSearch keeps the given efSearch and measures it; target 0
// measures nothing; tiny collections and bad targets.
func TestCalibrationOptions(t *testing.T) {
	exact, _ := testData(t, 12, 600, 1, 16)
	ctx := context.Background()

	a, err := Build(ctx, cloneExact(t, exact), WithEfSearch(12))
	require.NoError(t, err)
	c := a.Calibration()
	assert.Equal(t, 12, c.EfSearch, "recorded as given (measured at max(12, 2k) = 20, as a default search of 10 runs)")
	assert.Equal(t, 60, c.Queries, "a given efSearch: every held-out item measures it")
	assert.Equal(t, "12", a.Stats()["ef_search"])
	assert.NotEmpty(t, a.Stats()["recall_at_10"])

	a, err = Build(ctx, cloneExact(t, exact), WithTargetRecall(0))
	require.NoError(t, err)
	assert.Equal(t, Calibration{}, a.Calibration())
	assert.Equal(t, fmt.Sprint(DefaultEfSearch), a.Stats()["ef_search"])
	assert.Empty(t, a.Stats()["recall_at_10"])
	assert.Equal(t, 600, a.Len())

	one, err := pinrec.NewIndex(16)
	require.NoError(t, err)
	it, err := exact.Get("p1")
	require.NoError(t, err)
	require.NoError(t, one.Add(it))
	a, err = Build(ctx, one)
	require.NoError(t, err)
	assert.Equal(t, 0, a.Calibration().Queries, "one item: nothing to measure")
	assert.Equal(t, 1, a.Len())

	for _, bad := range []float64{-0.1, 1.5, nanValue()} {
		_, err := New(8, WithTargetRecall(bad))
		assert.ErrorIs(t, err, ErrBadOption, "%v", bad)
	}
}

// TestCalibrationOfTinyIndexes: below efSearch items the search is the exact scan, so the
// recorded recall is 1 (the held-out items are not found while they are held out); one
// held-out item both chooses and records, more split in halves.
func TestCalibrationOfTinyIndexes(t *testing.T) {
	for _, n := range []int{2, 5, 12, 40} {
		exact, _ := testData(t, 13, n, 1, 8)
		a, err := Build(context.Background(), exact, WithWorkers(1))
		require.NoError(t, err)
		c := a.Calibration()
		held := max(1, n/10)
		assert.Equal(t, max(1, held-(held+2)/3), c.Queries, "n=%d", n)
		assert.Equal(t, 1.0, c.Recall, "n=%d", n)
		assert.Equal(t, n, a.Len())
	}
}

// TestDefaultEf: a search of k without an efSearch of its own runs at efSearch+k-10 for k
// above 10, at least 2k, at most MaxEf unless efSearch is more.
func TestDefaultEf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		efs, k int
		want   int
	}{
		{"k=10: the calibrated efSearch", 256, 10, 256},
		{"k under 10: not less", 256, 1, 256},
		{"serve's k: ten slots more per ten results", 256, 29, 275},
		{"200k's default at k=30", 64, 30, 84},
		{"floor for k=10", 12, 10, 20},
		{"floor above the slack", 20, 29, 58},
		{"k=1", 20, 1, 20},
		{"capped at MaxEf", 20, 5000, MaxEf},
		{"slack capped at MaxEf", MaxEf - 5, 100, MaxEf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, defaultEf(tc.efs, tc.k))
		})
	}
	assert.Equal(t, efFloorPerK*calibrationK, efLadder[0], "the calibration starts at the floor of k=10")
}

// TestDefaultSearchScalesWithK: the default search of k is the search at the efSearch
// defaultEf gives (worked out by hand here), not the narrower k+1, and its recall@k against
// the exact top k (brute force) holds for k from 1 to 50, at or above the recall at efSearch
// k+1: on a graph whose calibration chose the floor (20) and on one built with efSearch 40.
// A sparse graph (M=6) so that recall is not 1 everywhere.
func TestDefaultSearchScalesWithK(t *testing.T) {
	exact, qs := testData(t, 14, 20000/raceScale, 300, 32)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opt  Option
		efs  int
		ef   map[int]int // k -> the default search's efSearch
	}{
		{"calibrated to the floor", WithTargetRecall(0.5), 20, map[int]int{1: 20, 10: 20, 20: 40, 30: 60, 50: 100}},
		{"efSearch 40", WithEfSearch(40), 40, map[int]int{1: 40, 10: 40, 20: 50, 30: 60, 50: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Build(ctx, cloneExact(t, exact), WithWorkers(2), WithM(6), WithEfConstruction(24), tc.opt)
			require.NoError(t, err)
			require.Equal(t, tc.efs, a.Calibration().EfSearch)
			for _, k := range []int{1, 10, 20, 30, 50} {
				ef := tc.ef[k]
				hit, hitNarrow, total := 0, 0, 0
				for _, q := range qs {
					got, err := a.Search(ctx, q, k)
					require.NoError(t, err)
					at, err := a.Search(ctx, q, k, pinrec.WithEffort(ef))
					require.NoError(t, err)
					require.Equal(t, at, got, "k=%d: the default search is the search at efSearch %d", k, ef)
					narrow, err := a.Search(ctx, q, k, pinrec.WithEffort(k+1))
					require.NoError(t, err)
					want, err := exact.Search(ctx, q, k)
					require.NoError(t, err)
					hit += overlap(got, want)
					hitNarrow += overlap(narrow, want)
					total += len(want)
				}
				recall, narrow := float64(hit)/float64(total), float64(hitNarrow)/float64(total)
				t.Logf("k=%d: efSearch %d, recall@%d %.4f; at efSearch k+1 %.4f", k, ef, k, recall, narrow)
				assert.GreaterOrEqual(t, recall, 0.9, "k=%d", k)
				assert.GreaterOrEqual(t, recall, narrow-0.005, "k=%d", k)
			}
		})
	}
}

// overlap counts the results of got whose IDs are in want.
func overlap(got, want []pinrec.Result) int {
	in := make(map[string]bool, len(want))
	for _, r := range want {
		in[r.ID] = true
	}
	n := 0
	for _, r := range got {
		if in[r.ID] {
			n++
		}
	}
	return n
}
