package ann

import "math"

func nanValue() float64 { return math.NaN() }
