package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"pinrec"
	"pinrec/engage"
)

// engagement plugs an engage.Store into the pages: like and save buttons on the item page
// write through the store, and rank=hybrid ranks with an engage.Ranker over the server's
// store and the engagement store. It is safe for concurrent use (the store and ranker are).
//
// A visitor is identified by a random ID in the pinrec_user cookie, set on the first like
// or save: there are no accounts. Writes are POST forms that must come from the page's own
// origin (an Origin header naming another host gets 403).
type engagement struct {
	store  *engage.Store
	ranker *engage.Ranker
	has    func(string) bool
}

const userCookie = "pinrec_user"

func newEngagement(ix Store, st *engage.Store, opts []engage.RankOption) (*engagement, error) {
	rk, err := engage.NewRanker(ix, st, opts...)
	if err != nil {
		return nil, err
	}
	return &engagement{store: st, ranker: rk, has: ix.Has}, nil
}

// register adds POST /api/engage/{action}/{id...}: action like, unlike, save or unsave. A
// form post is answered with a redirect back to the item page; a request with
// Accept: application/json gets {"liked", "saved", "likes", "saves"}.
func (e *engagement) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/engage/{action}/{id...}", e.handle)
}

func (e *engagement) handle(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
	}
	action, err := engage.ParseAction(r.PathValue("action"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if !e.has(id) {
		http.Error(w, fmt.Sprintf("no item %q", id), http.StatusNotFound)
		return
	}
	user := visitor(r)
	if user == "" {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			http.Error(w, "no random source", http.StatusInternalServerError)
			return
		}
		user = "web-" + hex.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: userCookie, Value: user, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	if _, err := e.store.Record(r.Context(), engage.Event{User: user, Item: id, Action: action}); err != nil {
		http.Error(w, "recording failed", http.StatusInternalServerError)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		v, err := e.state(r.Context(), user, id)
		if err != nil {
			http.Error(w, "reading failed", http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	http.Redirect(w, r, "/item/"+pathEscapeID(id), http.StatusSeeOther)
}

// visitor returns the user ID of the request's cookie, or "".
func visitor(r *http.Request) string {
	c, err := r.Cookie(userCookie)
	if err != nil || len(c.Value) > 64 {
		return ""
	}
	return c.Value
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
	v, err := e.state(r.Context(), visitor(r), id)
	if err != nil {
		return nil
	}
	return &v
}

// weights are the ranker's blend weights.
func (e *engagement) weights() engage.Weights { return e.ranker.Weights() }

// similar is the hybrid ranking of package engage, with the page's filters.
func (e *engagement) similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]engage.Result, error) {
	return e.ranker.Similar(ctx, id, k, engage.WithSearch(opts...))
}
