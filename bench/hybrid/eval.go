package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"pinrec"
	"pinrec/engage"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// storeEvents are the events the store gets: every user's training saves and likes, user
// after user, with increasing times.
func (w *world) storeEvents() []engage.Event {
	var out []engage.Event
	n := 0
	for _, u := range w.users {
		train := map[int]bool{}
		for _, i := range u.train {
			train[i] = true
		}
		likes := map[int]bool{}
		for _, i := range u.likes {
			likes[i] = true
		}
		for _, e := range u.engaged {
			var a engage.Action
			switch {
			case e.save && train[e.item]:
				a = engage.Save
			case !e.save && likes[e.item]:
				a = engage.Like
			default:
				continue
			}
			n++
			out = append(out, engage.Event{User: u.name, Item: w.ids[e.item], Action: a, Time: t0.Add(time.Duration(n) * time.Millisecond)})
		}
	}
	return out
}

type simStats struct{ train, likes, heldOut, cold int }

func (w *world) describe() simStats {
	var s simStats
	for _, u := range w.users {
		s.train += len(u.train)
		s.likes += len(u.likes)
		s.heldOut += len(u.heldOut)
	}
	for _, c := range w.cold {
		if c {
			s.cold++
		}
	}
	return s
}

// query is one evaluation query: a pin the user saved, the user's held-out saves to find,
// and the pins the user already engaged with in the store (left out of every ranking).
type query struct {
	id      string
	targets map[string]bool
	seen    map[string]bool
}

// queries returns the tuning users' queries, the evaluation users' queries (both from
// training saves, so the query pin has engagement), and the evaluation users' cold queries
// (held-out saves of cold items, which have no engagement at all).
func (w *world) queries() (tune, eval, cold []query) {
	r := rand.New(rand.NewPCG(w.p.Seed, 0x9e77))
	for _, u := range w.users {
		seen := map[string]bool{}
		for _, i := range u.train {
			seen[w.ids[i]] = true
		}
		for _, i := range u.likes {
			seen[w.ids[i]] = true
		}
		held := func(except int) map[string]bool {
			m := map[string]bool{}
			for _, i := range u.heldOut {
				if i != except {
					m[w.ids[i]] = true
				}
			}
			return m
		}
		picks := append([]int(nil), u.train...)
		r.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
		for _, q := range picks[:min(w.p.QueriesPerUse, len(picks))] {
			t := held(-1)
			if len(t) == 0 {
				continue
			}
			qq := query{id: w.ids[q], targets: t, seen: seen}
			if u.tune {
				tune = append(tune, qq)
			} else {
				eval = append(eval, qq)
			}
		}
		if u.tune {
			continue
		}
		for _, q := range u.heldOut {
			if !w.cold[q] {
				continue
			}
			if t := held(q); len(t) > 0 {
				cold = append(cold, query{id: w.ids[q], targets: t, seen: seen})
			}
		}
	}
	return tune, eval, cold
}

// recallAt10 is the mean over queries of |top 10 ∩ targets| / min(10, |targets|), ranking
// by visual distance alone when rk is nil.
func recallAt10(ctx context.Context, s pinrec.Searcher, rk *engage.Ranker, qs []query, _ []engage.RankOption) (float64, error) {
	const workers = 2
	sums := make([]float64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for qi := wk; qi < len(qs); qi += workers {
				q := qs[qi]
				filter := pinrec.WithFilter(func(id string, _ map[string]string) bool { return !q.seen[id] })
				var got []string
				if rk == nil {
					res, err := s.Similar(ctx, q.id, 10, filter)
					if err != nil {
						errs[wk] = err
						return
					}
					for _, r := range res {
						got = append(got, r.ID)
					}
				} else {
					res, err := rk.Similar(ctx, q.id, 10, engage.WithSearch(filter))
					if err != nil {
						errs[wk] = err
						return
					}
					for _, r := range res {
						got = append(got, r.ID)
					}
				}
				hits := 0
				for _, id := range got {
					if q.targets[id] {
						hits++
					}
				}
				sums[wk] += float64(hits) / float64(min(10, len(q.targets)))
			}
		}()
	}
	wg.Wait()
	total := 0.0
	for wk := range workers {
		if errs[wk] != nil {
			return 0, errs[wk]
		}
		total += sums[wk]
	}
	if len(qs) == 0 {
		return 0, nil
	}
	return total / float64(len(qs)), nil
}

// snapshotSignals holds a store's counts and summary in memory and caches co-saved lists:
// the store does not change during the evaluation, and the grid search asks the same
// questions many times.
type snapshotSignals struct {
	st     *engage.Store
	counts map[string]engage.Counts
	sum    engage.Summary
	mu     sync.Mutex
	co     map[string][]engage.CoItem
}

func snapshot(ctx context.Context, st *engage.Store, ids []string) (*snapshotSignals, error) {
	counts, err := st.ItemCounts(ctx, ids...)
	if err != nil {
		return nil, err
	}
	sum, err := st.Summary(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshotSignals{st: st, counts: counts, sum: sum, co: map[string][]engage.CoItem{}}, nil
}

func (s *snapshotSignals) ItemCounts(_ context.Context, ids ...string) (map[string]engage.Counts, error) {
	out := make(map[string]engage.Counts, len(ids))
	for _, id := range ids {
		if c, ok := s.counts[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}

func (s *snapshotSignals) Summary(context.Context) (engage.Summary, error) { return s.sum, nil }

func (s *snapshotSignals) CoSaved(ctx context.Context, id string, limit int) ([]engage.CoItem, error) {
	s.mu.Lock()
	list, ok := s.co[id]
	s.mu.Unlock()
	if !ok {
		var err error
		if list, err = s.st.CoSaved(ctx, id, 0); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.co[id] = list
		s.mu.Unlock()
	}
	if limit > 0 && limit < len(list) {
		list = list[:limit]
	}
	return list, nil
}

// memoSearcher caches each item's unfiltered nearest neighbours (depth of them) and answers
// filtered Similar calls from them, falling back to the index when the cache cannot answer
// exactly. It keeps the index's Get, so the ranker measures co-saved items from vectors.
type memoSearcher struct {
	*pinrec.Index
	depth int
	mu    sync.Mutex
	near  map[string][]pinrec.Result
}

func newMemoSearcher(ix *pinrec.Index, depth int) *memoSearcher {
	return &memoSearcher{Index: ix, depth: depth, near: map[string][]pinrec.Result{}}
}

func (m *memoSearcher) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	if k > m.depth {
		return m.Index.Similar(ctx, id, k, opts...)
	}
	m.mu.Lock()
	list, ok := m.near[id]
	m.mu.Unlock()
	if !ok {
		var err error
		if list, err = m.Index.Similar(ctx, id, m.depth); err != nil {
			return nil, err
		}
		m.mu.Lock()
		m.near[id] = list
		m.mu.Unlock()
	}
	params := pinrec.NewSearchParams(opts...)
	out := make([]pinrec.Result, 0, k)
	for _, r := range list {
		if params.Keep(r.ID, r.Meta) {
			out = append(out, r)
			if len(out) == k {
				return out, nil
			}
		}
	}
	if len(list) == m.depth {
		return m.Index.Similar(ctx, id, k, opts...) // the cache ran out: ask the index
	}
	return out, nil
}
