package web

import (
	"context"
	"image"
	"io"
	"log"
	"time"

	"pinrec"
	"pinrec/engage"
)

// Embedder turns query images into vectors of the index's space: *pinrec.Embedder is one (the
// model the index was built with). It must be safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, imgs ...image.Image) ([][]float32, error)
}

// ImageLocator returns the file that holds an indexed item's image, or "" when there is none.
// The server serves and crops only the files it names, and only for IDs the store holds.
type ImageLocator func(id string, meta map[string]string) string

// Option configures New.
type Option func(*config)

type config struct {
	embedder      Embedder
	hosts         []string
	visitorKey    []byte
	limits        Limits
	tempDir       string
	savedSearches int
	savedTTL      time.Duration
	closeMatch    float64
	collapse      Collapser
	locate        ImageLocator
	logger        *log.Logger
	maxUpload     int64
	maxPixels     int
	maxK          int
	queries       int
	dedup         float64
	engagement    *engage.Store
	rankOptions   []engage.RankOption
}

// WithEmbedder sets how uploaded and cropped images are embedded: a crop is cut out with
// pinrec.Crop, then embedded whole, as the cropped file would be. Without it, upload and crop
// queries answer 501.
func WithEmbedder(e Embedder) Option { return func(c *config) { c.embedder = e } }

// WithImageLocator sets where items' image files are. The default reads the item metadata
// "path" (what `pinrec index` records).
func WithImageLocator(f ImageLocator) Option { return func(c *config) { c.locate = f } }

// WithLogger sets where the one line per request goes (default: log.Default()); nil silences it.
func WithLogger(l *log.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = log.New(io.Discard, "", 0)
		}
		c.logger = l
	}
}

// WithMaxUpload bounds the size of an upload request body in bytes (default 32 MiB): larger
// uploads get 413.
func WithMaxUpload(n int64) Option { return func(c *config) { c.maxUpload = n } }

// WithMaxPixels bounds the width*height of an uploaded image, checked from its header before
// decoding (default 24 Mi pixels): larger ones, decompression bombs among them, get 400.
func WithMaxPixels(n int) Option { return func(c *config) { c.maxPixels = n } }

// WithMaxK bounds k in queries (default 100); k outside 1..max gets 400.
func WithMaxK(n int) Option { return func(c *config) { c.maxK = n } }

// WithConcurrentQueries bounds how many uploads or crops are read, decoded and embedded at
// once (default GOMAXPROCS); the others wait their turn.
func WithConcurrentQueries(n int) Option { return func(c *config) { c.queries = n } }

// WithDedupDistance sets the distance under which a result counts as a near-duplicate of the
// query when the page's "hide near-duplicates" option is on. The default (0) is estimated from
// the index: a quarter of the median distance from an item to its nearest neighbour, over a
// sample of items.
func WithDedupDistance(d float64) Option { return func(c *config) { c.dedup = d } }

// WithEngagement adds likes, saves and the visual/hybrid toggle to the item page: visitors'
// likes and saves are recorded in store, and rank=hybrid re-ranks with an engage.Ranker over
// the server's store and this one, configured by opts. The server does not close store.
func WithEngagement(store *engage.Store, opts ...engage.RankOption) Option {
	return func(c *config) { c.engagement, c.rankOptions = store, opts }
}

// cropEmbed embeds img, or its crop, with e.
func cropEmbed(ctx context.Context, e Embedder, img image.Image, crop *pinrec.Rect) ([]float32, error) {
	if crop != nil {
		var err error
		if img, err = pinrec.Crop(img, *crop); err != nil {
			return nil, err
		}
	}
	vecs, err := e.Embed(ctx, img)
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, errEmbedderCount
	}
	return vecs[0], nil
}

// WithAllowedHosts adds host names (without port) the server answers to, besides the loopback
// names it always accepts (localhost, 127.0.0.0/8, ::1). A request whose Host header names
// another host gets 421 Misdirected Request, which defeats DNS rebinding: a page of another
// site whose name now resolves to this server cannot read or write through it. A request
// with an Origin header (a browser's cross-site request) must come from an allowed host too.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) { c.hosts = append(c.hosts, hosts...) }
}

// WithVisitorKey sets the key that signs visitors' IDs (at least 16 bytes; LoadOrCreateKey
// keeps one in a file). The default is a random key per process: visitors then get new IDs
// when the server restarts, and their likes and saves stay with their old IDs.
func WithVisitorKey(key []byte) Option {
	return func(c *config) { c.visitorKey = append([]byte(nil), key...) }
}

// WithLimits sets what anonymous visitors may write (default DefaultLimits).
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithTempDir sets where uploads are written while they are decoded (default os.TempDir()).
func WithTempDir(dir string) Option { return func(c *config) { c.tempDir = dir } }

// WithSavedSearches bounds the uploaded queries the server keeps so that their results have
// a URL (GET /search/{id}): at most n (default 500; each holds the query's vector and a small
// preview), each for ttl (default 24 hours). The oldest go first.
func WithSavedSearches(n int, ttl time.Duration) Option {
	return func(c *config) { c.savedSearches, c.savedTTL = n, ttl }
}

// WithCloseMatchDistance sets the distance past which a best match is not a close match: the
// pages then say "no close matches" and the JSON answers carry "far": true. The default (0) is
// calibrated from the index: twice the 95th percentile of its pins' nearest-neighbour
// distances, over a sample of up to 64 pins.
func WithCloseMatchDistance(d float64) Option { return func(c *config) { c.closeMatch = d } }

// WithNearDuplicates hides near-duplicates in every result list with c (see Collapser); the
// pages say how many it hid. The server then asks the store for k+k/4+4 results, and for 2k+8
// when fewer than k remain after c, and counts what c hid among them. Without it, results are shown as the search returns them (the
// item page's "hide near-duplicates" toggle still leaves out results nearer to the query
// than WithDedupDistance).
func WithNearDuplicates(c Collapser) Option { return func(cfg *config) { cfg.collapse = c } }
