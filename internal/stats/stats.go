// Package stats holds the small statistics the approximate index's calibration and its
// benchmark share.
package stats

import "math"

// MeanSE returns the mean of x and its standard error (the sample standard deviation over
// √len(x)); the error is 0 for fewer than two values, and both are NaN for none.
func MeanSE(x []float64) (mean, se float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1) / float64(len(x)))
}
