package foryou

import (
	"slices"
	"time"

	"pinrec"
)

// Defaults of the options.
const (
	// DefaultDecay is λ, per day, of the importance exp(-λ·age): PinnerSage's 0.01 (an action
	// 70 days old counts half as much as one today).
	DefaultDecay = 0.01
	// DefaultWindow is how far back actions count: PinnerSage's 90 days.
	DefaultWindow = 90 * 24 * time.Hour
	// DefaultMaxItems caps the items one user's interests are built from (the most recent
	// ones): Ward's matrix is then at most 16 MB and the clustering a few tens of
	// milliseconds at 768 dimensions.
	DefaultMaxItems = 2000
	// DefaultSaveWeight and DefaultLikeWeight weigh a save and a like in an interest's
	// importance: a save (a pin kept on a board) says more than a like.
	DefaultSaveWeight = 1.0
	DefaultLikeWeight = 0.5
	// DefaultRelativeCut is the Ward merge height that separates interests, as a multiple of
	// the collection's scale (see [Model.Scale]): the best recall on the tuning users of make
	// bench-personal's simulation (grid 1, 2, 4, 6, 8).
	DefaultRelativeCut = 4.0
	// DefaultSamples is how many interests a feed draws, by importance: PinnerSage's 3.
	DefaultSamples = 3
	// DefaultCandidates is the number of visual neighbours that personalised "more like
	// this" re-ranks.
	DefaultCandidates = 300
	// DefaultBlend is β of personalised "more like this": score = (1-β)·visual + β·personal.
	DefaultBlend = 0.5
	// DefaultBlendInterests is how many of the user's interests, the most important first,
	// personalised "more like this" measures candidates against.
	DefaultBlendInterests = 5
	// DefaultCacheUsers is how many users' interests a Model keeps.
	DefaultCacheUsers = 1024
)

// MergeOrder says how a feed interleaves the neighbours of its sampled interests.
type MergeOrder int

const (
	// RoundRobin (the default) takes the nearest remaining neighbour of each sampled
	// interest in turn, the most important interest first: every sampled interest gets an
	// equal share of the feed.
	RoundRobin MergeOrder = iota
	// ByDistance orders all neighbours by their distance to the medoid that retrieved them.
	ByDistance
)

// Option configures a [Model] ([New]) or one call (Interests, ForYou, Similar), overriding
// the Model's options for that call.
type Option func(*config)

type config struct {
	decay          float64
	window         time.Duration
	maxItems       int
	saveW, likeW   float64
	cut            float64 // absolute; 0: relCut × scale
	relCut         float64
	samples        int
	seed           *uint64
	merge          MergeOrder
	dupe           float64 // absolute; < 0: off; 0: calibrated by package dupes
	candidates     int
	blend          float64
	blendInterests int
	cacheUsers     int
	now            func() time.Time
	search         []pinrec.SearchOption
}

func defaultConfig() config {
	return config{
		decay: DefaultDecay, window: DefaultWindow, maxItems: DefaultMaxItems,
		saveW: DefaultSaveWeight, likeW: DefaultLikeWeight, relCut: DefaultRelativeCut,
		samples: DefaultSamples, candidates: DefaultCandidates,
		blend: DefaultBlend, blendInterests: DefaultBlendInterests, cacheUsers: DefaultCacheUsers,
		now: time.Now,
	}
}

func (c *config) apply(opts []Option) {
	c.search = slices.Clip(c.search)
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
}

// WithDecay sets λ per day (default [DefaultDecay]); 0 weighs every action in the window
// alike. Negative values mean 0.
func WithDecay(lambdaPerDay float64) Option {
	return func(c *config) { c.decay = max(lambdaPerDay, 0) }
}

// WithWindow sets how far back actions count (default [DefaultWindow]); 0 or less means no
// limit.
func WithWindow(d time.Duration) Option { return func(c *config) { c.window = d } }

// WithMaxItems caps the items the interests are built from, keeping the most recently
// engaged (default [DefaultMaxItems], at most [MaxWardItems]; values below 1 mean the
// default).
func WithMaxItems(n int) Option {
	return func(c *config) {
		if n < 1 {
			n = DefaultMaxItems
		}
		c.maxItems = min(n, MaxWardItems)
	}
}

// WithActionWeights sets the weight of a like and of a save in an interest's importance
// (defaults [DefaultLikeWeight], [DefaultSaveWeight]). An item both liked and saved counts
// both. Negative values mean 0; a weight of 0 leaves that action out of the interests.
func WithActionWeights(like, save float64) Option {
	return func(c *config) { c.likeW, c.saveW = max(like, 0), max(save, 0) }
}

// WithCut sets the Ward merge height at which the dendrogram is cut into interests, in
// distance units of the embedding. It overrides [WithRelativeCut]; 0 or less goes back to
// the relative cut.
func WithCut(height float64) Option { return func(c *config) { c.cut = max(height, 0) } }

// WithRelativeCut sets the cut as a multiple of the collection's scale (default
// [DefaultRelativeCut]; see [Model.Scale]). Larger gives fewer, broader interests.
func WithRelativeCut(f float64) Option {
	return func(c *config) {
		if f > 0 {
			c.relCut, c.cut = f, 0
		}
	}
}

// WithSamples sets how many interests a feed draws (default [DefaultSamples]); values below
// 1 mean the default.
func WithSamples(n int) Option {
	return func(c *config) {
		if n < 1 {
			n = DefaultSamples
		}
		c.samples = n
	}
}

// WithSeed makes the feed's draw of interests deterministic: the same seed, user history and
// options give the same feed. Without it every call draws afresh.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = &seed } }

// WithMerge sets how the feed interleaves its interests' neighbours (default [RoundRobin]).
func WithMerge(m MergeOrder) Option { return func(c *config) { c.merge = m } }

// WithDuplicateDistance sets the feed's near-duplicate filter: a candidate within d of an
// item the user engaged with is left out, as that item itself is. 0 goes back to the
// default, the collection's near-duplicate threshold as package dupes calibrates it
// ([Model.DuplicateDistance]); a negative d turns the filter off (engaged items themselves
// are always left out).
func WithDuplicateDistance(d float64) Option {
	return func(c *config) {
		switch {
		case d < 0:
			c.dupe = -1
		default:
			c.dupe = d
		}
	}
}

// WithCandidates sets how many visual neighbours personalised "more like this" re-ranks
// (default [DefaultCandidates]; values below k mean k).
func WithCandidates(n int) Option { return func(c *config) { c.candidates = n } }

// WithBlend sets β of personalised "more like this" (default [DefaultBlend]), clamped to
// [0, 1]: 0 ranks by visual similarity alone, 1 by closeness to the user's interests alone.
func WithBlend(beta float64) Option {
	return func(c *config) { c.blend = min(max(beta, 0), 1) }
}

// WithBlendInterests sets how many interests, most important first, personalised "more like
// this" uses (default [DefaultBlendInterests]; values below 1 mean the default).
func WithBlendInterests(n int) Option {
	return func(c *config) {
		if n < 1 {
			n = DefaultBlendInterests
		}
		c.blendInterests = n
	}
}

// WithCacheUsers sets how many users' interests a Model keeps, least recently used dropped
// first (default [DefaultCacheUsers]; 0 or less turns the cache off). Only [New] reads it.
func WithCacheUsers(n int) Option { return func(c *config) { c.cacheUsers = max(n, 0) } }

// WithClock sets the clock that ages actions (default time.Now): the time of "now" for the
// decay and the window. For tests and for replaying history.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithSearch passes search options (a filter, a metadata match) to every search the Model
// makes; cold-start items must pass them too.
func WithSearch(opts ...pinrec.SearchOption) Option {
	return func(c *config) { c.search = append(slices.Clip(c.search), opts...) }
}
