package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"pinrec"
	"pinrec/engage"
)

// webEngagement plugs the engagement store into pinrec serve (web.Engagement): like and save
// buttons on the item page write through the store, and rank=hybrid uses its Ranker.
//
// A visitor is identified by a random ID in the pinrec_user cookie, set on the first like
// or save: there are no accounts. Writes are POST forms that must come from the page's own
// origin (an Origin header naming another host gets 403).
type webEngagement struct {
	store  *engage.Store
	ranker *engage.Ranker
	has    func(string) bool
}

const userCookie = "pinrec_user"

// newWebEngagement opens (creating it if need be) the engagement database at path for the
// items of ix.
func newWebEngagement(path string, ix pinrec.Store) (*webEngagement, error) {
	st, err := engage.Open(path, engage.WithKnownItems(ix.Has))
	if err != nil {
		return nil, err
	}
	rk, err := engage.NewRanker(ix, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &webEngagement{store: st, ranker: rk, has: ix.Has}, nil
}

func (e *webEngagement) Close() error { return e.store.Close() }

// Register adds POST /api/engage/{action}/{id...}: action like, unlike, save or unsave. A
// form post is answered with a redirect back to the item page; a request with
// Accept: application/json gets {"liked", "saved", "likes", "saves"}.
func (e *webEngagement) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/engage/{action}/{id...}", e.handle)
}

func (e *webEngagement) handle(w http.ResponseWriter, r *http.Request) {
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
		liked, saved, counts, err := e.state(r.Context(), user, id)
		if err != nil {
			http.Error(w, "reading failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"liked":%t,"saved":%t,"likes":%d,"saves":%d}`+"\n", liked, saved, counts.Likes, counts.Saves)
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

func (e *webEngagement) state(ctx context.Context, user, id string) (liked, saved bool, c engage.Counts, err error) {
	if user != "" {
		if liked, saved, err = e.store.UserState(ctx, user, id); err != nil {
			return
		}
	}
	counts, err := e.store.ItemCounts(ctx, id)
	return liked, saved, counts[id], err
}

var controlsTmpl = template.Must(template.New("controls").Parse(
	`<form method="post" action="/api/engage/{{if .Liked}}unlike{{else}}like{{end}}/{{.Path}}" class="engage-form">` +
		`<button type="submit" class="engage{{if .Liked}} on{{end}}" id="like">{{if .Liked}}Liked{{else}}Like{{end}} · {{.Likes}}</button></form>` +
		`<form method="post" action="/api/engage/{{if .Saved}}unsave{{else}}save{{end}}/{{.Path}}" class="engage-form">` +
		`<button type="submit" class="engage{{if .Saved}} on{{end}}" id="save">{{if .Saved}}Saved{{else}}Save{{end}} · {{.Saves}}</button></form>`))

// Controls renders the like and save buttons of item id for the request's visitor.
func (e *webEngagement) Controls(r *http.Request, id string) template.HTML {
	liked, saved, c, err := e.state(r.Context(), visitor(r), id)
	if err != nil {
		return ""
	}
	var b strings.Builder
	if err := controlsTmpl.Execute(&b, struct {
		Path         string
		Liked, Saved bool
		Likes, Saves int
	}{pathEscapeID(id), liked, saved, c.Likes, c.Saves}); err != nil {
		return ""
	}
	return template.HTML(b.String())
}

// Similar is the hybrid ranking of package engage, with the page's filters.
func (e *webEngagement) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	res, err := e.ranker.Similar(ctx, id, k, engage.WithSearch(opts...))
	if err != nil {
		return nil, err
	}
	out := make([]pinrec.Result, len(res))
	for i, r := range res {
		out[i] = r.Result
	}
	return out, nil
}
