package web

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"sync"
	"time"

	"pinrec"
)

// savedSearch is an uploaded query the server keeps so that its results have a URL: its
// vector and a small preview, never the uploaded file.
type savedSearch struct {
	id            string
	name          string // the uploaded file's name
	vec           []float32
	crop          *pinrec.Rect
	preview       template.URL
	width, height int
	at            time.Time
}

// URL is the saved search's results page.
func (sv *savedSearch) URL() string { return "/search/" + sv.id }

// searches keeps at most max saved searches for ttl each, the oldest dropped first. Safe for
// concurrent use.
type searches struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	m     map[string]*savedSearch
	order []string // IDs, oldest first
}

func newSearches(max int, ttl time.Duration) *searches {
	return &searches{max: max, ttl: ttl, now: time.Now, m: map[string]*savedSearch{}}
}

// put saves sv under a fresh random ID (sv.id).
func (ss *searches) put(sv *savedSearch) {
	var b [9]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	sv.id = base64.RawURLEncoding.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sv.at = ss.now()
	ss.expire()
	for len(ss.order) >= ss.max {
		delete(ss.m, ss.order[0])
		ss.order = ss.order[1:]
	}
	ss.m[sv.id] = sv
	ss.order = append(ss.order, sv.id)
}

// get returns the saved search id, or nil when there is none (any more).
func (ss *searches) get(id string) *savedSearch {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.expire()
	return ss.m[id]
}

// expire drops the searches older than ttl; the caller holds mu.
func (ss *searches) expire() {
	now := ss.now()
	n := 0
	for n < len(ss.order) && now.Sub(ss.m[ss.order[n]].at) > ss.ttl {
		delete(ss.m, ss.order[n])
		n++
	}
	ss.order = ss.order[n:]
}

type resultsPage struct {
	base
	Query   string
	Preview template.URL // a small JPEG of the query, as a data: URL
	Width   int
	Height  int
	Crop    string
	Link    string // this page's URL, to share
	Results []pinView
	Far     bool // no close matches
	Hidden  int  // near-duplicates hidden (WithNearDuplicates)
	Chips   []chip
}

// handleSearchPage answers the upload form: the upload is saved as a search and the browser
// sent to its results page, which has a URL (refresh, back, share).
func (s *Server) handleSearchPage(w http.ResponseWriter, r *http.Request) {
	sv, st, err := s.takeUpload(w, r, 20)
	if err != nil {
		s.pageError(w, err)
		return
	}
	st.Crop = nil // the saved vector is of the crop already
	http.Redirect(w, r, href(sv.URL(), st.values(20)), http.StatusSeeOther)
}

// handleSavedSearch shows the results of a saved upload, with the URL's k and categories.
func (s *Server) handleSavedSearch(w http.ResponseWriter, r *http.Request) {
	sv := s.saved.get(r.PathValue("id"))
	if sv == nil {
		s.pageError(w, fail(http.StatusNotFound, "this search is no longer kept: upload the image again"))
		return
	}
	st, err := s.parseState(r.URL.Query(), 20)
	if err == nil && (st.Crop != nil || st.Rank == "hybrid") {
		err = fail(http.StatusBadRequest, "crop and rank=hybrid do not apply to an uploaded image's saved search")
	}
	if err != nil {
		s.pageError(w, err)
		return
	}
	res, hidden, err := s.searchVector(r.Context(), sv.vec, st)
	if err != nil {
		s.pageError(w, err)
		return
	}
	p := resultsPage{base: base{Title: "Pins like " + sv.name, Info: s.info, Cats: st.Cats, K: st.K},
		Query: sv.name, Preview: sv.preview, Width: sv.width, Height: sv.height, Crop: cropString(sv.crop),
		Link: href(sv.URL(), st.values(20)), Results: s.results(res), Far: s.far(res), Hidden: hidden, Chips: s.chips(sv.URL(), st, 20)}
	s.render(w, http.StatusOK, "results", p)
}
