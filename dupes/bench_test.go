package dupes

import (
	"context"
	"fmt"
	"testing"
)

// Calibrate (a sample of 500, as query and similar run it) and Find on an exact index of
// Gaussian vectors with planted copies.
func BenchmarkCalibrate(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("n=%d/d=2048", n), func(b *testing.B) {
			ix := exactIndex(b, plant(1, n, 2048, n/20, n/100, 4).items)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Calibrate(context.Background(), ix, WithSample(500)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Collapse of 48 results (what a similar page of 20 collapses) at 2048 dimensions, few of
// them near-duplicates: the comparisons are the cost.
func BenchmarkCollapse(b *testing.B) {
	p := plant(1, 2000, 2048, 100, 20, 4)
	ix := exactIndex(b, p.items)
	q := p.items[0].Vector
	res, err := ix.Search(context.Background(), q, 48)
	if err != nil {
		b.Fatal(err)
	}
	t, err := Calibrate(context.Background(), ix, WithSample(500))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Collapse(ix, res, t.Threshold); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFind(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("n=%d/d=512", n), func(b *testing.B) {
			ix := exactIndex(b, plant(1, n, 512, n/20, n/100, 2).items)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Find(context.Background(), ix); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
