package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveHost serves one request with the given Host and Origin headers ("" for none).
func serveHost(h http.Handler, method, target, host, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Only the names the server listens on are served (DNS rebinding): loopback names by default,
// others when allowed; an Origin must name an allowed host too.
func TestAllowedHosts(t *testing.T) {
	f := newFixture(t)
	plain, _ := f.server(t)
	named, _ := f.server(t, WithAllowedHosts("pins.example.com"))
	for _, tc := range []struct {
		name   string
		h      http.Handler
		host   string
		origin string
		code   int
	}{
		{"loopback IPv4 with port", plain, "127.0.0.1:8080", "", http.StatusOK},
		{"localhost", plain, "localhost", "", http.StatusOK},
		{"localhost upper case with port", plain, "LocalHost:9", "", http.StatusOK},
		{"loopback IPv6", plain, "[::1]:8080", "", http.StatusOK},
		{"other loopback address", plain, "127.0.0.2", "", http.StatusOK},
		{"rebinding name", plain, "rebind.evil.example", "", http.StatusMisdirectedRequest},
		{"rebinding name with port", plain, "rebind.evil.example:8080", "", http.StatusMisdirectedRequest},
		{"no host", plain, "", "", http.StatusMisdirectedRequest},
		{"name ending like localhost", plain, "evil-localhost", "", http.StatusMisdirectedRequest},
		{"allowed name", named, "pins.example.com", "", http.StatusOK},
		{"allowed name, loopback still", named, "localhost:1", "", http.StatusOK},
		{"other name with an allowed list", named, "other.example.com", "", http.StatusMisdirectedRequest},
		{"allowed origin", plain, "localhost:8080", "http://localhost:8080", http.StatusOK},
		{"origin of another host", plain, "localhost:8080", "http://evil.example", http.StatusForbidden},
		{"origin null", plain, "localhost:8080", "null", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serveHost(tc.h, "GET", "/api/items?limit=500", tc.host, tc.origin)
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
		})
	}
}

// Writes from another origin are refused: the like, save and upload endpoints check the
// Origin against the allowed hosts, not against the Host header (which a rebinding page sets).
func TestOriginOnWrites(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	body, ctype := multipartBody(t, "q.png", f.query)
	req := httptest.NewRequest("POST", "/api/query", body)
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Origin", "http://evil.example")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
}

func TestHeaders(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	rec := do(s, "GET", "/image/"+url.PathEscape("red/1.png"), nil, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "same-origin", rec.Header().Get("Cross-Origin-Resource-Policy"), "no existence probing from other sites")
	csp := do(s, "GET", "/", nil, "").Header().Get("Content-Security-Policy")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Contains(t, csp, "style-src 'self'")
	for _, p := range []string{"/static/style.css", "/static/app.js"} {
		rec := do(s, "GET", p, nil, "")
		require.Equal(t, http.StatusOK, rec.Code, p)
		assert.Contains(t, rec.Header().Get("Cache-Control"), "max-age=", p)
	}
	for _, p := range []string{"/static/", "/static/nope.css", "/static/templates/"} {
		rec := do(s, "GET", p, nil, "")
		assert.Equal(t, http.StatusNotFound, rec.Code, p)
		assert.NotContains(t, rec.Body.String(), "app.js", "%s lists the folder", p)
	}
}

// Unknown routes get the page's HTML error page (JSON under /api/); GET /search, the upload
// form's target, is not a bare 405.
func TestNotFoundPages(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	for _, p := range []string{"/nope", "/item/", "/items/red/1.png", "/favicon.png"} {
		rec := do(s, "GET", p, nil, "")
		assert.Equal(t, http.StatusNotFound, rec.Code, p)
		assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"), p)
		assert.Contains(t, rec.Body.String(), `<section class="error">`, p)
		assert.Contains(t, rec.Body.String(), `Back to the pins`, p)
	}
	rec := do(s, "GET", "/api/nope", nil, "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"))
	rec = do(s, "GET", "/search", nil, "")
	assert.NotEqual(t, http.StatusMethodNotAllowed, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"))
	rec = do(s, "GET", "/favicon.ico", nil, "")
	assert.Equal(t, http.StatusOK, rec.Code, "a favicon")
}
