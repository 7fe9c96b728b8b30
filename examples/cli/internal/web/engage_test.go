package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// fakeEngagement is an Engagement that records likes and ranks by reversing the visual order:
// what the pages must do with one, whatever its ranking.
type fakeEngagement struct {
	store *pinrec.Index
	mu    sync.Mutex
	likes map[string]int
}

func (e *fakeEngagement) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/engage/like/{id...}", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.likes[r.PathValue("id")]++
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

var controls = template.Must(template.New("c").Parse(`<button class="like" data-id="{{.}}">Like</button>`))

func (e *fakeEngagement) Controls(r *http.Request, id string) template.HTML {
	var b strings.Builder
	controls.Execute(&b, id)
	return template.HTML(b.String())
}

func (e *fakeEngagement) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	res, err := e.store.Similar(ctx, id, k, opts...)
	slices.Reverse(res)
	return res, err
}

func TestEngagementSlot(t *testing.T) {
	f := newFixture(t)
	e := &fakeEngagement{store: f.ix, likes: map[string]int{}}
	s, _ := f.server(t, WithEngagement(e))
	id := "red/1.png"
	// Its routes are the server's, behind the same headers and log.
	rec := do(s, "POST", "/api/engage/like/"+url.PathEscape(id), nil, "")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, 1, e.likes[id])
	// The item page shows its controls and the visual/hybrid toggle.
	page := do(s, "GET", "/item/"+url.PathEscape(idScript), nil, "").Body.String()
	assert.Contains(t, page, `<div class="engagement"><button class="like" data-id="&lt;script&gt;x&lt;/script&gt;">Like</button></div>`)
	assert.Contains(t, page, `<a class="on" href="/item/%3Cscript%3Ex%3C%2Fscript%3E">visual</a>`)
	assert.Contains(t, page, `<a class="" href="/item/%3Cscript%3Ex%3C%2Fscript%3E?rank=hybrid">hybrid</a>`)
	// rank=hybrid ranks with it, filters included; visual does not.
	visual := decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4&cat=green", nil, "").Body.Bytes())
	hybrid := decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4&cat=green&rank=hybrid", nil, "").Body.Bytes())
	want := f.oracle(f.vector(t, id), 4, id, hasCategory("green"))
	require.Equal(t, want, ids(visual))
	slices.Reverse(want)
	assert.Equal(t, want, ids(hybrid))
	// Without an Engagement, no toggle.
	plain, _ := f.server(t)
	assert.NotContains(t, do(plain, "GET", "/item/"+url.PathEscape(id), nil, "").Body.String(), "rank=hybrid")
}
