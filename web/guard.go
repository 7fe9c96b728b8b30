package web

import (
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// The server's guards against strangers: Host allow-list, Origin check, security headers.

// securityHeaders are set on every answer. The CSP allows only this server's own scripts,
// styles and images (data: and blob: for the upload preview), nothing inline.
var securityHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "same-origin"},
	{"Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
}

// hostAllowed reports whether the Host header names this server: a loopback name or address,
// or one of the allowed hosts (compared without port, case-insensitively).
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range s.cfg.hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// originAllowed reports whether a request's Origin header, when it has one, is this server:
// the same host and port as the (already allowed) Host header. Browsers send Origin on
// cross-site requests and on every POST; "null" (a sandboxed frame, a file) is refused.
func originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// staticHandler serves the embedded static files, never a folder listing, with cache headers.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded folder is there: a build without it is a programmer error
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")
		st, err := fs.Stat(sub, name)
		if err != nil || st.IsDir() || name == "" || strings.HasPrefix(name, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}

// handleFavicon serves the icon at the path browsers ask for by default.
func handleFavicon(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

// handleNotFound answers routes the server does not have: JSON under /api/, the page's error
// page elsewhere.
func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	err := fail(http.StatusNotFound, "there is no page at %s", r.URL.Path)
	// A route of another method: 405, as the mux would answer without this catch-all.
	for _, m := range []string{"GET", "POST"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pat := s.mux.Handler(r2); pat != "/" && pat != "" {
			w.Header().Set("Allow", m)
			err = fail(http.StatusMethodNotAllowed, "%s %s: use %s", r.Method, r.URL.Path, m)
			break
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		apiError(w, err)
		return
	}
	s.pageError(w, err)
}
