package ann

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec"
)

// BenchmarkFilteredSearch times one search of k=10 over 20,000 synthetic 256-d items (SQ8,
// calibrated efSearch) unfiltered and with filters that keep 1% and 10% of the items, as a
// function of the ID (called on every item when the search scans) and as a metadata match
// (inverted lists); the ratio of a filtered line to the unfiltered one is what bench-ann's
// ann_filtered_latency_ratio measures at scale. Run it with -cpu 1 for the one-thread figure:
//
//	go test -run '^$' -bench FilteredSearch -cpu 1 ./ann
func BenchmarkFilteredSearch(b *testing.B) {
	const n = 20000
	exact, qs := testData(b, 51, n, 64, 256)
	var items []pinrec.Item
	for i, id := range exact.IDs() {
		it, err := exact.Get(id)
		require.NoError(b, err)
		it.Meta["m100"] = strconv.Itoa(i % 100)
		it.Meta["m10"] = strconv.Itoa(i % 10)
		items = append(items, it)
	}
	require.NoError(b, exact.Add(items...))
	a, err := Build(context.Background(), exact, WithWorkers(2))
	require.NoError(b, err)
	mod := func(m int) pinrec.SearchOption {
		return pinrec.WithFilter(func(id string, _ map[string]string) bool {
			i, err := strconv.Atoi(id[1:])
			return err == nil && i%m == 7
		})
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		opts []pinrec.SearchOption
	}{
		{"unfiltered", nil},
		{"function_1pct", []pinrec.SearchOption{mod(100)}},
		{"metadata_1pct", []pinrec.SearchOption{pinrec.WithMeta("m100", "7")}},
		{"function_10pct", []pinrec.SearchOption{mod(10)}},
		{"metadata_10pct", []pinrec.SearchOption{pinrec.WithMeta("m10", "7")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := a.Search(ctx, qs[i%len(qs)], 10, bc.opts...); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
