package pinrec

import (
	"context"
	"slices"
)

// Searcher answers "more like this" queries over items identified by string IDs.
//
// [*Index] is the exact Searcher of this package; other packages add approximate indexes and
// remote backends. Every method is safe for concurrent use. Implementations read their
// options with [NewSearchParams], and honour at least [SearchParams.Keep] (the filter and the
// metadata match) exactly: a result never fails it.
type Searcher interface {
	// Search returns the k items nearest to query, nearest first.
	Search(ctx context.Context, query []float32, k int, opts ...SearchOption) ([]Result, error)
	// SearchBatch answers several queries; result i answers queries[i].
	SearchBatch(ctx context.Context, queries [][]float32, k int, opts ...SearchOption) ([][]Result, error)
	// Similar returns the k items nearest to the item with the given ID, leaving it out.
	Similar(ctx context.Context, id string, k int, opts ...SearchOption) ([]Result, error)
	// Len returns the number of items.
	Len() int
	// Dim returns the vector dimension (0 while unknown).
	Dim() int
	// Close releases what the Searcher holds (a mapping, a connection).
	Close() error
}

// Store is a Searcher whose items can be read, listed and changed (the CLI's index, ls and
// serve commands work through it). [*Index] implements it.
type Store interface {
	Searcher
	// Add adds items or replaces those whose ID is present.
	Add(items ...Item) error
	// Remove deletes the items with the given IDs.
	Remove(ids ...string) error
	// Get returns the item with the given ID, or an error wrapping [ErrNotFound].
	Get(id string) (Item, error)
	// Has reports whether an item has the given ID.
	Has(id string) bool
	// IDs lists every item's ID.
	IDs() []string
	// Info returns a copy of the store-level metadata.
	Info() map[string]string
	// SetInfo sets (or, with an empty value, deletes) a store-level metadata entry.
	SetInfo(key, value string)
}

var _ Store = (*Index)(nil)

// Result is one search hit: the item's ID, its Euclidean distance to the query and a copy of
// its metadata.
type Result struct {
	ID       string
	Distance float32
	Meta     map[string]string
	// Region is the box of the pin's best-matching part, in its image's source pixels, for
	// results collapsed from region items ([SearchPins], [CollapseRegions]); nil means the
	// whole image (and for plain searches).
	Region *Rect
}

// SearchOption configures a search ([Searcher.Search], [Searcher.SearchBatch],
// [Searcher.Similar]). A nil SearchOption is ignored.
type SearchOption func(*SearchParams)

// SearchParams is what a list of SearchOptions asks for. Searchers outside package pinrec
// read their options with [NewSearchParams].
type SearchParams struct {
	// Filter is set by [WithFilter]; nil keeps every item.
	Filter func(id string, meta map[string]string) bool
	// Match is set by [WithMeta]: for every key, meta[key] must be one of its values. Remote
	// backends push it down to their query language.
	Match map[string][]string
	// Workers is set by [WithWorkers]; 0 means the searcher's default.
	Workers int
	// Effort is set by [WithEffort]: approximate searchers explore at least Effort
	// candidates (HNSW's efSearch); exact ones ignore it; 0 means the searcher's default.
	Effort int
}

// NewSearchParams applies opts, in order, to zero SearchParams and returns them.
func NewSearchParams(opts ...SearchOption) SearchParams {
	var p SearchParams
	for _, o := range opts {
		if o != nil {
			o(&p)
		}
	}
	return p
}

// Keep reports whether an item with the given ID and metadata passes both Match and Filter.
// An item without a key that Match names fails it.
func (p SearchParams) Keep(id string, meta map[string]string) bool {
	if !p.matches(meta) {
		return false
	}
	return p.Filter == nil || p.Filter(id, meta)
}

// matches reports whether meta passes Match.
func (p SearchParams) matches(meta map[string]string) bool {
	if len(p.Match) == 0 {
		return true // ranging over an empty map still costs a map iterator
	}
	for key, values := range p.Match {
		v, ok := meta[key]
		if !ok || !slices.Contains(values, v) {
			return false
		}
	}
	return true
}

// keeper returns Keep, or nil when it keeps every item, so that a scan can skip the call.
func (p SearchParams) keeper() func(id string, meta map[string]string) bool {
	switch {
	case p.Filter == nil && p.Match == nil:
		return nil
	case p.Match == nil:
		return p.Filter
	}
	return p.Keep
}

// WithFilter keeps only the items for which keep returns true. The filter is applied during
// the scan, so a search returns k results whenever at least k items pass it. A later
// WithFilter replaces an earlier one.
//
// keep may be called from several goroutines at once, for any subset of the items and in
// any order (the search skips it for items too far away to matter), so it must be safe for
// concurrent use and free of side effects; it must not modify meta, which is the index's own.
func WithFilter(keep func(id string, meta map[string]string) bool) SearchOption {
	return func(p *SearchParams) { p.Filter = keep }
}

// WithMeta keeps only the items whose metadata value for key is one of values (an item
// without the key is dropped). Several WithMeta options must all hold; WithMeta for a key
// already given adds values to it. WithMeta(key) with no values keeps no item. It combines
// with [WithFilter]: an item must pass both. Unlike a filter function, a remote backend can
// evaluate it on its side.
func WithMeta(key string, values ...string) SearchOption {
	values = slices.Clone(values)
	return func(p *SearchParams) {
		if p.Match == nil {
			p.Match = make(map[string][]string)
		}
		p.Match[key] = append(slices.Clip(p.Match[key]), values...)
		if p.Match[key] == nil {
			p.Match[key] = []string{}
		}
	}
}

// WithWorkers bounds the number of goroutines one search uses; the default is
// runtime.GOMAXPROCS(0). Values below 1 mean the default. Servers that run many searches at
// once may prefer WithWorkers(1).
func WithWorkers(n int) SearchOption {
	return func(p *SearchParams) { p.Workers = max(n, 0) }
}

// WithEffort asks an approximate searcher to explore at least n candidates per query (for an
// HNSW graph, its efSearch), trading speed for recall. Exact searchers such as [*Index]
// ignore it. Values below 1 mean the searcher's default.
func WithEffort(n int) SearchOption {
	return func(p *SearchParams) { p.Effort = max(n, 0) }
}
