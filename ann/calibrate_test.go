package ann

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// TestCalibratedRecallHoldsOnFreshQueries builds with a target recall and checks the recorded
// recall against recall@10 measured on fresh queries from the same distribution (drawn after
// the collection, never in it), at the default search the calibration chose.
//
// The bound: each figure is a mean over 500 queries (150 under -race) of per-query recall@10,
// whose standard deviation is at most about 0.1 at recall 0.9-0.99 on these data, so each
// mean has a standard error of about 0.0045 (0.008 under -race) and their difference about
// 0.0065 (0.012); stopping at the first efSearch that crosses the target biases the recorded
// figure up by a fraction of that. 0.02 is three standard errors of the difference (1.7 under
// -race, where the graph is smaller and the check is of the locking). The build uses one
// thread, so the graph, and both figures, are the same on every run.
func TestCalibratedRecallHoldsOnFreshQueries(t *testing.T) {
	n, nq := 5000/raceScale, 500/raceScale
	exact, qs := testData(t, 11, n, nq, 96)
	for _, tc := range []struct {
		name   string
		target float64
	}{
		{"target 0.9", 0.9},
		{"target 0.95 (default)", 0},
		{"target 0.99", 0.99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithWorkers(1), WithEfConstruction(24), WithM(6)}
			target := DefaultTargetRecall
			if tc.target > 0 {
				opts = append(opts, WithTargetRecall(tc.target))
				target = tc.target
			}
			a, err := Build(context.Background(), cloneExact(t, exact), opts...)
			require.NoError(t, err)
			c := a.Calibration()
			assert.Equal(t, target, c.Target)
			assert.Equal(t, min(500, n/10), c.Queries)
			assert.Equal(t, n, c.Items)
			assert.GreaterOrEqual(t, c.Recall, target)
			assert.Equal(t, fmt.Sprint(c.EfSearch), a.Stats()["ef_search"])
			fresh := recallAt10(t, a, exact, qs)
			t.Logf("target %.2f: efSearch %d, recorded recall@10 %.4f, fresh queries %.4f", target, c.EfSearch, c.Recall, fresh)
			assert.InDelta(t, c.Recall, fresh, 0.02, "recorded vs fresh")
			assert.GreaterOrEqual(t, fresh, target-0.02)
			// The choice is not wasteful: one step down the ladder does not clear the target by
			// more than the margin.
			if i := indexOf(efLadder, c.EfSearch); i > 0 {
				lower := recallAt10(t, a, exact, qs, pinrec.WithEffort(efLadder[i-1]))
				t.Logf("  one step down (ef %d): fresh %.4f", efLadder[i-1], lower)
				assert.Less(t, lower, target+0.01)
			}
		})
	}
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

	a, err := Build(ctx, cloneExact(t, exact), WithEfSearch(20))
	require.NoError(t, err)
	c := a.Calibration()
	assert.Equal(t, 20, c.EfSearch)
	assert.Equal(t, 60, c.Queries)
	assert.Equal(t, "20", a.Stats()["ef_search"])
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
// recorded recall is 1 (the held-out items are not found while they are held out).
func TestCalibrationOfTinyIndexes(t *testing.T) {
	for _, n := range []int{2, 5, 12, 40} {
		exact, _ := testData(t, 13, n, 1, 8)
		a, err := Build(context.Background(), exact, WithWorkers(1))
		require.NoError(t, err)
		c := a.Calibration()
		assert.Equal(t, max(1, n/10), c.Queries, "n=%d", n)
		assert.Equal(t, 1.0, c.Recall, "n=%d", n)
		assert.Equal(t, n, a.Len())
	}
}
