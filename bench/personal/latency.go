package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"pinrec"
	"pinrec/ann"
	"pinrec/engage"
	"pinrec/foryou"
)

// latency times ForYou for a user with 1,000 saves over an n-item approximate (ann, HNSW)
// index of synthetic clustered vectors, the engagement in a real engage.Store (SQLite): once
// with the clustering cache off (every call reads the events, fetches 1,000 vectors,
// clusters them and searches) and once cached (the events are still read on every call, to
// check the fingerprint).
func latency(ctx context.Context, n, dim int) error {
	fmt.Printf("\n# feed latency: synthetic %d-d vectors (1,000 Gaussian clusters), n=%d, ann index (defaults), user with 1,000 saves in 8 clusters over 90 days\n", dim, n)
	r := rand.New(rand.NewPCG(7, 7))
	const centres = 1000
	cs := make([][]float32, centres)
	for c := range cs {
		cs[c] = make([]float32, dim)
		for t := range cs[c] {
			cs[c][t] = float32(r.NormFloat64())
		}
	}
	ix, err := pinrec.NewIndex(dim)
	if err != nil {
		return err
	}
	of := make([]int, n)
	items := make([]pinrec.Item, 0, 1000)
	for i := range n {
		c := r.IntN(centres)
		of[i] = c
		v := make([]float32, dim)
		for t := range v {
			v[t] = cs[c][t] + 0.35*float32(r.NormFloat64())
		}
		items = append(items, pinrec.Item{ID: fmt.Sprintf("s%06d", i), Vector: v})
		if len(items) == cap(items) || i == n-1 {
			if err := ix.Add(items...); err != nil {
				return err
			}
			items = items[:0]
		}
	}
	t0 := time.Now()
	a, err := ann.Build(ctx, ix)
	if err != nil {
		return err
	}
	fmt.Printf("ann_build_s=%.1f\n", time.Since(t0).Seconds())
	dir, err := os.MkdirTemp("", "bench-personal")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := engage.Open(filepath.Join(dir, "e.db"), engage.WithKnownItems(a.Has))
	if err != nil {
		return err
	}
	defer st.Close()
	interests := r.Perm(centres)[:8]
	var saves []engage.Event
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n && len(saves) < 1000; i++ {
		if slices.Contains(interests, of[i]) {
			saves = append(saves, engage.Event{User: "heavy", Item: fmt.Sprintf("s%06d", i), Action: engage.Save,
				Time: now.Add(-time.Duration(r.Int64N(int64(89 * 24 * time.Hour))))})
		}
	}
	if _, err := st.Record(ctx, saves...); err != nil {
		return err
	}
	clock := foryou.WithClock(func() time.Time { return now })
	time1 := func(name string, m *foryou.Model, calls int) ([]time.Duration, error) {
		var ds []time.Duration
		for i := range calls {
			t := time.Now()
			f, err := m.ForYou(ctx, "heavy", 50, foryou.WithSeed(uint64(i)))
			if err != nil {
				return nil, err
			}
			ds = append(ds, time.Since(t))
			if i == 0 {
				fmt.Printf("%s: %d interests, %d results\n", name, f.AllInterests, len(f.Results))
			}
		}
		slices.Sort(ds)
		return ds, nil
	}
	q := func(ds []time.Duration, p float64) float64 {
		return float64(ds[min(int(p*float64(len(ds))), len(ds)-1)].Microseconds()) / 1000
	}
	uncached, err := foryou.New(a, st, clock, foryou.WithCacheUsers(0))
	if err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := uncached.Scale(ctx); err != nil {
		return err
	}
	if _, err := uncached.DuplicateDistance(ctx); err != nil {
		return err
	}
	fmt.Printf("one_off_scale_and_dupes_calibration_s=%.1f (once per Model, not in the timings)\n", time.Since(t0).Seconds())
	du, err := time1("uncached", uncached, 100)
	if err != nil {
		return err
	}
	cached, err := foryou.New(a, st, clock)
	if err != nil {
		return err
	}
	if _, err := cached.Scale(ctx); err != nil {
		return err
	}
	if _, err := cached.DuplicateDistance(ctx); err != nil {
		return err
	}
	if _, err := cached.ForYou(ctx, "heavy", 50); err != nil { // fills the cache
		return err
	}
	dc, err := time1("cached", cached, 300)
	if err != nil {
		return err
	}
	fmt.Printf("foryou_uncached_p50_ms=%.2f foryou_uncached_p99_ms=%.2f (100 calls: events read, 1,000 vectors fetched, Ward, 3 ann searches, near-duplicate filter)\n", q(du, 0.5), q(du, 0.99))
	fmt.Printf("foryou_cached_p50_ms=%.2f foryou_cached_p99_ms=%.2f (300 calls: events read and fingerprinted, clustering from the cache)\n", q(dc, 0.5), q(dc, 0.99))
	fmt.Printf("foryou_p99_ms=%.2f (uncached: including the clustering)\n", q(du, 0.99))
	return nil
}
