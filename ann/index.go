// Package ann is pinrec's approximate nearest-neighbour index: an HNSW graph whose distance
// computations run on compact codes held in RAM (8-bit scalar quantisation, optionally after a
// PCA projection to 512 dimensions, or plain float32), with an exact re-rank of the best
// candidates from the float32 vectors of a [pinrec.Index] (memory-mapped when loaded with
// [pinrec.WithMmap], so they need not be in RAM).
//
// Why HNSW and not IVF: an IVF index scans whole inverted lists, so for recall@10 above 0.95 on
// clustered 2048-d data it must visit a few percent of the collection (tens of thousands of
// codes at 1M), where HNSW reaches it after about a thousand distance computations; IVF wins
// on build time and memory per vector (no links), which at 64 bytes of links per vector
// (M=16) against 2,048 bytes of SQ8 code is not the cost that matters here. The graph also
// takes Add and Remove one item at a time, where IVF needs its centroids retrained as the
// data drifts.
//
// The index file is a pinrec index file of kind "hnsw": the exact index (vectors, IDs,
// metadata) followed by the graph and codes as its extension section (see [Index.Save]);
// pinrec.Open opens it once this package is imported.
package ann

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"pinrec"
	"pinrec/internal/idtable"
)

// Errors of this package; test them with [errors.Is].
var (
	// ErrBadOption: a parameter out of range or an unknown codec.
	ErrBadOption = errors.New("ann: bad option")
	// ErrCorrupt: the graph section of an index file is malformed.
	ErrCorrupt = errors.New("ann: corrupt graph data")
)

// Defaults and bounds of the parameters.
const (
	// DefaultM and DefaultEfConstruction are FAISS's defaults: at 30,000 synthetic 2048-d
	// vectors, M=32 reaches recall@10 0.95 at about two thirds of M=16's CPU per query.
	DefaultM              = 32
	DefaultEfConstruction = 40
	DefaultEfSearch       = 64
	// DefaultTargetRecall is the recall@10 [Build] calibrates the default efSearch for.
	DefaultTargetRecall = 0.95
	MaxM                = 64
	MaxEf               = 4096
)

// Option configures [New] and [Build].
type Option func(*config)

type config struct {
	m, efc, efs, rerank int
	efsSet              bool    // WithEfSearch was given: Build measures recall at efs, no search for it
	target              float64 // WithTargetRecall; 0: Build does not measure recall
	codec               string
	threads             int
	progress            func(done, total int)
	seed                uint64
	load                []pinrec.LoadOption // WithLoad
}

// WithM sets the graph's degree: M links per node on the upper levels, 2M on level 0
// (default 32, at most 64).
func WithM(m int) Option { return func(c *config) { c.m = m } }

// WithEfConstruction sets the beam width of inserts (default 40): larger builds a better
// graph, more slowly.
func WithEfConstruction(ef int) Option { return func(c *config) { c.efc = ef } }

// WithEfSearch sets the default beam width of searches; [pinrec.WithEffort] overrides it per
// search. Larger finds more of the true neighbours, more slowly. Without it, [Build] picks the
// smallest efSearch that reaches the target recall ([WithTargetRecall]); with it, Build keeps
// ef and only measures the recall it gives. [New] starts at [DefaultEfSearch]. A search of k
// results without WithEffort runs at efSearch+k-10 for k above 10, at least 2k, so that the
// exact re-rank of at least 2k candidates gets them and a larger k keeps the spare candidates
// the calibration measured at k=10; WithEffort's efSearch is taken as given (at least k+1).
func WithEfSearch(ef int) Option { return func(c *config) { c.efs, c.efsSet = ef, true } }

// WithTargetRecall sets the recall@10 that [Build] calibrates the default efSearch for
// (default [DefaultTargetRecall], 0.95): after building, it searches for held-out items of the
// collection (see [Calibration]) at growing efSearch and keeps the smallest whose measured
// recall@10 reaches the target with a statistical margin. The chosen efSearch and its
// measured recall are recorded in the index file and shown by [Index.Stats]. 0 turns the
// measurement off (the default efSearch is then [DefaultEfSearch] or [WithEfSearch]'s).
// The target must lie in 0..1. Loading an index ignores this option.
func WithTargetRecall(r float64) Option { return func(c *config) { c.target = r } }

// WithRerank sets how many of the best candidates (by code distance) the exact float32
// distances re-rank; 0 (the default) means max(2k, k+10) for a search of k (at most ef).
//
// Each re-ranked candidate reads its float32 vector (8 KB at d=2048) from the exact index,
// at a random place: 2.5-3 µs of CPU each at 200,000 x 2048 (k=10, efSearch 56: 0.419 ms a
// query re-ranking 40, 0.364 ms re-ranking 20). The codes order the true neighbours well
// enough that more buys nothing: recall@10 is the same re-ranking 12, 20 or 40 at 200,000
// synthetic 2048-d items (efSearch 48 to 128) and 11, 20 or 40 on Fashion-MNIST (efSearch
// 12 to 48); 10 loses 0.003.
func WithRerank(n int) Option { return func(c *config) { c.rerank = n } }

// WithCodec chooses the codes: [CodecSQ8] (the default), [CodecPCASQ8] or [CodecNone].
func WithCodec(name string) Option { return func(c *config) { c.codec = name } }

// WithWorkers sets the goroutines that insert in parallel during [Build] and [Index.Add]
// (default runtime.GOMAXPROCS(0)).
func WithWorkers(n int) Option { return func(c *config) { c.threads = n } }

// WithProgress has [Build] call fn(done, total) from time to time (at most about 100 times,
// and once at the end), from one goroutine at a time.
func WithProgress(fn func(done, total int)) Option { return func(c *config) { c.progress = fn } }

// WithSeed seeds the level draws and the codec's training sample (default 1): the same seed,
// data and single thread give the same graph.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

func newConfig(opts []Option) (config, error) {
	c := config{m: DefaultM, efc: DefaultEfConstruction, efs: DefaultEfSearch, target: DefaultTargetRecall, codec: CodecSQ8, seed: 1}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.threads < 1 {
		c.threads = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.m < 2 || c.m > MaxM:
		return c, fmt.Errorf("M=%d (want 2..%d): %w", c.m, MaxM, ErrBadOption)
	case c.efc < 1 || c.efc > MaxEf:
		return c, fmt.Errorf("efConstruction=%d (want 1..%d): %w", c.efc, MaxEf, ErrBadOption)
	case c.efs < 1 || c.efs > MaxEf:
		return c, fmt.Errorf("efSearch=%d (want 1..%d): %w", c.efs, MaxEf, ErrBadOption)
	case c.rerank < 0 || c.rerank > MaxEf:
		return c, fmt.Errorf("rerank=%d (want 0..%d): %w", c.rerank, MaxEf, ErrBadOption)
	case !(c.target >= 0 && c.target <= 1):
		return c, fmt.Errorf("target recall %v (want 0..1): %w", c.target, ErrBadOption)
	}
	if _, err := parseCodec(c.codec); err != nil {
		return c, err
	}
	return c, nil
}

// Index is an approximate nearest-neighbour index over a [pinrec.Index], which keeps the
// float32 vectors, IDs and metadata; Index adds the HNSW graph and the codes. It implements
// [pinrec.Store].
//
// Searches find max(ef, k) candidates on the codes (ef is [WithEfSearch], or
// [pinrec.WithEffort] per search), then compute the exact distances of the best of them (see
// [WithRerank]) from the float32 vectors: result distances are exact, the set is approximate.
// Filters ([pinrec.WithFilter], [pinrec.WithMeta]) apply during the walk: the beam keeps only
// items that pass, and walks through the others, so the beam fills with ef passing candidates
// (visiting more of the graph to find them). When a sample of 256 nodes says so few pass that
// the walk would evaluate more codes than half the items, the search instead calls the filter
// once per item and ranks those that pass by exact distance; and when fewer than k pass in
// the part of the graph a walk reaches, it falls back to the exact scan of the filtered items.
//
// An Index is safe for concurrent use: searches run in parallel with each other; Add and
// Remove wait for running searches and block new ones while they change the graph (one Add
// inserts its items on several goroutines).
//
// Remove marks a node deleted: it stays in the graph as a waypoint (so removing any node,
// the entry point or every one, keeps the graph navigable) and its code stays in RAM until
// [Index.Compact] reclaims it, which Add and Remove do by themselves once removed nodes
// outnumber live ones. Adding an existing ID replaces the item: the old node is
// deleted and a new one inserted. Removing and re-adding 10% of the items costs well under
// 0.01 of recall@10 (a test checks it).
//
// An Index loaded with [pinrec.WithMmap] is read-only, like the exact index under it.
type Index struct {
	mu  sync.RWMutex
	ix  *pinrec.Index
	g   *graph
	cfg config

	ids  []string      // ids[node]; "" for a deleted node
	node idtable.Table // live ID -> node, through ids (see nodeOf)
	rng  *rand.Rand
	cal  Calibration // what Build measured (Queries 0: nothing)

	graphOnly bool // tests: answer from the graph alone, never from the exact scan

	// held: the items Build holds out of the graph while it calibrates, which are in the exact
	// index but must not be found (nil otherwise).
	held map[string]bool

	rowNode rowNodeMap // the exact index's rows' nodes, for filtered scans (see rowNodes)
}

var _ pinrec.Store = (*Index)(nil)

// New returns an empty index of dimension dim. The codec trains on the first items added
// (at most 20,000 of the first Add; a later Add with more items does not retrain), so add a
// representative first batch, or use [Build].
func New(dim int, opts ...Option) (*Index, error) {
	ix, err := pinrec.NewIndex(dim)
	if err != nil {
		return nil, fmt.Errorf("ann: %w", err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("ann: new: %w", err)
	}
	return &Index{ix: ix, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 1))}, nil
}

// Build indexes every item of ix, which the returned Index then owns and uses for its exact
// vectors (do not change ix afterwards except through the Index). The codec trains on a
// sample of ix's vectors. Build stops with ctx's error when ctx ends.
func Build(ctx context.Context, ix *pinrec.Index, opts ...Option) (*Index, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("ann: build: %w", err)
	}
	a := &Index{ix: ix, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 1))}
	a.node.Reset(ix.Len())
	ids := ix.IDs()
	if err := a.train(func(i int) ([]float32, error) {
		it, err := ix.Get(ids[i])
		return it.Vector, err
	}, len(ids)); err != nil {
		return nil, err
	}
	// The held-out items go in last, after the calibration has searched for them.
	rest, held := ids, []string(nil)
	if cfg.target > 0 {
		rest, held = holdOut(ids, cfg.seed)
	}
	prog := progress{fn: cfg.progress, total: len(ids)}
	if err := a.insertRows(ctx, rest, nil, prog); err != nil {
		return nil, fmt.Errorf("ann: build: %w", err)
	}
	if len(held) > 0 {
		if err := a.calibrate(ctx, held); err != nil {
			return nil, fmt.Errorf("ann: build: %w", err)
		}
		prog.base = len(rest)
		if err := a.insertRows(ctx, held, nil, prog); err != nil {
			return nil, fmt.Errorf("ann: build: %w", err)
		}
	}
	// Many identical vectors can leave nodes that no path from the entry point reaches
	// (compact.go); link them in.
	a.g.relinkUnreachable()
	a.g.narrowLinks()
	return a, nil
}

// train fits the codec on up to maxTrain of n vectors spread evenly (row(i) reads vector i).
func (a *Index) train(row func(i int) ([]float32, error), n int) error {
	kind, _ := parseCodec(a.cfg.codec)
	var sample [][]float32
	if kind != kindNone {
		step := max(1, n/maxTrain)
		for i := 0; i < n && len(sample) < maxTrain; i += step {
			v, err := row(i)
			if err != nil {
				return fmt.Errorf("ann: train: %w", err)
			}
			sample = append(sample, v)
		}
	}
	cd, err := trainCodec(kind, a.ix.Dim(), sample, a.cfg.seed)
	if err != nil {
		return fmt.Errorf("ann: %w", err)
	}
	a.g = newGraph(cd, a.cfg.m, a.cfg.efc)
	return nil
}

// progress reports the insertions of one Build: fn (may be nil) sees base+done of total.
type progress struct {
	fn          func(done, total int)
	base, total int
}

// insertRows inserts the items named by ids, which ix holds, on cfg.threads goroutines.
// vecs, when not nil, holds their vectors (else they are read from ix). The caller holds
// a.mu for writing, or owns a.
func (a *Index) insertRows(ctx context.Context, ids []string, vecs [][]float32, prog progress) error {
	a.dropRowNodes()
	g := a.g
	first := uint32(g.n)
	g.grow(g.n + len(ids))
	for j, id := range ids {
		i := first + uint32(j)
		g.setLevel(i, g.randomLevel(a.rng))
		g.links(i, 0)[0] = 0
		g.dead[i] = false
		a.ids = append(a.ids, id)
		if old, ok := a.nodeOf(id); ok {
			g.dead[old] = true
			a.node.Move(id, int(old), int(i), a.ids)
			a.ids[old] = ""
		} else {
			a.node.Add(id, int(i), a.ids)
		}
	}
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var progMu sync.Mutex
	total := len(ids)
	every := max(1, (prog.total+99)/100) // at most 100 multiples, plus the end
	work := func() {
		q := g.cd.newQuery()
		y := make([]float32, g.cd.pdim)
		scratch := make([]float32, g.cd.dim)
		for {
			j := int(next.Add(1) - 1)
			if j >= total {
				return
			}
			if ctx.Err() != nil {
				errOnce.Do(func() { firstErr = ctx.Err() })
				return
			}
			var v []float32
			if vecs != nil {
				v = vecs[j]
			} else {
				it, err := a.ix.Get(ids[j])
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				v = it.Vector
			}
			i := first + uint32(j)
			g.cd.encode(v, g.code(i), y, scratch)
			g.cd.prepare(v, q)
			g.insert(i, q, int(g.levels[i]))
			if d := prog.base + int(done.Add(1)); prog.fn != nil && (d%every == 0 || d == prog.total) {
				progMu.Lock()
				prog.fn(d, prog.total)
				progMu.Unlock()
			}
		}
	}
	// The first node alone, so the others find an entry point.
	threads := min(a.cfg.threads, max(1, total))
	var wg sync.WaitGroup
	for t := 1; t < threads; t++ {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return firstErr
}

// Add adds items, or replaces those whose ID is present. The first Add on an index made by
// [New] trains the codec on its items. Either all items are added or, on error (an empty ID,
// a wrong dimension, a non-finite value, a read-only index), none is.
func (a *Index) Add(items ...pinrec.Item) error {
	if len(items) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropRowNodes()
	// Within one call, a later item with the same ID wins.
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[it.ID] = i
	}
	if err := a.ix.Add(items...); err != nil {
		return fmt.Errorf("ann: %w", err)
	}
	if a.g == nil {
		if err := a.train(func(i int) ([]float32, error) { return items[i].Vector, nil }, len(items)); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(last))
	vecs := make([][]float32, 0, len(last))
	for i, it := range items {
		if last[it.ID] == i {
			ids = append(ids, it.ID)
			vecs = append(vecs, it.Vector)
		}
	}
	if err := a.insertRows(context.Background(), ids, vecs, progress{total: len(ids)}); err != nil {
		return err
	}
	a.compactIfMostlyDead()
	return nil
}

// compactIfMostlyDead compacts once removed nodes outnumber live ones, so that a graph under
// steady churn stays within twice its live size at an amortised cost of O(1) per removal.
// The caller holds a.mu for writing.
func (a *Index) compactIfMostlyDead() {
	if a.g != nil && a.g.n-a.node.Len() > a.node.Len() {
		a.compact()
	}
}

// nodeOf returns the node of a live ID. The caller holds mu.
func (a *Index) nodeOf(id string) (uint32, bool) {
	n, ok := a.node.Get(id, a.ids)
	return uint32(n), ok
}

// Remove deletes the items with the given IDs. If any is unknown, nothing is removed and the
// error wraps [pinrec.ErrNotFound].
func (a *Index) Remove(ids ...string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropRowNodes()
	if err := a.ix.Remove(ids...); err != nil {
		return fmt.Errorf("ann: %w", err)
	}
	for _, id := range ids {
		if n, ok := a.nodeOf(id); ok {
			a.g.dead[n] = true
			a.node.Delete(id, a.ids)
			a.ids[n] = ""
		}
	}
	a.compactIfMostlyDead()
	return nil
}

// Search returns the k items nearest to query, nearest first, with exact distances; the set
// is approximate (see [Index]). Errors are those of [pinrec.Index.Search].
func (a *Index) Search(ctx context.Context, query []float32, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.search(ctx, query, k, "", pinrec.NewSearchParams(opts...))
}

// SearchBatch runs Search for each query; result i answers queries[i].
func (a *Index) SearchBatch(ctx context.Context, queries [][]float32, k int, opts ...pinrec.SearchOption) ([][]pinrec.Result, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	p := pinrec.NewSearchParams(opts...)
	out := make([][]pinrec.Result, len(queries))
	for i, q := range queries {
		r, err := a.search(ctx, q, k, "", p)
		if err != nil {
			return nil, fmt.Errorf("query %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

// Similar returns the k items nearest to the item with the given ID, leaving it out.
func (a *Index) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	it, err := a.ix.Get(id)
	if err != nil {
		return nil, fmt.Errorf("ann: similar: %w", err)
	}
	return a.search(ctx, it.Vector, k, id, pinrec.NewSearchParams(opts...))
}

// search is Search under a.mu, leaving out the item skip.
func (a *Index) search(ctx context.Context, query []float32, k int, skip string, p pinrec.SearchParams) ([]pinrec.Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("ann: search: k=%d: %w", k, pinrec.ErrBadK)
	}
	if len(query) != a.ix.Dim() {
		return nil, fmt.Errorf("ann: search: query length %d, index dimension %d: %w", len(query), a.ix.Dim(), pinrec.ErrDimMismatch)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	live := a.node.Len()
	if live == 0 || a.g == nil {
		return nil, fmt.Errorf("ann: search: %w", pinrec.ErrEmptyIndex)
	}
	filtered := p.Filter != nil || p.Match != nil
	keep := func(id string, meta map[string]string) bool {
		return id != skip && !a.held[id] && (!filtered || p.Keep(id, meta))
	}
	want := k
	if skip != "" {
		want = min(k, live-1)
	} else {
		want = min(k, live)
	}
	ef := defaultEf(a.cfg.efs, k)
	if p.Effort > 0 {
		ef = min(p.Effort, MaxEf)
	}
	ef = max(ef, k+1)
	g := a.g
	q := g.getQuery()
	defer g.queries.Put(q)
	if err := checkFinite(query); err != nil {
		return nil, err
	}
	g.cd.prepare(query, q)
	// The walk keeps in its beam only nodes that pass (live, not skip, through the filter) and
	// walks through the others, as hnswlib's filtered search does: the beam fills with ef
	// passing nodes however few pass, at the cost of visiting more of the graph.
	// skip is resolved to its node once: comparing IDs at every visited node cost 7% of a
	// served similar request's CPU.
	skipNode := ^uint32(0)
	if skip != "" {
		if n, ok := a.nodeOf(skip); ok {
			skipNode = n
		}
	}
	keepNode := func(n uint32) bool { return !g.dead[n] && n != skipNode }
	if filtered {
		kn, res, done, err := a.filteredNodes(ctx, query, k, skip, p, ef, keep)
		if done || err != nil {
			return res, err
		}
		keepNode = kn
	}
	if live <= ef && !a.graphOnly {
		// The beam would hold every item: the exact scan costs no more and misses nothing.
		res, err := a.ix.Search(ctx, query, k, pinrec.WithFilter(keep))
		if err != nil {
			return nil, fmt.Errorf("ann: search: %w", err)
		}
		return res, nil
	}
	cands := g.search(q, ef, keepNode)
	r := a.cfg.rerank
	if r == 0 {
		r = max(2*k, k+10)
	}
	cands = cands[:min(r, len(cands))]
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = a.ids[c.node]
	}
	res, err := a.ix.SearchAmong(ctx, query, ids, k, pinrec.WithFilter(keep))
	if err != nil {
		return nil, fmt.Errorf("ann: search: %w", err)
	}
	if len(res) >= want || a.graphOnly {
		return res, nil
	}
	// Fewer than k pass the filter in the part of the graph the walk reached (or the graph
	// lost its way round removed nodes): the exact scan finds every item that passes.
	res, err = a.ix.Search(ctx, query, k, pinrec.WithFilter(keep))
	if err != nil {
		return nil, fmt.Errorf("ann: search: %w", err)
	}
	return res, nil
}

func checkFinite(v []float32) error {
	for i, x := range v {
		if x != x || x > 3.4e38 || x < -3.4e38 {
			return fmt.Errorf("ann: search: element %d is %v: %w", i, x, pinrec.ErrNonFinite)
		}
	}
	return nil
}

// Len returns the number of items.
func (a *Index) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.ix.Len()
}

// Dim returns the vector dimension.
func (a *Index) Dim() int { return a.ix.Dim() }

// Get returns a copy of the item with the given ID (its exact vector).
func (a *Index) Get(id string) (pinrec.Item, error) { return a.ix.Get(id) }

// Has reports whether an item has the given ID.
func (a *Index) Has(id string) bool { return a.ix.Has(id) }

// IDs lists the IDs in insertion order.
func (a *Index) IDs() []string { return a.ix.IDs() }

// Info returns a copy of the index-level metadata.
func (a *Index) Info() map[string]string { return a.ix.Info() }

// SetInfo sets an index-level metadata entry.
func (a *Index) SetInfo(key, value string) { a.ix.SetInfo(key, value) }

// Exact returns the exact index under a (its float32 vectors, IDs and metadata); change it
// only through a.
func (a *Index) Exact() *pinrec.Index { return a.ix }

// Close releases the exact index's mapping (for an index loaded with [pinrec.WithMmap]).
func (a *Index) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.g != nil {
		a.g.hugeSlabs(false) // the memory goes back to the Go heap as ordinary pages
	}
	return a.ix.Close()
}

// Stats describes the index for `pinrec stats`: kind, parameters, codec, node counts, the
// bytes of a code and of a level-0 link slot, and the bytes the graph and codes hold in RAM
// (the float32 vectors are counted apart).
func (a *Index) Stats() map[string]string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s := map[string]string{
		"kind":            "hnsw",
		"m":               strconv.Itoa(a.cfg.m),
		"ef_construction": strconv.Itoa(a.cfg.efc),
		"ef_search":       strconv.Itoa(a.cfg.efs),
		"codec":           a.cfg.codec,
		"items":           strconv.Itoa(a.node.Len()),
		"dim":             strconv.Itoa(a.ix.Dim()),
		"vector_bytes":    strconv.FormatInt(int64(a.ix.Len())*int64(a.ix.Dim())*4, 10),
	}
	if c := a.cal; c.Queries > 0 {
		s["recall_at_10"] = strconv.FormatFloat(c.Recall, 'f', 4, 64)
		s["recall_measured"] = fmt.Sprintf("%d held-out queries at efSearch %d, %d items", c.Queries, c.EfSearch, c.Items)
		if c.Target > 0 {
			s["target_recall"] = strconv.FormatFloat(c.Target, 'g', 4, 64)
		}
	}
	if a.g != nil {
		s["nodes"] = strconv.Itoa(a.g.n)
		s["deleted_nodes"] = strconv.Itoa(a.g.n - a.node.Len())
		s["levels"] = strconv.Itoa(a.g.top + 1)
		s["memory_bytes"] = strconv.FormatInt(a.memoryBytes(), 10)
		s["code_bytes"] = strconv.Itoa(a.g.cd.codeSize())
		s["link_bytes"] = "4" // a level-0 neighbour's slot
		if a.g.narrow != nil {
			s["link_bytes"] = "2"
		}
	}
	return s
}

// memoryBytes estimates the RAM the graph, codes, codec and node IDs take. The caller holds mu.
func (a *Index) memoryBytes() int64 {
	g := a.g
	b := int64(cap(g.codes)) + 4*int64(cap(g.links0)) + 2*int64(cap(g.narrow)) + int64(cap(g.levels)) + int64(cap(g.dead)) +
		4*int64(cap(g.upperOff)) + 4*int64(cap(g.upper)) + 8*int64(len(g.locks)) + 16*int64(cap(a.ids))
	c := g.cd
	b += 4 * int64(len(c.mean)+len(c.proj)+len(c.lo)+len(c.step)+len(c.inv)+len(c.w))
	b += a.node.Bytes() // IDs' bytes are shared with the exact index
	a.rowNode.mu.Lock()
	b += 4 * int64(cap(a.rowNode.nodes)) // made by the first filtered scan after a change
	a.rowNode.mu.Unlock()
	return b
}
