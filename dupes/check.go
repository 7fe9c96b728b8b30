package dupes

import (
	"context"
	"fmt"

	"pinrec"
)

// Check returns the items of s that are near-duplicates of a new vector (an image not in s, or
// one just added to it, left out with [WithExclude]), nearest first,
// each with its distance to v; Exact is SameVector for a bit-identical vector at distance 0,
// and SameBytes when [WithContentHash] matches the item's content hash. The threshold is
// [WithThreshold]'s or calibrated by [Calibrate] (searches of a sample of s), and returned.
func Check(ctx context.Context, s Source, v []float32, opts ...Option) ([]Member, Calibration, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, Calibration{}, err
	}
	cal, err := Calibrate(ctx, s, opts...)
	if err != nil {
		return nil, cal, err
	}
	// Region items are left out by a filter rather than by listing the store's IDs, which
	// would cost O(n) per call.
	var sopts []pinrec.SearchOption
	if !cfg.regions || cfg.exclude != "" {
		skip, regions := cfg.exclude, cfg.regions
		sopts = append(sopts, pinrec.WithFilter(func(id string, meta map[string]string) bool {
			return id != skip && (regions || notRegion(id, meta))
		}))
	}
	if cfg.effort > 0 {
		sopts = append(sopts, pinrec.WithEffort(cfg.effort))
	}
	n := s.Len()
	if n == 0 {
		return []Member{}, cal, nil
	}
	for k := cfg.k; ; k *= 4 {
		res, err := s.Search(ctx, v, min(k, n), sopts...)
		if err != nil {
			return nil, cal, fmt.Errorf("dupes: check: %w", err)
		}
		if len(res) == min(k, n) && k < n && res[len(res)-1].Distance <= cal.Threshold {
			continue // there may be more within the threshold
		}
		out := []Member{}
		for _, r := range res {
			if r.Distance > cal.Threshold {
				break
			}
			m := Member{ID: r.ID, Distance: r.Distance}
			switch {
			case cfg.contentHash != "" && cfg.hashKey != "" && r.Meta[cfg.hashKey] == cfg.contentHash:
				m.Exact = SameBytes
			case r.Distance == 0:
				if it, err := s.Get(r.ID); err == nil && sameBits(it.Vector, v) {
					m.Exact = SameVector
				}
			}
			out = append(out, m)
		}
		return out, cal, nil
	}
}
