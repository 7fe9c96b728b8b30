package dupes

import (
	"errors"
	"math"
	"runtime"
)

// Errors of this package; test them with [errors.Is].
var (
	// ErrBadOption: an option out of range (a negative threshold, k below 1).
	ErrBadOption = errors.New("dupes: bad option")
	// ErrNoVectors: the store does not hand out its vectors (Get), which grouping needs.
	ErrNoVectors = errors.New("dupes: store has no vectors")
)

// MetaHash is the item metadata key holding a hash of the source file's bytes (`pinrec index`
// writes the hex SHA-256 under it). Items with equal values are exact duplicates ("same
// bytes"). [WithHashKey] names another key.
const MetaHash = "sha256"

// Defaults.
const (
	// DefaultK is how many neighbours each item's first search asks for; an item whose k-th
	// neighbour is still within the threshold is searched again with more.
	DefaultK = 8
	// DefaultSample is how many items [Calibrate] searches when it is not given a count.
	DefaultSample = 2000
)

// Option configures [Find], [Check], [Calibrate] and [Collapse]. A nil Option is ignored.
type Option func(*config)

type config struct {
	threshold   float32 // used when given
	given       bool    // WithThreshold was used
	k           int
	workers     int
	hashKey     string
	sample      int
	seed        uint64
	regions     bool
	progress    func(done, total int)
	effort      int
	query       []float32
	contentHash string
	exclude     string
}

func newConfig(opts []Option) (config, error) {
	c := config{k: DefaultK, workers: runtime.GOMAXPROCS(0), hashKey: MetaHash, sample: DefaultSample, seed: 1}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	switch {
	case c.given && !(c.threshold >= 0 && c.threshold <= math.MaxFloat32):
		return c, errBad("threshold %v: want a finite distance of 0 or more", c.threshold)
	case c.k < 1:
		return c, errBad("k=%d: want at least 1", c.k)
	case c.sample < 1:
		return c, errBad("sample %d: want at least 1", c.sample)
	}
	c.workers = max(c.workers, 1)
	return c, nil
}

// WithThreshold fixes the distance threshold: items within d of each other are
// near-duplicates (d = 0 leaves exact duplicates only). Without it the threshold is
// calibrated from the data ([Calibrate]). A negative d is an error ([ErrBadOption]).
func WithThreshold(d float32) Option {
	return func(c *config) { c.threshold, c.given = d, true }
}

// WithK sets how many neighbours each item's first search asks for (default [DefaultK]).
// Items whose k-th neighbour is within the threshold are searched again with 4k, and so on,
// so k changes speed, not the groups of an exact index.
func WithK(k int) Option { return func(c *config) { c.k = k } }

// WithWorkers bounds the goroutines that search in parallel (default GOMAXPROCS): searches
// of one item each through an approximate or remote store, or the workers of each batched
// pass over an exact index.
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithHashKey names the metadata key holding the content hash (default [MetaHash]); "" turns
// same-bytes detection off.
func WithHashKey(key string) Option { return func(c *config) { c.hashKey = key } }

// WithSample sets how many items [Calibrate] searches (default [DefaultSample]; all items
// when the store holds fewer). [Find] always uses every item.
func WithSample(n int) Option { return func(c *config) { c.sample = n } }

// WithSeed seeds the choice of [Calibrate]'s sample (default 1).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithRegions includes region items (`pinrec index -regions N`); by default only pins are
// grouped and region items are neither grouped nor returned as neighbours.
func WithRegions() Option { return func(c *config) { c.regions = true } }

// WithProgress has [Find] call fn(done, total) as items are searched (from one goroutine at
// a time, at most about 100 times).
func WithProgress(fn func(done, total int)) Option { return func(c *config) { c.progress = fn } }

// WithEffort passes [pinrec.WithEffort] to the searches (an approximate index's efSearch).
func WithEffort(n int) Option { return func(c *config) { c.effort = n } }

// WithContentHash gives [Check] the new file's content hash (as stored under the hash key):
// indexed items with the same value are reported as the same bytes.
func WithContentHash(h string) Option { return func(c *config) { c.contentHash = h } }

// WithExclude has [Check] leave out the item with this ID (the new image itself, when it is
// already in the index).
func WithExclude(id string) Option { return func(c *config) { c.exclude = id } }

// WithQuery gives [Collapse] the query's vector: results within the threshold of the query
// itself are hidden too (copies of the picture being looked at).
func WithQuery(v []float32) Option { return func(c *config) { c.query = v } }
