package stats

import (
	"math"
	"testing"
)

func TestMeanSE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		x        []float64
		mean, se float64
	}{
		{"one", []float64{0.9}, 0.9, 0},
		{"equal", []float64{1, 1, 1, 1}, 1, 0},
		// mean 0.5; sample variance (4·0.25)/3 = 1/3; se = √(1/3/4) = √(1/12).
		{"zeros and ones", []float64{0, 1, 0, 1}, 0.5, math.Sqrt(1.0 / 12)},
		// mean 2; sample variance (1+0+1)/2 = 1; se = √(1/3).
		{"1 2 3", []float64{1, 2, 3}, 2, math.Sqrt(1.0 / 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mean, se := MeanSE(tc.x)
			if math.Abs(mean-tc.mean) > 1e-12 || math.Abs(se-tc.se) > 1e-12 {
				t.Fatalf("MeanSE(%v) = %v, %v; want %v, %v", tc.x, mean, se, tc.mean, tc.se)
			}
		})
	}
	if mean, _ := MeanSE(nil); !math.IsNaN(mean) {
		t.Fatalf("MeanSE(nil) mean = %v, want NaN", mean)
	}
}
