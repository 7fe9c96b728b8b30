package fidelity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Points on a line, hand-checked: 0, 1, 3, 7 (gaps 1, 2, 4).
var line = [][]float32{{0}, {1}, {3}, {7}}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		cand   [][]float32
		groups []int
		k      int
		want   Report
		tol    float64
	}{
		{
			name: "identical",
			cand: line, k: 2,
			want: Report{Images: 4, Groups: 4, K: 2, TopKOverlap: 1, MixedTopKOverlap: 1, Top1Agreement: 1, WorstCosine: 1},
		},
		{
			// Point 3 moves to 0.4, next to 0.
			name: "one point moves",
			cand: [][]float32{{0}, {1}, {0.4}, {7}}, k: 1,
			// top-1 of ref: 0->1, 1->0, 3->1, 7->3. cand: 0->0.4(j=2), 1->0.4(j=2), 0.4->0(j=0), 7->1(j=1).
			// None agree. Mixed (ref query vs cand rows): 0->0.4(2), 1->0.4(2), 3->1(1), 7->1(1): one agrees (row 2).
			want: Report{Images: 4, Groups: 4, K: 1, TopKOverlap: 0, MixedTopKOverlap: 0.25, Top1Agreement: 0,
				WorstCosine: 1, DiscriminativeRatio: 2.6 / 2, MaxAbsDiff: 2.6},
			tol: 1e-6,
		},
		{
			// Rows 0 and 1 are one picture: neither is the other's neighbour. Row 2's gap is to
			// row 1 (2), row 0's to row 2 (3).
			name: "groups",
			cand: [][]float32{{0}, {1}, {3.5}, {7}}, groups: []int{0, 0, 1, 2}, k: 1,
			want: Report{Images: 4, Groups: 3, K: 1, TopKOverlap: 1, MixedTopKOverlap: 1, Top1Agreement: 1,
				WorstCosine: 1, DiscriminativeRatio: 0.5 / 2, MaxAbsDiff: 0.5},
			tol: 1e-6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(line, tc.cand, tc.groups, tc.k)
			assert.Equal(t, tc.want.Images, got.Images)
			assert.Equal(t, tc.want.Groups, got.Groups)
			assert.Equal(t, tc.want.K, got.K)
			assert.InDelta(t, tc.want.TopKOverlap, got.TopKOverlap, tc.tol, "TopKOverlap")
			assert.InDelta(t, tc.want.MixedTopKOverlap, got.MixedTopKOverlap, tc.tol, "MixedTopKOverlap")
			assert.InDelta(t, tc.want.Top1Agreement, got.Top1Agreement, tc.tol, "Top1Agreement")
			assert.InDelta(t, tc.want.WorstCosine, got.WorstCosine, tc.tol, "WorstCosine")
			assert.InDelta(t, tc.want.DiscriminativeRatio, got.DiscriminativeRatio, tc.tol, "DiscriminativeRatio")
			assert.InDelta(t, tc.want.MaxAbsDiff, got.MaxAbsDiff, tc.tol, "MaxAbsDiff")
		})
	}
}

func TestCompareCosine(t *testing.T) {
	ref := [][]float32{{1, 0}, {0, 1}}
	cand := [][]float32{{1, 1}, {0, 2}}
	got := Compare(ref, cand, nil, 10)
	require.Equal(t, 1, got.K, "two pictures: one neighbour each")
	assert.InDelta(t, 0.7071068, got.WorstCosine, 1e-6)
	assert.InDelta(t, 1.0, got.MaxAbsDiff, 0)
}

func TestComparePanicsOnLengths(t *testing.T) {
	require.Panics(t, func() { Compare(line, line[:2], nil, 1) })
}
