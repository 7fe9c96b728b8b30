package pinrec

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZeroIndex calls every method of Index on a zero Index: each works as on an empty index
// or returns the documented error, and none panics.
func TestZeroIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q := []float32{1, 2, 3}
	for _, tc := range []struct {
		name string
		call func(ix *Index) error
		want error // nil: the call succeeds
	}{
		{"Len", func(ix *Index) error { require.Zero(t, ix.Len()); return nil }, nil},
		{"Dim", func(ix *Index) error { require.Zero(t, ix.Dim()); return nil }, nil},
		{"IDs", func(ix *Index) error { require.Empty(t, ix.IDs()); return nil }, nil},
		{"Has", func(ix *Index) error { require.False(t, ix.Has("a")); return nil }, nil},
		{"Get", func(ix *Index) error { _, err := ix.Get("a"); return err }, ErrNotFound},
		{"Remove none", func(ix *Index) error { return ix.Remove() }, nil},
		{"Remove unknown", func(ix *Index) error { return ix.Remove("a") }, ErrNotFound},
		{"Info", func(ix *Index) error { require.Equal(t, map[string]string{}, ix.Info()); return nil }, nil},
		{"SetInfo", func(ix *Index) error {
			ix.SetInfo("k", "v")
			require.Equal(t, map[string]string{"k": "v"}, ix.Info())
			return nil
		}, nil},
		{"Close", func(ix *Index) error { return ix.Close() }, nil},
		{"Search", func(ix *Index) error { _, err := ix.Search(ctx, q, 3); return err }, ErrEmptyIndex},
		{"Search empty query", func(ix *Index) error { _, err := ix.Search(ctx, nil, 3); return err }, ErrEmptyIndex},
		{"Search bad k", func(ix *Index) error { _, err := ix.Search(ctx, q, 0); return err }, ErrBadK},
		{"SearchBatch", func(ix *Index) error { _, err := ix.SearchBatch(ctx, [][]float32{q, q}, 3); return err }, ErrEmptyIndex},
		{"SearchBatch no queries", func(ix *Index) error { _, err := ix.SearchBatch(ctx, nil, 3); return err }, ErrEmptyIndex},
		{"Similar", func(ix *Index) error { _, err := ix.Similar(ctx, "a", 3); return err }, ErrNotFound},
		{"SearchAmong", func(ix *Index) error { _, err := ix.SearchAmong(ctx, q, []string{"a"}, 3); return err }, ErrDimMismatch},
		{"SearchAmong empty query", func(ix *Index) error { _, err := ix.SearchAmong(ctx, nil, []string{"a"}, 3); return err }, ErrDimMismatch},
		{"WriteTo", func(ix *Index) error { _, err := ix.WriteTo(&bytes.Buffer{}); return err }, ErrBadDim},
		{"WriteExtended", func(ix *Index) error {
			_, err := ix.WriteExtended(&bytes.Buffer{}, Extension{Kind: "x"})
			return err
		}, ErrBadDim},
		{"Save", func(ix *Index) error { return ix.Save(filepath.Join(dir, "zero.idx")) }, ErrBadDim},
		{"SaveExtended", func(ix *Index) error { return ix.SaveExtended(filepath.Join(dir, "zero.idx"), Extension{Kind: "x"}) }, ErrBadDim},
		{"Add nothing", func(ix *Index) error { require.NoError(t, ix.Add()); require.Zero(t, ix.Dim()); return nil }, nil},
		{"Add empty vector", func(ix *Index) error { return ix.Add(Item{ID: "a"}) }, ErrDimMismatch},
		{"Add mixed dimensions", func(ix *Index) error {
			return ix.Add(Item{ID: "a", Vector: q}, Item{ID: "b", Vector: q[:2]})
		}, ErrDimMismatch},
		{"Add NaN", func(ix *Index) error { return ix.Add(Item{ID: "a", Vector: []float32{float32(math.NaN())}}) }, ErrNonFinite},
		{"Add empty ID", func(ix *Index) error { return ix.Add(Item{Vector: q}) }, ErrEmptyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ix Index
			err := tc.call(&ix)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			// Whatever happened, a failed call left the dimension unset and the index
			// usable: the first Add fixes the dimension and searches work.
			if ix.Dim() == 0 {
				require.NoError(t, ix.Add(Item{ID: "x", Vector: []float32{0, 0, 1}}, Item{ID: "y", Vector: []float32{0, 1, 0}}))
			}
			require.Equal(t, 3, ix.Dim())
			res, err := ix.Search(ctx, []float32{0, 0, 0.9}, 1)
			require.NoError(t, err)
			require.Equal(t, "x", res[0].ID)
			require.ErrorIs(t, ix.Add(Item{ID: "z", Vector: []float32{1, 2}}), ErrDimMismatch)
			require.NoError(t, ix.Save(filepath.Join(t.TempDir(), "after.idx")))
		})
	}
}

// TestZeroIndexConcurrentFirstAdds: when first Adds of different dimensions race, one fixes
// the dimension and the others fail or agree with it.
func TestZeroIndexConcurrentFirstAdds(t *testing.T) {
	for range 20 {
		var ix Index
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for g := range errs {
			wg.Go(func() {
				v := make([]float32, 2+g%2) // dimensions 2 and 3
				v[0] = float32(g)
				errs[g] = ix.Add(Item{ID: string(rune('a' + g)), Vector: v})
			})
		}
		wg.Wait()
		dim := ix.Dim()
		require.Contains(t, []int{2, 3}, dim)
		for g, err := range errs {
			if 2+g%2 == dim {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrDimMismatch)
			}
		}
		require.Equal(t, 4, ix.Len())
		require.NoError(t, ix.checkLayout())
	}
}
