package foryou

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"pinrec"
)

// Cold starts, as [Feed.ColdStart] names them.
const (
	// ColdPopular: the items with the most saves, topped up with diverse items when fewer
	// than k items pass.
	ColdPopular = "popular"
	// ColdDiverse: items spread over the collection (farthest-first over a fixed sample).
	ColdDiverse = "diverse"
)

// DiverseSample is how many items the diverse cold start draws from.
const DiverseSample = 2000

// Result is one feed item: the hit and the interest that retrieved it.
type Result struct {
	pinrec.Result
	// Interest is the interest whose medoid retrieved the item (nil in a cold start).
	// Distance is the item's distance to that medoid.
	Interest *Source `json:"interest,omitempty"`
}

// Feed is a "For you" answer.
type Feed struct {
	User string `json:"user"`
	// ColdStart is "" for a personalised feed, else [ColdPopular] or [ColdDiverse]: the user
	// has no likes or saves in the window on items the Store holds.
	ColdStart string `json:"cold_start,omitempty"`
	// Interests are the interests drawn for this feed, most important first.
	Interests []Interest `json:"interests"`
	// Profile counts all the user's interests.
	AllInterests int      `json:"all_interests"`
	Results      []Result `json:"results"`
}

// ForYou returns up to k items for the user, as PinnerSage does: it draws up to
// [WithSamples] interests at random with probability proportional to importance, without
// replacement (the seed of [WithSeed] makes the draw repeatable), retrieves each drawn
// medoid's 2k nearest pins through the Store's search, and merges them ([WithMerge]: round
// robin by default), each item once, attributed to the first interest that retrieved it.
// Items the user already likes or has saved never come back, nor, with the near-duplicate
// filter on (the default), items within [WithDuplicateDistance] of one of the items the
// interests were built from. So the feed may hold fewer than k items.
//
// A user without interests gets a cold start (Feed.ColdStart says which): the most saved
// items when the engagement has any, else diverse items.
func (m *Model) ForYou(ctx context.Context, user string, k int, opts ...Option) (*Feed, error) {
	cfg := m.callConfig(opts)
	st, err := m.state(ctx, user, cfg)
	if err != nil {
		return nil, err
	}
	feed := &Feed{User: user, Interests: []Interest{}, Results: []Result{}}
	if k <= 0 {
		return feed, nil
	}
	all := st.interests(cfg)
	feed.AllInterests = len(all)
	if len(all) == 0 {
		return m.coldStart(ctx, feed, st, k, cfg)
	}
	drawn := draw(all, cfg.samples, newRand(cfg))
	feed.Interests = drawn
	exclude := pinrec.WithFilter(func(id string, _ map[string]string) bool { return !st.engaged[id] })
	search := append(slices.Clip(cfg.search), exclude)
	lists := make([][]pinrec.Result, len(drawn))
	errs := make([]error, len(drawn))
	var wg sync.WaitGroup
	for i, in := range drawn {
		c := st.clusterOf(in.Medoid)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = pinrec.SearchPins(ctx, m.store, c.medoidVec, 2*k, search...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	dupe, err := m.dupeDistance(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	// Merge everything, then walk the merged order until k pass the near-duplicate filter,
	// so only about k candidates are measured against the user's items.
	var keep func(pinrec.Result) (bool, error)
	if dupe >= 0 {
		f := &dupeFilter{m: m, st: st, d: dupe, vecs: map[int][]float32{}}
		keep = f.keep
	}
	if feed.Results, err = merge(drawn, lists, k, cfg.merge, keep); err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	return feed, nil
}

func newRand(cfg config) *rand.Rand {
	if cfg.seed != nil {
		return rand.New(rand.NewPCG(*cfg.seed, 0x666f72796f75))
	}
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}

// draw samples n interests without replacement with probability proportional to importance
// (sequentially: each draw among those left), and returns them most important first. When
// every importance left is 0 the draw is uniform among them.
func draw(all []Interest, n int, r *rand.Rand) []Interest {
	if n >= len(all) {
		return slices.Clone(all)
	}
	left := slices.Clone(all)
	var out []Interest
	for range n {
		var total float64
		for _, in := range left {
			total += in.Importance
		}
		pick := len(left) - 1
		if total > 0 {
			u := r.Float64() * total
			for i, in := range left {
				if u < in.Importance {
					pick = i
					break
				}
				u -= in.Importance
			}
		} else {
			pick = r.IntN(len(left))
		}
		out = append(out, left[pick])
		left = slices.Delete(left, pick, pick+1)
	}
	sortInterests(out)
	return out
}

// merge interleaves the interests' neighbour lists into up to k results, each item once, that
// keep (nil: all) accepts. Round robin takes from each list in turn its nearest item not yet
// taken and accepted, so a list whose items are rejected does not lose its turn; by distance
// walks all candidates nearest first.
func merge(drawn []Interest, lists [][]pinrec.Result, k int, order MergeOrder, keep func(pinrec.Result) (bool, error)) ([]Result, error) {
	out := []Result{}
	seen := map[string]bool{}
	// take appends r (from list src) unless seen or rejected.
	take := func(r pinrec.Result, src int) (bool, error) {
		if seen[r.ID] {
			return false, nil
		}
		seen[r.ID] = true
		if keep != nil {
			ok, err := keep(r)
			if err != nil || !ok {
				return false, err
			}
		}
		in := drawn[src]
		out = append(out, Result{Result: r, Interest: &Source{Medoid: in.Medoid, Size: in.Size, Importance: in.Importance}})
		return true, nil
	}
	if order == ByDistance {
		type cand struct {
			r   pinrec.Result
			src int
		}
		var cands []cand
		for i, l := range lists {
			for _, r := range l {
				cands = append(cands, cand{r, i})
			}
		}
		slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.r.Distance, b.r.Distance) })
		for _, c := range cands {
			if len(out) == k {
				break
			}
			if _, err := take(c.r, c.src); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	next := make([]int, len(lists))
	for len(out) < k {
		more := false
		for i, l := range lists {
			for len(out) < k && next[i] < len(l) {
				r := l[next[i]]
				next[i]++
				ok, err := take(r, i)
				if err != nil {
					return nil, err
				}
				if ok {
					break
				}
			}
			more = more || next[i] < len(l)
		}
		if !more {
			break
		}
	}
	return out, nil
}

// dupeFilter drops candidates within d of an item the interests were built from. A member
// e of a cluster with mean c can only be within d of x when |‖x-c‖ - ‖e-c‖| <= d (triangle
// inequality), so only those members' vectors are read and measured.
type dupeFilter struct {
	m    *Model
	st   *state
	d    float64
	vecs map[int][]float32 // member vectors read so far, by item index
}

// keep reports whether r is not within d of one of the user's items.
func (f *dupeFilter) keep(r pinrec.Result) (bool, error) {
	it, err := f.m.store.Get(r.ID)
	if errors.Is(err, pinrec.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	dup, err := f.near(it.Vector)
	return !dup, err
}

func (f *dupeFilter) near(x []float32) (bool, error) {
	for ci := range f.st.p.clusters {
		c := &f.st.p.clusters[ci]
		if len(x) != len(c.centroid) {
			return false, nil
		}
		dx := dist(x, c.centroid)
		lo, _ := slices.BinarySearch(c.meanDist, dx-f.d)
		for j := lo; j < len(c.meanDist) && c.meanDist[j] <= dx+f.d; j++ {
			i := c.byMean[j]
			v, ok := f.vecs[i]
			if !ok {
				item, err := f.m.store.Get(f.st.p.items[i].id)
				if errors.Is(err, pinrec.ErrNotFound) {
					continue
				}
				if err != nil {
					return false, err
				}
				v = item.Vector
				f.vecs[i] = v
			}
			if dist(x, v) <= f.d {
				return true, nil
			}
		}
	}
	return false, nil
}

// coldStart fills the feed of a user without interests.
func (m *Model) coldStart(ctx context.Context, feed *Feed, st *state, k int, cfg config) (*Feed, error) {
	params := pinrec.NewSearchParams(cfg.search...)
	seen := map[string]bool{}
	keep := func(id string) (pinrec.Item, bool, error) {
		if seen[id] || st.engaged[id] {
			return pinrec.Item{}, false, nil
		}
		if _, ok := pinrec.RegionParent(id); ok {
			return pinrec.Item{}, false, nil
		}
		it, err := m.store.Get(id)
		if errors.Is(err, pinrec.ErrNotFound) {
			return pinrec.Item{}, false, nil
		}
		if err != nil {
			return pinrec.Item{}, false, err
		}
		if _, region := pinrec.IsRegion(it.Meta); region || !params.Keep(id, it.Meta) {
			return pinrec.Item{}, false, nil
		}
		return it, true, nil
	}
	if m.events != nil {
		pop, err := m.events.Popular(ctx, 4*k+len(st.engaged))
		if err != nil {
			return nil, fmt.Errorf("foryou: cold start: %w", err)
		}
		for _, p := range pop {
			if len(feed.Results) == k {
				break
			}
			it, ok, err := keep(p.ID)
			if err != nil {
				return nil, fmt.Errorf("foryou: cold start: %w", err)
			}
			if ok {
				seen[p.ID] = true
				feed.Results = append(feed.Results, Result{Result: pinrec.Result{ID: p.ID, Meta: it.Meta}})
			}
		}
		if len(feed.Results) > 0 {
			feed.ColdStart = ColdPopular
		}
	}
	if feed.ColdStart == "" {
		feed.ColdStart = ColdDiverse
	}
	if len(feed.Results) == k {
		return feed, nil
	}
	// Diverse: farthest-first traversal of a fixed sample, starting from the item farthest
	// from what the feed holds (from the sample's first item when it holds nothing).
	ids := m.store.IDs()
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	var pool []pinrec.Item
	for _, id := range ids {
		if len(pool) == DiverseSample {
			break
		}
		it, ok, err := keep(id)
		if err != nil {
			return nil, fmt.Errorf("foryou: cold start: %w", err)
		}
		if ok {
			pool = append(pool, it)
		}
	}
	if len(pool) == 0 {
		return feed, nil
	}
	near := make([]float64, len(pool)) // distance to the nearest chosen item
	for i := range near {
		near[i] = math.Inf(1)
	}
	chosen := func(v []float32) {
		for i, it := range pool {
			if len(it.Vector) == len(v) {
				near[i] = math.Min(near[i], dist(it.Vector, v))
			}
		}
	}
	for _, res := range feed.Results {
		if it, err := m.store.Get(res.ID); err == nil {
			chosen(it.Vector)
		}
	}
	for len(feed.Results) < k {
		best := -1
		for i := range pool {
			if seen[pool[i].ID] {
				continue
			}
			if best < 0 || near[i] > near[best] {
				best = i
			}
		}
		if best < 0 {
			break
		}
		it := pool[best]
		seen[it.ID] = true
		feed.Results = append(feed.Results, Result{Result: pinrec.Result{ID: it.ID, Meta: it.Meta}})
		chosen(it.Vector)
	}
	return feed, nil
}
