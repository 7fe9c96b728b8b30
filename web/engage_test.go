package web

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
)

// testKey signs visitor IDs in the tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// engageIndex is a small index without images: q at the origin, a..d at 1..4 along x, far
// at 10 (the engage package's ranking fixture).
func engageIndex(t *testing.T) *pinrec.Index {
	t.Helper()
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	for _, it := range []struct {
		id string
		x  float32
	}{{"q", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"far", 10}} {
		require.NoError(t, ix.Add(pinrec.Item{ID: it.id, Vector: []float32{it.x, 0}}))
	}
	return ix
}

// openEngage opens an engagement store in a temporary folder, closed at the end of the test.
func openEngage(t *testing.T, ix *pinrec.Index) *engage.Store {
	t.Helper()
	st, err := engage.Open(filepath.Join(t.TempDir(), "e.engage.db"), engage.WithKnownItems(ix.Has))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// TestEngagement runs the handler with an engagement store: like and save buttons write
// through the store, and rank=hybrid answers with its Ranker.
func TestEngagement(t *testing.T) {
	ix := engageIndex(t)
	st := openEngage(t, ix)
	// Unbounded, so that the co-save can lift far from the bottom (the default bound would not
	// let it pass a: TestStuffing).
	h, err := New(ix, WithEngagement(st, engage.WithMaxLift(math.Inf(1))), WithLogger(nil), WithVisitorKey(testKey))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var cookie *http.Cookie
	post := func(path string, accept, origin string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+path, nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, c := range resp.Cookies() {
			if c.Name == visitorCookie {
				cookie = c
			}
		}
		return resp, string(b)
	}

	resp, body := post("/api/engage/save/q", "application/json", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NotNil(t, cookie, "the first write sets the visitor cookie")
	assert.JSONEq(t, `{"liked":false,"saved":true,"likes":0,"saves":1}`, body)
	resp, body = post("/api/engage/save/far", "", "") // a form post: back to the item page
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	assert.Equal(t, "/item/far", resp.Header.Get("Location"))
	resp, body = post("/api/engage/like/q", "application/json", srv.URL)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"liked":true,"saved":true,"likes":1,"saves":1}`, body)

	for _, tc := range []struct {
		path, origin string
		code         int
	}{
		{"/api/engage/save/ghost", "", http.StatusNotFound},
		{"/api/engage/pin/q", "", http.StatusBadRequest},
		{"/api/engage/save/a", "http://evil.example", http.StatusForbidden},
	} {
		resp, body := post(tc.path, "", tc.origin)
		assert.Equal(t, tc.code, resp.StatusCode, "%s: %s", tc.path, body)
	}

	// The store holds exactly what was accepted.
	user := (&visitors{key: testKey}).user(cookie.Value)
	require.True(t, strings.HasPrefix(user, VisitorPrefix), "the cookie %q is the server's form", cookie.Value)
	liked, saved, err := st.UserState(context.Background(), user, "q")
	require.NoError(t, err)
	assert.True(t, liked && saved)
	tot, err := st.Totals(context.Background())
	require.NoError(t, err)
	assert.Equal(t, engage.Totals{Events: 3, Users: 1, Savers: 1, Items: 2, Likes: 1, Saves: 2, Pairs: 1}, tot)

	// The item page shows the visitor's state and the visual/hybrid toggle.
	req, _ := http.NewRequest("GET", srv.URL+"/item/q", nil)
	req.AddCookie(cookie)
	page, err := client.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	html := string(b)
	assert.Contains(t, html, "Liked · 1")
	assert.Contains(t, html, "Saved · 1")
	assert.Contains(t, html, `action="/api/engage/unsave/q"`)
	assert.Contains(t, html, "rank=hybrid")

	// rank=hybrid: far (distance 10, outside the visual top 4) comes first through its co-save
	// with q; rank=visual never shows it.
	ids := func(rank string) []string {
		resp, err := http.Get(srv.URL + "/api/similar/q?k=4&rank=" + rank)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var ans struct {
			Results []struct{ ID string } `json:"results"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
		var out []string
		for _, r := range ans.Results {
			out = append(out, r.ID)
		}
		return out
	}
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids("visual"))
	hybrid := ids("hybrid")
	require.NotEmpty(t, hybrid)
	assert.Equal(t, "far", hybrid[0], strings.Join(hybrid, ","))
}

// The item page's engagement buttons and ranking toggle escape the ID, and the JSON of
// rank=hybrid carries the score's components and links.
func TestEngagementPage(t *testing.T) {
	f := newFixture(t)
	st := openEngage(t, f.ix)
	s, _ := f.server(t, WithEngagement(st))
	page := do(s, "GET", "/item/"+url.PathEscape(idScript), nil, "").Body.String()
	assert.Contains(t, page, `action="/api/engage/like/%3Cscript%3Ex%3C/script%3E"`)
	assert.Contains(t, page, `<a class="on" href="/item/%3Cscript%3Ex%3C%2Fscript%3E">visual</a>`)
	assert.Contains(t, page, `<a class="" href="/item/%3Cscript%3Ex%3C%2Fscript%3E?rank=hybrid">hybrid</a>`)
	id := "red/1.png"
	visual := decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4&cat=green", nil, "").Body.Bytes())
	rec := do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4&cat=green&rank=hybrid", nil, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var hybrid HybridAnswer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &hybrid))
	assert.Equal(t, f.oracle(f.vector(t, id), 4, id, hasCategory("green")), ids(visual))
	require.Len(t, hybrid.Results, 4)
	assert.Equal(t, "hybrid", hybrid.Rank)
	assert.Equal(t, engage.DefaultWeights(), hybrid.Weights)
	for i, r := range hybrid.Results {
		// Without engagement, hybrid is the visual order, filters included.
		assert.Equal(t, visual.Results[i].ID, r.ID)
		assert.Equal(t, ItemURL(r.ID), r.URL)
		assert.Equal(t, i+1, r.Rank)
	}
	assert.InDelta(t, 1, hybrid.Results[0].Visual, 1e-9)
	// Without engagement, no toggle.
	plain, _ := f.server(t)
	assert.NotContains(t, do(plain, "GET", "/item/"+url.PathEscape(id), nil, "").Body.String(), "rank=hybrid")
}
