package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log"
	"math"
	"net/http"
	"path"
	"runtime"
	"sort"
	"strconv"
	"time"

	"pinrec"
	"pinrec/foryou"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the server reads from an index: a pinrec.Searcher whose items can be listed
// and read. Every pinrec.Store (a flat *pinrec.Index, an approximate or remote index)
// satisfies it. The server treats it as read-only. Region items (pinrec.IsRegion) are not
// listed as pins; searches collapse them into their pins (pinrec.SearchPins), whose
// best-matching box the pages draw.
type Store interface {
	pinrec.Searcher
	Get(id string) (pinrec.Item, error)
	Has(id string) bool
	IDs() []string
	Info() map[string]string
}

// Server is the web site and API over one Store. It is an http.Handler, safe for concurrent
// use; the store is read when New is called (IDs and categories) and at every request.
type Server struct {
	cfg     config
	store   Store
	mux     *http.ServeMux
	pages   map[string]*template.Template
	ids     []string            // every pin's ID (region items left out), in the store's order, at New
	mixed   []string            // the same IDs, taken in turn from each category (the home grid)
	cats    []category          // categories, sorted by name
	catOf   map[string]string   // ID -> category
	catIDs  map[string][]string // category -> IDs, in the store's order
	regions bool                // the store held region items at New
	queries chan struct{}       // a slot per concurrent upload or crop query
	engage  *engagement         // likes, saves and the hybrid ranking; nil without
	foryou  *foryou.Model       // the "For you" page and personalised item pages (foryou.go); nil without
	saved   *searches           // uploaded queries, for their results' URLs
	farAt   float64             // a best match farther than this is not a close match
	info    string              // one line about the index and its embedding
	dupes   dupesCache          // the duplicates page's calibrated report (dupes.go)
}

// category is a value of the items' category: their "category" metadata, or the folder of
// their ID.
type category struct {
	Name  string
	Count int
}

// New returns a Server over store.
func New(store Store, opts ...Option) (*Server, error) {
	if store == nil {
		return nil, errors.New("web: New: nil store")
	}
	c := config{
		locate:        func(_ string, meta map[string]string) string { return meta["path"] },
		logger:        log.Default(),
		maxUpload:     32 << 20,
		maxPixels:     24 << 20,
		maxK:          100,
		queries:       runtime.GOMAXPROCS(0),
		savedSearches: 500,
		savedTTL:      24 * time.Hour,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.maxUpload < 1 || c.maxPixels < 1 || c.maxK < 1 || c.queries < 1 || c.savedSearches < 1 || c.savedTTL <= 0 {
		return nil, fmt.Errorf("web: limits must be positive (upload %d, pixels %d, k %d, queries %d, saved searches %d for %v)",
			c.maxUpload, c.maxPixels, c.maxK, c.queries, c.savedSearches, c.savedTTL)
	}
	s := &Server{cfg: c, store: store, mux: http.NewServeMux(), queries: make(chan struct{}, c.queries),
		saved: newSearches(c.savedSearches, c.savedTTL)}
	var err error
	if err = s.parseTemplates(); err != nil {
		return nil, err
	}
	s.indexCategories()
	if s.cfg.dedup <= 0 {
		s.cfg.dedup = s.estimateDedup()
	}
	if s.farAt = c.closeMatch; s.farAt <= 0 {
		s.farAt = s.calibrateFar()
	}
	s.info = describe(store)
	if c.engagement != nil {
		if s.engage, err = newEngagement(store, c.engagement, &c); err != nil {
			return nil, err
		}
		if s.foryou, err = newForYou(store, c.engagement); err != nil {
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.handleHome)
	m.HandleFunc("GET /item/{id...}", s.handleItem)
	m.HandleFunc("POST /search", s.handleSearchPage)
	m.HandleFunc("GET /search/{id}", s.handleSavedSearch)
	m.HandleFunc("GET /api/similar/{id...}", s.handleAPISimilar)
	m.HandleFunc("POST /api/query", s.handleAPIQuery)
	m.HandleFunc("GET /api/items", s.handleAPIItems)
	m.HandleFunc("GET /image/{id...}", s.handleImage)
	m.HandleFunc("GET /healthz", s.handleHealth)
	m.HandleFunc("GET /dupes", s.handleDupes)
	m.HandleFunc("GET /foryou", s.handleForYou)
	m.Handle("GET /static/", staticHandler())
	m.HandleFunc("GET /favicon.ico", handleFavicon)
	m.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) })
	m.HandleFunc("/", s.handleNotFound)
	if s.engage != nil {
		s.engage.register(m)
	}
}

// ServeHTTP serves a request: security headers, a recovered panic answers 500, and one log
// line per request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	h := rec.Header()
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.cfg.logger.Printf("panic serving %s %s: %v", r.Method, r.URL.RequestURI(), p)
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error")
			}
		}
		s.cfg.logger.Printf("%s %s %s %d %dB %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), rec.status, rec.bytes,
			time.Since(start).Round(10*time.Microsecond))
	}()
	switch {
	case !s.hostAllowed(r.Host):
		writeError(rec, http.StatusMisdirectedRequest, "this server does not answer to the host name "+strconv.Quote(r.Host))
	case !originAllowed(r):
		writeError(rec, http.StatusForbidden, "cross-origin request refused")
	default:
		s.mux.ServeHTTP(rec, r)
	}
}

// recorder remembers the status and size of a response for the log line.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// indexCategories reads every item's category once.
func (s *Server) indexCategories() {
	s.catOf = make(map[string]string, s.store.Len())
	s.catIDs = map[string][]string{}
	visit := func(id string, meta map[string]string) {
		if _, region := pinrec.IsRegion(meta); region {
			s.regions = true
			return
		}
		s.ids = append(s.ids, id)
		c := categoryOf(id, meta)
		s.catOf[id] = c
		s.catIDs[c] = append(s.catIDs[c], id)
	}
	if m, ok := s.store.(metaLister); ok {
		// Every item's metadata in the store's order, no vector copied (a million items:
		// seconds and gigabytes of garbage less than a Get each).
		m.Matching(pinrec.WithFilter(func(id string, meta map[string]string) bool {
			visit(id, meta)
			return false
		}))
	} else {
		for _, id := range s.store.IDs() {
			var meta map[string]string
			if it, err := s.store.Get(id); err == nil {
				meta = it.Meta
			}
			visit(id, meta)
		}
	}
	for name, ids := range s.catIDs {
		s.cats = append(s.cats, category{name, len(ids)})
	}
	sort.Slice(s.cats, func(i, j int) bool { return s.cats[i].Name < s.cats[j].Name })
	s.mixed = roundRobin(s.cats, s.catIDs)
}

// metaLister is a Store that calls a filter with every item's metadata, in the store's order,
// without copying vectors, as [pinrec.Index.Matching] does; New lists categories through it
// when the store has it, else through a Get per item.
type metaLister interface {
	Matching(opts ...pinrec.SearchOption) []string
}

// categoryOf is an item's category: its "category" metadata, or else the folder of its ID
// ("" for an ID without a folder).
func categoryOf(id string, meta map[string]string) string {
	if c := meta["category"]; c != "" {
		return c
	}
	if d := path.Dir(id); d != "." && d != "/" {
		return d
	}
	return ""
}

// estimateDedup is a quarter of the median nearest-neighbour distance of up to 32 items
// spread over the index, or 0 when there are fewer than 2 items.
func (s *Server) estimateDedup() float64 {
	if len(s.ids) < 2 {
		return 0
	}
	ds := s.sampleNNDistances(32)
	if len(ds) == 0 {
		return 0
	}
	d := ds[len(ds)/2] / 4
	// Two significant digits read better in the page and the URL.
	if d > 0 {
		p := math.Pow(10, math.Floor(math.Log10(d))-1)
		d = math.Round(d/p) * p
	}
	return d
}

// describe is the footer line about the index: how many items and which embedding.
func describe(store Store) string {
	in := store.Info()
	what := "embeddings"
	switch {
	case in["embedding"] == "pixels":
		what = fmt.Sprintf("the raw-pixel baseline (%sx%s RGB, %s-d)", in["input_size"], in["input_size"], in["dim"])
	case in["weights"] != "":
		what = fmt.Sprintf("ResNet50 embeddings (%s-d), weights: %s", in["dim"], in["weights"])
	}
	return fmt.Sprintf("%d items, nearest by Euclidean distance over %s", store.Len(), what)
}

// errNoEmbedder answers upload and crop queries of a server built without WithEmbedder.
var errNoEmbedder = errors.New("this server cannot embed images (no model)")

// errEmbedderCount is an Embedder's answer with other than one vector for one image.
var errEmbedderCount = errors.New("web: the embedder did not answer one vector for one image")
