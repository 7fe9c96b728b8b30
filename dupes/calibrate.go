package dupes

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Rules that choose a threshold ([Calibration.Rule]).
const (
	// RuleGiven: the caller fixed the threshold ([WithThreshold]).
	RuleGiven = "given"
	// RuleGap: the nearest-neighbour distances have a low mode (near-duplicates) separated from
	// the rest by an empty interval above the tail bound; the threshold lies in that interval.
	RuleGap = "gap"
	// RuleTail: the threshold is far below the typical nearest-neighbour distance (the bulk's
	// median minus TailSigmas robust spreads, in log distance), so only items much closer to
	// each other than distinct pictures usually are count.
	RuleTail = "tail"
	// RuleTooFew: fewer than MinCalibrationItems distances: the threshold is 0 (exact
	// duplicates only).
	RuleTooFew = "too-few"
)

// Calibration constants (see [CalibrateDistances]).
const (
	// MinCalibrationItems is the fewest nearest-neighbour distances a calibration uses.
	MinCalibrationItems = 20
	// TailSigmas is how many robust spreads below the median log distance RuleTail sets the
	// threshold.
	TailSigmas = 3.0
	// GapSigmas is the least width, in robust spreads of log distance, of a gap that RuleGap
	// accepts; the gap must also be at least a factor MinGapRatio wide.
	GapSigmas = 1.0
	// MinGapRatio is the least ratio between the distances on either side of an accepted gap.
	MinGapRatio = 1.5
	// GapBelowSigmas: an accepted gap starts more than this many robust spreads below the
	// median log distance (a gap inside the bulk is not a duplicate mode).
	GapBelowSigmas = 1.5
)

// Calibration is how a threshold was chosen and what it means.
type Calibration struct {
	// Threshold is the distance at or under which two items are near-duplicates.
	Threshold float32 `json:"threshold"`
	// Rule is RuleGiven, RuleGap, RuleTail or RuleTooFew.
	Rule string `json:"rule"`
	// Items is the number of nearest-neighbour distances the calibration read (0 for RuleGiven).
	Items int `json:"items"`
	// Median is the median distance from an item to its nearest other item (identical copies
	// left out): how far apart distinct pictures typically are in this collection.
	Median float32 `json:"median_nn_distance"`
	// Spread is the robust spread of log nearest-neighbour distance above the median
	// (84th percentile minus median: one standard deviation for a log-normal bulk).
	Spread float64 `json:"log_spread"`
	// GapLow and GapHigh bound the empty interval RuleGap found (0 otherwise).
	GapLow  float32 `json:"gap_low,omitempty"`
	GapHigh float32 `json:"gap_high,omitempty"`
	// Below is how many of the distances are at or under the threshold.
	Below int `json:"below"`
	// Explanation says the above in one sentence for people.
	Explanation string `json:"explanation"`
}

// CalibrateDistances chooses a near-duplicate threshold from nearest-neighbour distances: nn[i]
// is the distance from an item to its nearest other item, identical copies left out (zero
// and non-finite values are ignored).
//
// Distinct pictures sit at a typical distance from their nearest neighbour that varies little
// on a log scale; a picture with a re-pinned, resized or recompressed copy sits far closer to
// it. So the rule works on log distances. Their median m and their spread s (84th percentile
// minus median, read above the median so that a low mode of duplicates does not widen it)
// describe the distinct pictures as long as fewer than half the items have a near-duplicate.
//
//   - RuleTail: exp(m - TailSigmas*s), a distance that a log-normal bulk undercuts about once
//     in 700 items, so that a collection without duplicates yields few or no groups; every
//     pair closer than that is a near-duplicate, however the close distances spread.
//   - RuleGap: when the sorted log distances have an empty interval above that bound and
//     still more than GapBelowSigmas*s under m, at least max(GapSigmas*s, log MinGapRatio)
//     wide, the values under it are a low mode of duplicates that reaches closer to the bulk:
//     the threshold is the gap's geometric middle (the widest such gap).
//   - RuleTooFew under MinCalibrationItems distances: 0 (only exact duplicates).
func CalibrateDistances(nn []float32) Calibration {
	logs := make([]float64, 0, len(nn))
	for _, d := range nn {
		if d > 0 && d <= math.MaxFloat32 {
			logs = append(logs, math.Log(float64(d)))
		}
	}
	slices.Sort(logs)
	c := Calibration{Items: len(logs)}
	if len(logs) < MinCalibrationItems {
		c.Rule = RuleTooFew
		c.Explanation = fmt.Sprintf("only %d nearest-neighbour distances (at least %d needed to calibrate): threshold 0, exact duplicates only",
			len(logs), MinCalibrationItems)
		if len(logs) > 0 {
			c.Median = float32(math.Exp(quantile(logs, 0.5)))
		}
		return c
	}
	m := quantile(logs, 0.5)
	s := max(quantile(logs, 0.8413)-m, 1e-3)
	c.Median, c.Spread = float32(math.Exp(m)), s
	tail := m - TailSigmas*s
	// Everything under the tail bound counts; a gap above it (but still well under the bulk)
	// marks a low mode that reaches closer to the bulk: the threshold moves up into the gap.
	best, at := 0.0, -1
	for i := 0; i+1 < len(logs) && logs[i] < m-GapBelowSigmas*s; i++ {
		if logs[i+1] <= tail {
			continue
		}
		if g := logs[i+1] - max(logs[i], tail); g > best {
			best, at = g, i
		}
	}
	if at >= 0 && best >= max(GapSigmas*s, math.Log(MinGapRatio)) {
		lo := max(logs[at], tail)
		c.Rule = RuleGap
		c.Threshold = float32(math.Exp((lo + logs[at+1]) / 2))
		c.GapLow, c.GapHigh = float32(math.Exp(lo)), float32(math.Exp(logs[at+1]))
		c.Below = at + 1
		c.Explanation = fmt.Sprintf("%d of %d items have a neighbour at %.4g or nearer, then none until %.4g (typical nearest-neighbour distance %.4g): threshold %.4g, inside that gap",
			c.Below, len(logs), float32(math.Exp(logs[at])), c.GapHigh, c.Median, c.Threshold)
		return c
	}
	c.Rule = RuleTail
	c.Threshold = float32(math.Exp(tail))
	c.Below = countAtMost(logs, tail)
	c.Explanation = fmt.Sprintf("threshold %.4g = typical nearest-neighbour distance %.4g divided by %.3g (%.0f robust spreads of log distance lower, where distinct pictures rarely fall); %d of %d items have a neighbour that close",
		c.Threshold, c.Median, math.Exp(TailSigmas*s), TailSigmas, c.Below, len(logs))
	return c
}

// given is the Calibration of a threshold the caller fixed.
func given(t float32) Calibration {
	return Calibration{Threshold: t, Rule: RuleGiven, Explanation: fmt.Sprintf("threshold %.4g given", t)}
}

// quantile of sorted values, interpolated linearly; values is not empty.
func quantile(sorted []float64, q float64) float64 {
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := x - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

func countAtMost(sorted []float64, v float64) int {
	n, _ := slices.BinarySearchFunc(sorted, v, func(a, b float64) int {
		if a <= b {
			return -1
		}
		return 1
	})
	return n
}

// Calibrate chooses a threshold for s from the nearest-neighbour distances of a sample of its
// items ([WithSample], default [DefaultSample]; every item when s holds fewer), by the rule of
// [CalibrateDistances]. A threshold given with [WithThreshold] is returned as is. Region items
// are left out unless [WithRegions].
func Calibrate(ctx context.Context, s Source, opts ...Option) (Calibration, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Calibration{}, err
	}
	if cfg.given {
		return given(cfg.threshold), nil
	}
	ids, filter := pins(s, cfg)
	if len(ids) > cfg.sample {
		rng := rand.New(rand.NewPCG(cfg.seed, 0x6475706573))
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:cfg.sample]
	}
	j := newJoin(s, cfg, filter)
	nbrs, err := j.neighbours(ctx, ids, cfg.k, nil)
	if err != nil {
		return Calibration{}, err
	}
	nn := make([]float32, 0, len(ids))
	for _, list := range nbrs {
		if d, ok := nearestDistinct(list); ok {
			nn = append(nn, d)
		}
	}
	return CalibrateDistances(nn), nil
}
