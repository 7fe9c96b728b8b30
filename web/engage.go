package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pinrec"
	"pinrec/engage"
)

// DefaultMaxLift is the bound the server puts on how far engagement lifts an item in
// rank=hybrid (engage.WithMaxLift): an item never passes one whose normalised visual
// similarity (1 for the nearest candidate, 0 for the 300th) is more than 0.02 higher, however
// many saves it has, so engagement reorders near-ties only. The web page's likes and saves come
// from anonymous visitors: on the 1,000-pin demo, 5 anonymous saves of one bag put it first,
// over pins that look more like the query, on 8 item pages with a bound of 0.25, 2 with 0.10,
// 1 with 0.05 and none with 0.02. WithEngagement's rank options may set another bound for
// engagement that can be trusted more.
const DefaultMaxLift = 0.02

// engagement plugs an engage.Store into the pages: like and save buttons on the item page
// write through the store, and rank=hybrid ranks with an engage.Ranker over the server's
// store and the engagement store. It is safe for concurrent use.
//
// A visitor is identified by an ID the server signs (visitors), set in a cookie on the first
// like or save: there are no accounts. Writes are POST forms that must come from the page's
// own origin (checked for every request in ServeHTTP), within the visitor and address limits.
type engagement struct {
	store  *engage.Store
	ranker *engage.Ranker
	has    func(string) bool
	ids    *visitors
	// Token buckets of Limits: events per address, new visitors per address, events per visitor.
	perAddress, fresh, perVisitor *limiters
	now                           func() time.Time
}

func newEngagement(ix Store, st *engage.Store, c *config) (*engagement, error) {
	opts := append([]engage.RankOption{engage.WithMaxLift(DefaultMaxLift)}, c.rankOptions...)
	rk, err := engage.NewRanker(ix, st, opts...)
	if err != nil {
		return nil, err
	}
	key := c.visitorKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("web: visitor key: no random source: %w", err)
		}
	}
	if len(key) < minKeyLen {
		return nil, ErrShortKey
	}
	l := c.limits
	if l == (Limits{}) {
		l = DefaultLimits()
	}
	if l.AddressBurst < 1 || l.NewVisitorsBurst < 1 || l.VisitorBurst < 1 || l.Address <= 0 || l.NewVisitors <= 0 || l.Visitor <= 0 {
		return nil, fmt.Errorf("web: limits must be positive: %+v", l)
	}
	return &engagement{store: st, ranker: rk, has: ix.Has, ids: &visitors{key: key},
		perAddress: newLimiters(l.Address, l.AddressBurst), fresh: newLimiters(l.NewVisitors, l.NewVisitorsBurst),
		perVisitor: newLimiters(l.Visitor, l.VisitorBurst), now: time.Now}, nil
}

// register adds POST /api/engage/{action}/{id...}: action like, unlike, save or unsave. A
// form post is answered with a redirect back to the page in its "next" field (an item page of
// this server) or the item page; a request with Accept: application/json gets {"liked",
// "saved", "likes", "saves"}.
func (e *engagement) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/engage/{action}/{id...}", e.handle)
}

func (e *engagement) handle(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	action, err := engage.ParseAction(r.PathValue("action"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	if !e.has(id) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no item %q", id))
		return
	}
	now, addr := e.now(), clientAddress(r)
	user := e.ids.visitor(r)
	if user == "" {
		if !e.fresh.allow(addr, now) {
			tooMany(w, "too many new visitors from your address: try again later")
			return
		}
		var cookie string
		if cookie, user, err = e.ids.issue(); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: cookie, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	if !allowAll(now, limiterKey{e.perAddress, addr}, limiterKey{e.perVisitor, user}) {
		tooMany(w, "too many likes and saves: try again in a minute")
		return
	}
	if _, err := e.store.Record(r.Context(), engage.Event{User: user, Item: id, Action: action}); err != nil {
		writeError(w, http.StatusInternalServerError, "recording failed")
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		v, err := e.state(r.Context(), user, id)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "reading failed")
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	next := r.PostFormValue("next")
	if !safeNext(next) {
		next = "/item/" + pathEscapeID(id)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// tooMany answers 429 with a Retry-After.
func tooMany(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "60")
	writeError(w, http.StatusTooManyRequests, msg)
}

// safeNext reports whether next is a page of this server to go back to: a relative path to an
// item page, nothing that a browser would take to another site (//host, /\host, a scheme).
func safeNext(next string) bool {
	if !strings.HasPrefix(next, "/item/") || strings.ContainsAny(next, "\\\r\n\t") || len(next) > 2048 {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/item/")
}

// pathEscapeID escapes each segment of a slash-separated ID.
func pathEscapeID(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// engageView is a visitor's like and save state of an item and its counts: the JSON answer
// of POST /api/engage/... and what the item page's buttons show.
type engageView struct {
	Path  string `json:"-"` // the item's ID escaped for the buttons' form actions
	Next  string `json:"-"` // the page to come back to after a form post
	Liked bool   `json:"liked"`
	Saved bool   `json:"saved"`
	Likes int    `json:"likes"`
	Saves int    `json:"saves"`
}

func (e *engagement) state(ctx context.Context, user, id string) (engageView, error) {
	v := engageView{Path: pathEscapeID(id)}
	var err error
	if user != "" {
		if v.Liked, v.Saved, err = e.store.UserState(ctx, user, id); err != nil {
			return v, err
		}
	}
	counts, err := e.store.ItemCounts(ctx, id)
	v.Likes, v.Saves = counts[id].Likes, counts[id].Saves
	return v, err
}

// view is the item page's buttons for the request's visitor, nil when the state cannot be
// read (the page then shows none).
func (e *engagement) view(r *http.Request, id string) *engageView {
	v, err := e.state(r.Context(), e.ids.visitor(r), id)
	if err != nil {
		return nil
	}
	v.Next = r.URL.RequestURI()
	return &v
}

// weights are the ranker's blend weights.
func (e *engagement) weights() engage.Weights { return e.ranker.Weights() }

// similar is the hybrid ranking of package engage, with the page's filters.
func (e *engagement) similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]engage.Result, error) {
	return e.ranker.Similar(ctx, id, k, engage.WithSearch(opts...))
}
