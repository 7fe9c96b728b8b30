package ann

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"pinrec"
	"pinrec/internal/stats"
)

// Calibration is what [Build] measured of the index's default search: the recall@10 of
// searches at the default efSearch for items of the collection held out of the graph.
//
// How: Build draws min(6000, n/10) items at random ([WithSeed]; at least 1, none below 2
// items), builds the graph on the others, and splits the held-out items: a third choose
// efSearch, two thirds record its recall. It searches for each item of the first part with k=10 at growing efSearch (20, 24, 32, 48,
// ... up to 4096: 20 is the least default efSearch of a search of 10, see [WithEfSearch];
// a step whose recall on a quarter of them is three standard errors under the target is
// passed over without searching for the rest), against the exact top 10 among the items in the graph (the exact index,
// held-out items excluded), and keeps the smallest efSearch whose mean recall@10 is at least
// the target plus a margin of two standard errors (of the difference between that mean and
// the mean of as many fresh queries as the recording part has), so the index meets the target
// on queries it has never seen, and its recorded recall shows it, with about 97% confidence. Then it searches for the items of the
// second part once, at that efSearch, and records their mean recall@10; then it inserts the
// held-out items. The recorded recall is not measured on the sample that chose efSearch:
// stopping at the first efSearch that passes would bias it upwards on that sample. The
// second part are queries the graph did not contain, drawn like the collection, so the
// recorded recall is what fresh queries from the same distribution get, within its sampling
// error (its standard error is about 0.0016 at 4,000 queries and recall 0.95, 0.0024 at
// 0.9; below 60,000 items, with fewer held out, more), and may lie a little below the
// target even though the choice met it with margin. Queries from elsewhere (other images,
// other models) may get less. With [WithEfSearch] nothing is chosen and all the held-out
// items measure the given efSearch. An index of one held-out item chooses and records on it.
//
// Its cost is the exact top 10 of the held-out items (a few seconds per 100,000 items of
// dimension 2048) plus a few thousand approximate searches.
type Calibration struct {
	// Target is the recall@10 aimed at ([WithTargetRecall]); with [WithEfSearch] the efSearch
	// was given and only measured.
	Target float64
	// EfSearch is the default efSearch the measurement chose (or was given).
	EfSearch int
	// Recall is the mean recall@10 measured at EfSearch over the held-out items that did
	// not choose it (two thirds of them).
	Recall float64
	// Queries is the number of held-out items Recall was measured on (half as many again
	// chose EfSearch); 0 means nothing was measured (an index made by [New], built
	// with WithTargetRecall(0), or saved by an older version).
	Queries int
	// Items is the number of items the index had when measured (later Adds and Removes
	// change the graph, not this record).
	Items int
}

// Calibration returns what [Build] measured (see [Calibration]).
func (a *Index) Calibration() Calibration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cal
}

// maxCalibration bounds the held-out items (a third choose efSearch, two thirds record its
// recall); calibrationK is the k of the measured recall; screenMin is the fewest items of
// the choosing part's quarter that screens a step (see calibrate): below it the choosing
// part is searched whole at every step.
const (
	maxCalibration = 6000
	calibrationK   = 10
	screenMin      = 100
)

// efLadder is the efSearch values the calibration tries, in order.
//
// It starts at the floor for k=10 (efFloor: 20), steps of a fifth to a half up to 128, then
// of an eighth to a quarter: at a million items recall@10 still rose from 0.937 to 0.949 to
// 0.964 between 192, 256 and 384, so steps of a half there left the default either under the
// target or 0.014 over it at 17% more time.
var efLadder = []int{20, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
	1280, 1536, 1792, 2048, 2560, 3072, 3584, MaxEf}

// efFloorPerK is the least default efSearch per result asked for (defaultEf).
const efFloorPerK = 2

// defaultEf returns the efSearch of a search of k that gives none ([pinrec.WithEffort]):
// the index's default efSearch efs (calibrated for k=10, or [WithEfSearch]'s) plus k-10 for
// k above 10, and at least 2k (at most MaxEf unless efs is more).
//
// The floor: the exact re-rank takes at least 2k candidates (max(2k, k+10)), and a
// beam narrower than that hands it fewer, so the codes' ordering errors among the last of
// them become misses. On Fashion-MNIST (60,000 x 784, all 10,000 test queries) recall@10 is
// 0.984 at efSearch 12, 0.990 at 16, 0.993 at 20; recall@30 0.993 at 31 and 0.998 at 60.
//
// The slack: a search of k returns the best k of the ef it holds; more k at the same ef
// leaves fewer spare candidates between the k-th result and the beam's edge, and recall@k
// falls (200,000 synthetic 2048-d items at efSearch 64: recall@10 0.956, @20 0.946, @30
// 0.938). Keeping ef-k as the calibration measured it for k=10 holds recall@k near the
// recorded recall@10 at the cost of k-10 more beam slots (at a million, efSearch 256 for
// k=10 and 275 for serve's k of 29).
func defaultEf(efs, k int) int {
	return min(max(efs+max(0, k-calibrationK), efFloorPerK*k), max(efs, MaxEf))
}

// holdOut splits ids into the items the graph is built on first and min(6000, n/10) items
// (at least 1 of 2 or more) held out for the calibration, drawn at random with seed. Both
// keep ids' order.
func holdOut(ids []string, seed uint64) (rest, held []string) {
	n := len(ids)
	if n < 2 {
		return ids, nil
	}
	nq := min(maxCalibration, max(1, n/10))
	rng := rand.New(rand.NewPCG(seed, 0xca11b))
	pick := make(map[int]bool, nq)
	for len(pick) < nq {
		pick[rng.IntN(n)] = true
	}
	rest = make([]string, 0, n-nq)
	held = make([]string, 0, nq)
	for i, id := range ids {
		if pick[i] {
			held = append(held, id)
		} else {
			rest = append(rest, id)
		}
	}
	return rest, held
}

// calibrate measures the recall@10 of searches for the held-out items (in the exact index,
// not in the graph) and sets the default efSearch (unless WithEfSearch fixed it) and a.cal.
// The caller owns a.
func (a *Index) calibrate(ctx context.Context, held []string) error {
	queries := make([][]float32, len(held))
	out := make(map[string]bool, len(held))
	for i, id := range held {
		it, err := a.ix.Get(id)
		if err != nil {
			return fmt.Errorf("calibrate: %w", err)
		}
		queries[i] = it.Vector
		out[id] = true
	}
	k := min(calibrationK, a.node.Len())
	if k < 1 {
		return nil
	}
	// The exact scans a search may fall back to must not find the held-out items either.
	a.held = out
	defer func() { a.held = nil }()
	truth, err := a.ix.SearchBatch(ctx, queries, k, pinrec.WithFilter(func(id string, _ map[string]string) bool { return !out[id] }))
	if err != nil {
		return fmt.Errorf("calibrate: exact top %d: %w", k, err)
	}
	// Every third held-out item chooses efSearch, the others record its recall (held is in
	// random order); with one item, or a given efSearch, all of them measure it.
	choose, record := queries, queries
	chooseTruth, recordTruth := truth, truth
	if len(queries) > 1 && !a.cfg.efsSet {
		choose, record, chooseTruth, recordTruth = nil, nil, nil, nil
		for i := range queries {
			if i%3 == 0 {
				choose, chooseTruth = append(choose, queries[i]), append(chooseTruth, truth[i])
			} else {
				record, recordTruth = append(record, queries[i]), append(recordTruth, truth[i])
			}
		}
	}
	ladder := efLadder
	if a.cfg.efsSet {
		// The given efSearch, as a default search of k uses it.
		ladder = []int{defaultEf(a.cfg.efs, k)}
	}
	// The screen: most steps below the answer fail by far, and at a million they are most of
	// the choosing searches. Each step first searches for every fourth choosing item, and is
	// passed over when that quarter's mean recall plus three of its standard errors is under
	// the target: the whole part would have to clear the target by the margin, which it then
	// does with a chance under 0.2%. A step that is not passed over searches for the other
	// three quarters too, and is judged on all of them as before.
	var quarter, others [][]float32
	var quarterTruth, othersTruth [][]pinrec.Result
	if len(choose) >= 4*screenMin && !a.cfg.efsSet {
		for i := range choose {
			if i%4 == 0 {
				quarter, quarterTruth = append(quarter, choose[i]), append(quarterTruth, chooseTruth[i])
			} else {
				others, othersTruth = append(others, choose[i]), append(othersTruth, chooseTruth[i])
			}
		}
	}
	bestEf, bestMean := 0, -1.0
	for _, ef := range ladder {
		var per []float64
		if quarter != nil {
			q, err := a.recallAt(ctx, quarter, quarterTruth, k, ef)
			if err != nil {
				return fmt.Errorf("calibrate: %w", err)
			}
			if mean, se := stats.MeanSE(q); mean+3*se < a.cfg.target && ef < a.node.Len() {
				if mean > bestMean {
					bestEf, bestMean = ef, mean
				}
				continue
			}
			o, err := a.recallAt(ctx, others, othersTruth, k, ef)
			if err != nil {
				return fmt.Errorf("calibrate: %w", err)
			}
			per = append(q, o...)
		} else {
			var err error
			if per, err = a.recallAt(ctx, choose, chooseTruth, k, ef); err != nil {
				return fmt.Errorf("calibrate: %w", err)
			}
		}
		mean, se := stats.MeanSE(per)
		if mean > bestMean {
			bestEf, bestMean = ef, mean
		}
		// The margin: two standard errors of the difference between this mean and the mean
		// of as many fresh queries as the recording part has (their per-query spread is
		// this sample's), so that the recorded recall, and a check on fresh queries of that
		// size, come out at or above the target about 97% of the time, not only the
		// expected recall.
		margin := 2 * se
		if len(choose) > 1 && len(record) > 0 && !a.cfg.efsSet {
			margin = 2 * se * math.Sqrt(1+float64(len(choose))/float64(len(record)))
		}
		// Reached with margin, or ef past the graph's size (more cannot find more).
		if mean-margin >= a.cfg.target || mean == 1 || ef >= a.node.Len() {
			bestEf = ef
			break
		}
	}
	per, err := a.recallAt(ctx, record, recordTruth, k, bestEf)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	mean, _ := stats.MeanSE(per)
	best := Calibration{Target: a.cfg.target, EfSearch: bestEf, Recall: mean, Queries: len(record), Items: a.node.Len() + len(held)}
	if a.cfg.efsSet {
		best.EfSearch = a.cfg.efs
	}
	a.cal = best
	a.cfg.efs = best.EfSearch
	return nil
}

// recallAt returns, per query, the share of its exact top k (truth) that a search at ef finds,
// running the queries on cfg.threads goroutines.
func (a *Index) recallAt(ctx context.Context, queries [][]float32, truth [][]pinrec.Result, k, ef int) ([]float64, error) {
	per := make([]float64, len(queries))
	p := pinrec.NewSearchParams(pinrec.WithEffort(ef))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	for range min(a.cfg.threads, len(queries)) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil
				mu.Unlock()
				if i >= len(queries) || stop {
					return
				}
				got, err := a.search(ctx, queries[i], k, "", p)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				hit := 0
				for _, t := range truth[i] {
					if slices.ContainsFunc(got, func(r pinrec.Result) bool { return r.ID == t.ID }) {
						hit++
					}
				}
				per[i] = float64(hit) / float64(max(1, len(truth[i])))
			}
		})
	}
	wg.Wait()
	return per, firstErr
}
