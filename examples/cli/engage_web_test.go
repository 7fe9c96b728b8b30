package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
	"pinrec/examples/cli/internal/web"
)

// TestWebEngagement runs pinrec serve's handler with the engagement store plugged in: like
// and save buttons write through the store, and rank=hybrid answers with its Ranker.
func TestWebEngagement(t *testing.T) {
	index := engageIndex(t)
	ix, err := pinrec.Load(index)
	require.NoError(t, err)
	eng, err := newWebEngagement(engage.PathFor(index), ix)
	require.NoError(t, err)
	defer eng.Close()
	h, err := web.New(ix, web.WithEngagement(eng))
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
			if c.Name == userCookie {
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
	liked, saved, err := eng.store.UserState(context.Background(), cookie.Value, "q")
	require.NoError(t, err)
	assert.True(t, liked && saved)
	tot, err := eng.store.Totals(context.Background())
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
