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
