package foryou

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"pinrec"
	"pinrec/dupes"
	"pinrec/engage"
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrNoScale: the collection's scale could not be measured (fewer than two items), so a
	// relative cut has nothing to be relative to; give WithCut.
	ErrNoScale = errors.New("foryou: collection too small to measure its scale")
)

// Engagement is what a [Model] reads about users. [*engage.Store] implements it.
type Engagement interface {
	// UserItems returns the items user currently likes or has saved, with the times.
	UserItems(ctx context.Context, user string) ([]engage.UserItem, error)
	// Popular returns up to limit items with the most saves (for cold starts).
	Popular(ctx context.Context, limit int) ([]engage.PopularItem, error)
}

// Catalog is what a [Model] reads from the index: searches, and items' vectors and IDs.
// Every [pinrec.Store] is one (the exact [pinrec.Index], the approximate index of package
// ann, the Weaviate backend), and so is a read-only view of one.
type Catalog interface {
	pinrec.Searcher
	// Get returns the item with the given ID, or an error wrapping [pinrec.ErrNotFound].
	Get(id string) (pinrec.Item, error)
	// IDs lists every item's ID.
	IDs() []string
}

// Model builds users' interests from their likes and saves over the items of a
// [Catalog] and answers "For you" feeds ([Model.ForYou]) and personalised "more like
// this" ([Model.Similar]).
//
// It works over any Catalog (the exact [pinrec.Index], an approximate index, a remote
// backend): it reads item vectors with Get and finds neighbours with the Searcher methods.
//
// A Model is safe for concurrent use by multiple goroutines when its Store and Engagement
// are (every Store and [*engage.Store] in pinrec are). Each user's clustering is cached
// (least recently used users dropped first, [WithCacheUsers]) and keyed by a fingerprint of
// the user's likes and saves within the window: a recorded event that changes them, or time
// moving an action out of the window, makes the next call recluster. Importance is
// recomputed from the clock on every call. Two goroutines asking for the same uncached user
// at once may both cluster; the results are the same.
type Model struct {
	store  Catalog
	events Engagement
	cfg    config

	scaleMu sync.Mutex
	scale   float64 // measured once; 0 until then
	dupes   *dupes.Calibration

	mu    sync.Mutex
	lru   *list.List // of *entry, most recently used first
	cache map[string]*list.Element
}

// New returns a Model over store and events. A nil events is a model without any
// engagement: every user gets the cold start.
func New(store Catalog, events Engagement, opts ...Option) (*Model, error) {
	if store == nil {
		return nil, errors.New("foryou: New: nil store")
	}
	m := &Model{store: store, events: events, cfg: defaultConfig(), lru: list.New(), cache: map[string]*list.Element{}}
	m.cfg.apply(opts)
	return m, nil
}

// callConfig returns the Model's options with opts applied.
func (m *Model) callConfig(opts []Option) config {
	c := m.cfg
	c.apply(opts)
	return c
}

// ScaleSample and ScaleNeighbour define [Model.Scale].
const (
	ScaleSample    = 200
	ScaleNeighbour = 10
)

// Scale returns the collection's scale, the unit of the relative cut ([WithRelativeCut]): the
// median, over up to [ScaleSample] items drawn with a
// fixed seed, of the distance from an item to its [ScaleNeighbour]-th nearest neighbour (a
// typical distance between an item and the items that look like it). It is measured once,
// on the first call that needs it, with the Store's own search. It returns an error
// wrapping [ErrNoScale] for a collection of fewer than two items.
func (m *Model) Scale(ctx context.Context) (float64, error) {
	m.scaleMu.Lock()
	defer m.scaleMu.Unlock()
	if m.scale > 0 {
		return m.scale, nil
	}
	ids := m.store.IDs()
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	var ds []float64
	for _, id := range ids {
		if len(ds) == ScaleSample {
			break
		}
		if _, ok := pinrec.RegionParent(id); ok {
			continue
		}
		res, err := pinrec.SimilarPins(ctx, m.store, id, ScaleNeighbour)
		if err != nil {
			return 0, fmt.Errorf("foryou: scale: %w", err)
		}
		if len(res) > 0 {
			ds = append(ds, float64(res[len(res)-1].Distance))
		}
	}
	if len(ds) == 0 {
		return 0, fmt.Errorf("%w (%d items)", ErrNoScale, len(ids))
	}
	sort.Float64s(ds)
	s := ds[len(ds)/2]
	if s <= 0 { // many exact duplicates: fall back to the largest distance seen
		s = ds[len(ds)-1]
	}
	if s <= 0 {
		return 0, fmt.Errorf("%w (every sampled item has identical neighbours)", ErrNoScale)
	}
	m.scale = s
	return s, nil
}

// cutHeight returns the absolute cut of cfg.
func (m *Model) cutHeight(ctx context.Context, cfg config) (float64, error) {
	if cfg.cut > 0 {
		return cfg.cut, nil
	}
	s, err := m.Scale(ctx)
	if err != nil {
		return 0, err
	}
	return cfg.relCut * s, nil
}

// dupeDistance returns the near-duplicate distance of cfg (negative: off).
func (m *Model) dupeDistance(ctx context.Context, cfg config) (float64, error) {
	if cfg.dupe != 0 {
		return cfg.dupe, nil
	}
	c, err := m.DuplicateDistance(ctx)
	if err != nil {
		return 0, err
	}
	return float64(c.Threshold), nil
}

// DuplicateDistance returns the calibration behind the feed's default near-duplicate
// filter: package dupes' threshold for the Store ([dupes.Calibrate], from the
// nearest-neighbour distances of a fixed sample of items), measured once, on the first call
// that needs it. On a collection too small to calibrate (dupes.RuleTooFew) the threshold is
// 0: only exact duplicates of engaged items are left out.
func (m *Model) DuplicateDistance(ctx context.Context) (dupes.Calibration, error) {
	m.scaleMu.Lock()
	defer m.scaleMu.Unlock()
	if m.dupes != nil {
		return *m.dupes, nil
	}
	c, err := dupes.Calibrate(ctx, m.store)
	if err != nil {
		return dupes.Calibration{}, fmt.Errorf("foryou: near-duplicate distance: %w", err)
	}
	m.dupes = &c
	return c, nil
}

// entry is a cached clustering.
type entry struct {
	user string
	fp   uint64
	p    *profile
}

func (m *Model) cached(user string, fp uint64) *profile {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.cache[user]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if e.fp != fp {
		return nil
	}
	m.lru.MoveToFront(el)
	return e.p
}

func (m *Model) remember(user string, fp uint64, p *profile) {
	if m.cfg.cacheUsers <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.cache[user]; ok {
		el.Value = &entry{user, fp, p}
		m.lru.MoveToFront(el)
		return
	}
	m.cache[user] = m.lru.PushFront(&entry{user, fp, p})
	for m.lru.Len() > m.cfg.cacheUsers {
		last := m.lru.Back()
		m.lru.Remove(last)
		delete(m.cache, last.Value.(*entry).user)
	}
}

// CachedUsers returns the number of users whose clustering the Model holds.
func (m *Model) CachedUsers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// sortInterests orders interests by importance, then size, then medoid ID.
func sortInterests(in []Interest) {
	slices.SortStableFunc(in, func(a, b Interest) int {
		if c := cmp.Compare(b.Importance, a.Importance); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return cmp.Compare(a.Medoid, b.Medoid)
	})
}
