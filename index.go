package pinrec

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"

	"pinrec/internal/idtable"
)

// Errors returned by [Index] methods. They are wrapped with the operation (and the item ID
// where there is one); test them with [errors.Is].
var (
	// ErrDimMismatch: a vector or query does not have the index's dimension.
	ErrDimMismatch = errors.New("pinrec: dimension mismatch")
	// ErrNonFinite: a vector or query holds a NaN or an infinity.
	ErrNonFinite = errors.New("pinrec: non-finite value")
	// ErrBadK: k is zero or negative.
	ErrBadK = errors.New("pinrec: k must be positive")
	// ErrNotFound: no item has the given ID.
	ErrNotFound = errors.New("pinrec: id not found")
	// ErrEmptyIndex: a search on an index that holds no items.
	ErrEmptyIndex = errors.New("pinrec: empty index")
	// ErrReadOnly: Add or Remove on a read-only (memory-mapped) index.
	ErrReadOnly = errors.New("pinrec: index is read-only")
	// ErrEmptyID: an item with an empty ID.
	ErrEmptyID = errors.New("pinrec: empty id")
	// ErrBadDim: NewIndex with a dimension that is not positive, or saving a zero Index
	// before its first Add (it has no dimension yet).
	ErrBadDim = errors.New("pinrec: dimension must be positive")
	// ErrIndexClosed: a call on a memory-mapped index after Close.
	ErrIndexClosed = errors.New("pinrec: index closed")
)

// Item is one indexed vector: a unique ID, the vector, and optional metadata (for example the
// source path of the image).
type Item struct {
	ID     string
	Vector []float32
	Meta   map[string]string
}

// IndexOption configures [NewIndex].
type IndexOption func(*indexConfig)

type indexConfig struct {
	capacity int
}

// WithCapacity reserves room for n vectors, so that adding up to n items allocates the vector
// storage once. Values below 1 are ignored.
func WithCapacity(n int) IndexOption {
	return func(c *indexConfig) {
		if n > 0 {
			c.capacity = n
		}
	}
}

// Index is a flat store of float32 vectors of one dimension, each under a unique string ID, with
// exact Euclidean nearest-neighbour search ([Index.Search], [Index.SearchBatch], [Index.Similar]).
//
// Items keep their insertion order: [Index.IDs] lists them in it, and it breaks distance ties in
// search results. Adding an existing ID replaces its vector and metadata in place.
//
// An Index is safe for concurrent use: any number of searches and reads run in parallel, and
// [Index.Add] and [Index.Remove] wait for running searches and block new ones while they change
// the index. A search sees the index either wholly before or wholly after a concurrent Add or
// Remove.
//
// Searches are exact: every search computes the distance to every vector (squared L2 in
// float32, with AVX2+FMA kernels on amd64 and portable Go elsewhere or under the purego build
// tag), so its time grows with Len()*Dim() and, for one query, is bound by memory bandwidth.
// One search splits the rows into runtime.GOMAXPROCS(0) contiguous ranges ([WithWorkers]
// lowers that), scanned in parallel, each with its own top-k heap, merged once at the end.
// [Index.SearchBatch] shares one pass between many queries and is much faster per query than
// separate searches. Searches stop early, with the context's error, when their context ends.
//
// Errors wrap the package's sentinels, which callers test with [errors.Is]: [ErrDimMismatch],
// [ErrNonFinite], [ErrBadK], [ErrNotFound], [ErrEmptyIndex], [ErrEmptyID], [ErrReadOnly],
// [ErrIndexClosed], [ErrFileChanged] (a mapped file truncated in place), and [ErrBadDim] from
// [NewIndex]. No method panics on bad input.
//
// An Index loaded with [WithMmap] is read-only: Add and Remove return [ErrReadOnly], and
// [Index.Close] releases the mapping, after which methods return [ErrIndexClosed]. Close is a
// no-op for other indexes.
//
// The zero Index is an empty index whose dimension the first successful [Index.Add] fixes (the
// length of its first item's vector); until then [Index.Dim] is 0, searches return
// [ErrEmptyIndex], and [Index.Save] and [Index.WriteTo] refuse with [ErrBadDim], the format
// needing a dimension. An Index must not be copied after first use.
//
// Memory: the vectors take 4*Len()*Dim() bytes in one block, plus at most 1/16 of spare
// capacity as the index grows (use [WithCapacity] when the final size is known), plus the IDs
// and metadata.
type Index struct {
	// mu guards every field below. Readers (search, Get, IDs, ...) hold it for reading for the
	// whole call; Add, Remove, SetInfo and Close hold it for writing.
	mu sync.RWMutex

	// dim is the vector dimension, fixed for the life of the index: > 0, or 0 in a zero Index
	// until its first Add, which sets it (and nothing else does).
	dim int

	// vectors holds the rows in insertion order, row i at vectors[i*dim:(i+1)*dim];
	// len(vectors) == len(ids)*dim. Every value is finite. For a memory-mapped index it
	// aliases the mapping and is never written.
	vectors []float32

	// ids[i] is the ID of row i: non-empty, unique.
	ids []string

	// meta[i] is the metadata of row i; len(meta) == len(ids); an entry may be nil. The maps
	// are owned by the index: copied on the way in and out, never shared with callers.
	meta []map[string]string

	// pos maps each ID to its row: pos.Get(ids[i], ids) == i, pos.Len() == len(ids). It holds
	// only row numbers (about 8 bytes a row against 45 for a map at a million rows).
	pos idtable.Table

	// info is index-level metadata (model, weights source, ...); may be nil when empty.
	info map[string]string

	// mapping, when non-nil, is the memory mapping that vectors aliases; Close closes it.
	mapping io.Closer

	// readOnly makes Add and Remove fail with ErrReadOnly (set for memory-mapped indexes).
	readOnly bool

	// closed is set by Close on an index with a mapping; every later call fails with
	// ErrIndexClosed.
	closed bool

	// post holds the inverted lists of metadata values that filtered searches build
	// (postings.go); Add, Remove and Close drop them.
	post postings
}

// NewIndex returns an empty index for vectors of dimension dim.
// It returns an error wrapping [ErrBadDim] if dim < 1.
func NewIndex(dim int, opts ...IndexOption) (*Index, error) {
	if dim < 1 {
		return nil, fmt.Errorf("new index: dimension %d: %w", dim, ErrBadDim)
	}
	var cfg indexConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ix := &Index{dim: dim}
	if cfg.capacity > 0 && cfg.capacity <= math.MaxInt/dim {
		ix.vectors = make([]float32, 0, cfg.capacity*dim)
		ix.ids = make([]string, 0, cfg.capacity)
		ix.meta = make([]map[string]string, 0, cfg.capacity)
		ix.pos.Reset(cfg.capacity)
	}
	return ix, nil
}

// checkVector reports whether v has length dim (at least 1) and only finite values.
func checkVector(v []float32, dim int) error {
	if len(v) != dim || dim < 1 {
		return fmt.Errorf("length %d, index dimension %d: %w", len(v), dim, ErrDimMismatch)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("element %d is %v: %w", i, x, ErrNonFinite)
		}
	}
	return nil
}

// usable returns an error if the index cannot be used any more.
// The caller holds mu.
func (ix *Index) usable(op string) error {
	if ix.closed {
		return fmt.Errorf("%s: %w", op, ErrIndexClosed)
	}
	return nil
}

// Add adds items, or replaces the vector and metadata of those whose ID is already present
// (they keep their position). Vectors and metadata are copied. Either every item is added or,
// on error, none is: the error wraps [ErrEmptyID], [ErrDimMismatch] or [ErrNonFinite] and
// names the item, or [ErrReadOnly]. Within one call, a later item with the same ID wins.
func (ix *Index) Add(items ...Item) error {
	// Validate before taking the lock: the scan over the values does not need it.
	dim := ix.Dim()
	if dim == 0 && len(items) > 0 {
		dim = len(items[0].Vector) // a zero Index takes the dimension of its first item
	}
	for i := range items {
		it := &items[i]
		if it.ID == "" {
			return fmt.Errorf("add: item %d: %w", i, ErrEmptyID)
		}
		if err := checkVector(it.Vector, dim); err != nil {
			return fmt.Errorf("add %q: %w", it.ID, err)
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.post.reset()
	if err := ix.usable("add"); err != nil {
		return err
	}
	if ix.readOnly {
		return fmt.Errorf("add: %w", ErrReadOnly)
	}
	if len(items) == 0 {
		return nil
	}
	if ix.dim == 0 {
		ix.dim = dim
	} else if ix.dim != dim { // a concurrent first Add fixed another dimension
		return fmt.Errorf("add %q: length %d, index dimension %d: %w", items[0].ID, dim, ix.dim, ErrDimMismatch)
	}
	fresh := 0
	for i := range items {
		if _, ok := ix.pos.Get(items[i].ID, ix.ids); !ok {
			fresh++ // may count a repeated new ID twice: only used to reserve room
		}
	}
	ix.reserve(len(ix.ids) + fresh)
	for i := range items {
		it := &items[i]
		var m map[string]string
		if len(it.Meta) > 0 {
			m = maps.Clone(it.Meta)
		}
		if r, ok := ix.pos.Get(it.ID, ix.ids); ok {
			copy(ix.vectors[r*dim:(r+1)*dim], it.Vector)
			ix.meta[r] = m
			continue
		}
		ix.ids = append(ix.ids, it.ID)
		ix.pos.Add(it.ID, len(ix.ids)-1, ix.ids)
		ix.meta = append(ix.meta, m)
		ix.vectors = append(ix.vectors, it.Vector...)
	}
	return nil
}

// reserve makes room for n rows in vectors without a doubling of large slices: above 16 MiB
// the vector storage grows by 1/16, which keeps the unused capacity (part of the index's
// memory overhead) under about 6%. The caller holds mu for writing.
func (ix *Index) reserve(n int) {
	need := n * ix.dim
	if need <= cap(ix.vectors) {
		return
	}
	c := cap(ix.vectors)
	switch {
	case c == 0:
		c = need
	case c < 4<<20:
		c *= 2
	default:
		c += c / 16
	}
	c = max(c, need)
	v := make([]float32, len(ix.vectors), c)
	copy(v, ix.vectors)
	ix.vectors = v
}

// Remove deletes the items with the given IDs, compacting the rows in one pass and keeping the
// insertion order of the rest. If any ID is unknown, nothing is removed and the error wraps
// [ErrNotFound] and names it. A read-only index returns [ErrReadOnly].
func (ix *Index) Remove(ids ...string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.post.reset()
	if err := ix.usable("remove"); err != nil {
		return err
	}
	if ix.readOnly {
		return fmt.Errorf("remove: %w", ErrReadOnly)
	}
	if len(ids) == 0 {
		return nil
	}
	drop := make(map[int]bool, len(ids))
	for _, id := range ids {
		r, ok := ix.pos.Get(id, ix.ids)
		if !ok {
			return fmt.Errorf("remove %q: %w", id, ErrNotFound)
		}
		drop[r] = true
	}
	dim := ix.dim
	w := 0
	for r := range ix.ids {
		if drop[r] {
			ix.pos.Delete(ix.ids[r], ix.ids)
			continue
		}
		if w != r {
			copy(ix.vectors[w*dim:(w+1)*dim], ix.vectors[r*dim:(r+1)*dim])
			ix.ids[w] = ix.ids[r]
			ix.meta[w] = ix.meta[r]
			ix.pos.Move(ix.ids[w], r, w, ix.ids)
		}
		w++
	}
	clear(ix.ids[w:])
	clear(ix.meta[w:])
	ix.ids = ix.ids[:w]
	ix.meta = ix.meta[:w]
	ix.vectors = ix.vectors[:w*dim]
	// Give memory back once most of it is unused.
	if cap(ix.vectors) > 1<<20 && len(ix.vectors) < cap(ix.vectors)/2 {
		ix.vectors = slices.Clip(slices.Clone(ix.vectors))
		ix.ids = slices.Clip(slices.Clone(ix.ids))
		ix.meta = slices.Clip(slices.Clone(ix.meta))
	}
	return nil
}

// Get returns a copy of the item with the given ID, or an error wrapping [ErrNotFound].
func (ix *Index) Get(id string) (_ Item, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if err := ix.usable("get"); err != nil {
		return Item{}, err
	}
	r, ok := ix.pos.Get(id, ix.ids)
	if !ok {
		return Item{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return Item{
		ID:     id,
		Vector: slices.Clone(ix.vectors[r*ix.dim : (r+1)*ix.dim]),
		Meta:   maps.Clone(ix.meta[r]),
	}, nil
}

// Has reports whether an item has the given ID.
func (ix *Index) Has(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.pos.Get(id, ix.ids)
	return ok && !ix.closed
}

// IDs returns the IDs of all items, in insertion order.
func (ix *Index) IDs() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil
	}
	return slices.Clone(ix.ids)
}

// Len returns the number of items.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return 0
	}
	return len(ix.ids)
}

// Dim returns the vector dimension.
func (ix *Index) Dim() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.dim
}

// SetInfo sets an index-level metadata entry (for example the model and its weights source),
// which [Index.Save] persists. An empty value deletes the key.
func (ix *Index) SetInfo(key, value string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if value == "" {
		delete(ix.info, key)
		return
	}
	if ix.info == nil {
		ix.info = make(map[string]string)
	}
	ix.info[key] = value
}

// Info returns a copy of the index-level metadata; never nil.
func (ix *Index) Info() map[string]string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := make(map[string]string, len(ix.info))
	maps.Copy(m, ix.info)
	return m
}

// Close releases the memory mapping of an index loaded with [WithMmap]; after it, the index's
// methods return [ErrIndexClosed] (or report an empty index). For any other index Close does
// nothing and returns nil. Close waits for running searches, and a second Close returns nil.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.mapping == nil || ix.closed {
		return nil
	}
	ix.closed = true
	ix.post.reset()
	m := ix.mapping
	ix.mapping = nil
	ix.vectors = nil
	ix.ids = nil
	ix.meta = nil
	ix.pos = idtable.Table{}
	if err := m.Close(); err != nil {
		return fmt.Errorf("close index: %w", err)
	}
	return nil
}

// checkLayout verifies the invariants documented on the fields of Index. Code that builds an
// Index from its fields (the loader) calls it before handing the index out.
func (ix *Index) checkLayout() error {
	if ix.dim < 1 {
		return fmt.Errorf("dimension %d: %w", ix.dim, ErrBadDim)
	}
	n := len(ix.ids)
	if len(ix.vectors) != n*ix.dim || len(ix.meta) != n || ix.pos.Len() != n {
		return fmt.Errorf("%d ids, %d metadata, %d positions, %d values for dimension %d: inconsistent layout",
			n, len(ix.meta), ix.pos.Len(), len(ix.vectors), ix.dim)
	}
	for i, id := range ix.ids {
		if id == "" {
			return fmt.Errorf("row %d: %w", i, ErrEmptyID)
		}
		if r, ok := ix.pos.Get(id, ix.ids); !ok || r != i {
			return fmt.Errorf("row %d: id %q duplicated or not indexed", i, id)
		}
	}
	for i, x := range ix.vectors {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("row %d: %w", i/ix.dim, ErrNonFinite)
		}
	}
	return nil
}
