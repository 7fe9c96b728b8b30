package foryou

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bruteWard is the oracle: at every step it recomputes the merge cost of every pair of
// clusters from their means and sizes and merges the cheapest pair. It returns the merge
// heights in order and, after each step, the partition (cluster of each item).
func bruteWard(vectors [][]float32) (heights []float64, partitions [][]int) {
	n, dim := len(vectors), len(vectors[0])
	type cl struct {
		members []int
		mean    []float64
	}
	var cls []cl
	for i, v := range vectors {
		m := make([]float64, dim)
		for t, x := range v {
			m[t] = float64(x)
		}
		cls = append(cls, cl{[]int{i}, m})
	}
	for len(cls) > 1 {
		bi, bj, best := -1, -1, math.Inf(1)
		for i := range cls {
			for j := i + 1; j < len(cls); j++ {
				var s float64
				for t := range dim {
					d := cls[i].mean[t] - cls[j].mean[t]
					s += d * d
				}
				na, nb := float64(len(cls[i].members)), float64(len(cls[j].members))
				h := math.Sqrt(2 * na * nb / (na + nb) * s)
				if h < best {
					bi, bj, best = i, j, h
				}
			}
		}
		a, b := cls[bi], cls[bj]
		na, nb := float64(len(a.members)), float64(len(b.members))
		mean := make([]float64, dim)
		for t := range dim {
			mean[t] = (na*a.mean[t] + nb*b.mean[t]) / (na + nb)
		}
		merged := cl{append(slices.Clone(a.members), b.members...), mean}
		cls = append(cls[:bj], cls[bj+1:]...)
		cls[bi] = merged
		heights = append(heights, best)
		part := make([]int, n)
		for c, x := range cls {
			for _, i := range x.members {
				part[i] = c
			}
		}
		partitions = append(partitions, part)
	}
	return heights, partitions
}

// samePartition reports whether two labelings group the items the same way.
func samePartition(a, b []int) bool {
	ab, ba := map[int]int{}, map[int]int{}
	for i := range a {
		if x, ok := ab[a[i]]; ok && x != b[i] {
			return false
		}
		if y, ok := ba[b[i]]; ok && y != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return true
}

func randomVectors(r *rand.Rand, n, dim, blobs int) [][]float32 {
	centres := make([][]float32, blobs)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for t := range dim {
			centres[c][t] = float32(r.NormFloat64() * 3)
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[r.IntN(blobs)]
		out[i] = make([]float32, dim)
		for t := range dim {
			out[i][t] = c[t] + float32(r.NormFloat64())
		}
	}
	return out
}

func TestWardAgainstBruteForce(t *testing.T) {
	cases := []struct {
		name          string
		n, dim, blobs int
	}{
		{"two items", 2, 3, 1},
		{"three items", 3, 2, 1},
		{"one blob", 12, 4, 1},
		{"three blobs", 30, 8, 3},
		{"many blobs", 45, 5, 9},
		{"odd dim", 25, 67, 4},
		{"one dim", 20, 1, 3},
	}
	for _, tc := range cases {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 7))
				vecs := randomVectors(r, tc.n, tc.dim, tc.blobs)
				merges, err := Ward(vecs)
				require.NoError(t, err)
				heights, parts := bruteWard(vecs)
				require.Len(t, merges, tc.n-1)
				for i, m := range merges {
					assert.InDelta(t, heights[i], m.Height, 1e-4*(1+heights[i]), "merge %d", i)
					assert.Less(t, m.A, m.B)
					assert.Less(t, m.B, tc.n+i, "merge %d names a later cluster", i)
				}
				// The partition after i+1 merges is the cut between heights i and i+1.
				for i := range merges {
					cut := merges[i].Height
					if i+1 < len(merges) {
						cut = (merges[i].Height + merges[i+1].Height) / 2
					}
					labels := Cut(tc.n, merges, cut)
					assert.True(t, samePartition(parts[i], labels), "after %d merges: want %v, got %v", i+1, parts[i], labels)
				}
				// Sizes follow from the numbering.
				size := func(c int) int {
					if c < tc.n {
						return 1
					}
					return merges[c-tc.n].Size
				}
				for _, m := range merges {
					assert.Equal(t, size(m.A)+size(m.B), m.Size)
				}
			})
		}
	}
}

func TestWardHandExample(t *testing.T) {
	// Points 0, 1 and 10 on a line: 0 and 1 merge at 1; then {0,1} (mean 0.5) and 10 merge
	// at sqrt(2*2*1/3) * 9.5.
	merges, err := Ward([][]float32{{0}, {10}, {1}})
	require.NoError(t, err)
	require.Len(t, merges, 2)
	assert.Equal(t, Merge{A: 0, B: 2, Height: 1, Size: 2}, merges[0])
	assert.Equal(t, 1, merges[1].A)
	assert.Equal(t, 3, merges[1].B)
	assert.InDelta(t, math.Sqrt(4.0/3)*9.5, merges[1].Height, 1e-9)
	assert.Equal(t, []int{0, 1, 0}, Cut(3, merges, 5))
	assert.Equal(t, []int{0, 1, 2}, Cut(3, merges, 0.5))
	assert.Equal(t, []int{0, 0, 0}, Cut(3, merges, 100))
}

func TestWardBadInput(t *testing.T) {
	cases := []struct {
		name    string
		vectors [][]float32
		want    string
	}{
		{"ragged", [][]float32{{1, 2}, {1}}, "vector 1 has 1 values"},
		{"nan", [][]float32{{1}, {float32(math.NaN())}}, "non-finite"},
		{"inf", [][]float32{{float32(math.Inf(1))}, {1}}, "non-finite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Ward(tc.vectors)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	m, err := Ward(nil)
	assert.NoError(t, err)
	assert.Empty(t, m)
	m, err = Ward([][]float32{{1}})
	assert.NoError(t, err)
	assert.Empty(t, m)
	assert.Equal(t, []int{0}, Cut(1, nil, 0))
}
