//go:build !race

package pinrec

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexMemoryOverhead measures the heap an index of N=100k, d=2048 takes beyond its raw
// vectors (IDs, metadata slots, the ID map, spare capacity), built the way a user would:
// Add in batches of 5000, no capacity hint. The limit is 10%. It is left out of -race builds,
// whose shadow memory would multiply the 820 MB it needs.
func TestIndexMemoryOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 820 MB")
	}
	const n, dim, batch = 100_000, 2048, 5000
	src := make([]float32, batch*dim)
	for i := range src {
		src[i] = float32(i%977) / 977
	}
	ids := make([]string, n) // the caller's IDs exist before the index does
	for i := range ids {
		ids[i] = fmt.Sprintf("images/%06d.jpg", i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	items := make([]Item, batch)
	for lo := 0; lo < n; lo += batch {
		for i := range items {
			items[i] = Item{ID: ids[lo+i], Vector: src[i*dim : (i+1)*dim]}
		}
		require.NoError(t, ix.Add(items...))
	}
	clear(items)
	runtime.GC()
	runtime.ReadMemStats(&after)
	raw := float64(n * dim * 4)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	overhead := (heap - raw) / raw
	slack := float64(cap(ix.vectors)-len(ix.vectors)) * 4
	t.Logf("N=%d d=%d: raw vectors %.1f MB, index heap %.1f MB, overhead %.2f%% (%.1f MB spare vector capacity)",
		n, dim, raw/1e6, heap/1e6, 100*overhead, slack/1e6)
	assert.Less(t, overhead, 0.10)
	assert.Equal(t, n, ix.Len())
	runtime.KeepAlive(ix)
	runtime.KeepAlive(ids)
	runtime.KeepAlive(src)
}
