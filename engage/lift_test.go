package engage

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stuffing: 500 more users save far. For the query a (at 1), the candidates' distances are
// q 1, b 1, c 2, d 3, far 9, so v is q 1, b 1, c 7/8, d 6/8, far 0. Nobody saved a, so each
// item's co-save term is its popularity saves/U with U = 503 savers: far 501/503, q 2/503,
// b and c 1/503; times w_c = 100: far 99.6, q 0.40, b and c 0.20 (w_e = 0). Unbounded, far
// comes first; WithMaxLift(l) caps each lift at l.
func TestMaxLift(t *testing.T) {
	ix, s := rankFixture(t)
	for i := range 500 {
		_, err := s.Record(context.Background(), Event{User: fmt.Sprintf("stuffer%d", i), Item: "far", Action: Save})
		require.NoError(t, err)
	}
	rk, err := NewRanker(ix, s)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		opts []RankOption
		want []string
	}{
		// far 99.6, q 1.40, b 1.20, c 1.075, d 0.75
		{"unbounded (default)", nil, []string{"far", "q", "b", "c", "d"}},
		{"NaN means the default", []RankOption{WithMaxLift(math.NaN())}, []string{"far", "q", "b", "c", "d"}},
		// q 1.25, b 1.20, c 1.075, d 0.75, far 0.25
		{"lift 0.25", []RankOption{WithMaxLift(0.25)}, []string{"q", "b", "c", "d", "far"}},
		// q 1.40, b 1.20, c 1.075, far 0.80, d 0.75
		{"lift 0.8", []RankOption{WithMaxLift(0.8)}, []string{"q", "b", "c", "far", "d"}},
		// no lift: the visual order, ties by distance (q before b: the searcher's order)
		{"negative means 0", []RankOption{WithMaxLift(-1)}, []string{"q", "b", "c", "d", "far"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rk.Similar(context.Background(), "a", 5, tc.opts...)
			require.NoError(t, err)
			var got []string
			for _, r := range res {
				got = append(got, r.ID)
				if r.ID == "far" && len(tc.opts) > 0 && tc.name != "NaN means the default" {
					assert.LessOrEqual(t, r.Score, r.Visual+0.8+1e-12, "far's lift is bounded")
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
