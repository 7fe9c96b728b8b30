package web

import (
	"context"
	"math"
	"slices"
	"time"

	"pinrec"
)

// farSample is how many pins the close-match distance is calibrated on.
const farSample = 64

// calibrateFar is the distance past which a best match is "not a close match": twice the
// 95th percentile of the nearest-neighbour distances of up to 64 pins spread over the index
// (the distance at which nearly every pin has a neighbour), 0 (no hint) with fewer than 2 pins.
// An unrelated photo's best match lies far beyond it (on the Fashion-MNIST demo, 94.9 against
// nearest-neighbour distances of 2.5 to 9).
func (s *Server) calibrateFar() float64 {
	if len(s.ids) < 2 {
		return 0
	}
	ds := s.sampleNNDistances(farSample)
	if len(ds) == 0 {
		return 0
	}
	p95 := ds[min(len(ds)-1, int(math.Ceil(0.95*float64(len(ds))))-1)]
	return 2 * p95
}

// far reports whether an answer holds no close match: its best result is farther from the
// query than the calibrated (or configured) close-match distance.
func (s *Server) far(res []hit) bool {
	return s.farAt > 0 && len(res) > 0 && float64(res[0].Distance) > s.farAt
}

// roundRobin lists the IDs of every category taken in turn, one from each (categories by
// name, each in the store's order), so the home grid shows the whole collection at once
// instead of the first category's pins.
func roundRobin(cats []category, ids map[string][]string) []string {
	var out []string
	for i := 0; ; i++ {
		added := false
		for _, c := range cats {
			if l := ids[c.Name]; i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// sampleNNDistances returns, sorted, the distance from each of up to n pins spread evenly over
// the index to its nearest other pin (pins whose search fails are left out).
func (s *Server) sampleNNDistances(n int) []float64 {
	n = min(n, len(s.ids))
	var ds []float64
	for i := range n {
		id := s.ids[i*len(s.ids)/n]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := pinrec.SimilarPins(ctx, s.store, id, 1)
		cancel()
		if err == nil && len(res) == 1 {
			ds = append(ds, float64(res[0].Distance))
		}
	}
	slices.Sort(ds)
	return ds
}
