package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signalReader is a body that reports its first Read.
type signalReader struct {
	r    io.Reader
	read chan struct{}
	once bool
}

func (s *signalReader) Read(p []byte) (int, error) {
	if !s.once {
		s.once = true
		close(s.read)
	}
	return s.r.Read(p)
}

// An upload waits for a query slot before it reads its body: with every slot taken, the body
// is not read (so waiting uploads hold no memory), and a request that gives up gets 503.
func TestUploadSlotBeforeBody(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithConcurrentQueries(1))
	s.queries <- struct{}{} // every slot taken
	for _, target := range []string{"/api/query", "/search"} {
		body, ctype := multipartBody(t, "q.png", f.query)
		sr := &signalReader{r: body, read: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, "POST", target, sr)
		req.Host = "127.0.0.1:8080"
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); s.ServeHTTP(rec, req) }()
		select {
		case <-sr.read:
			t.Errorf("%s: the body was read before a slot was free", target)
		case <-time.After(300 * time.Millisecond):
		}
		cancel()
		<-done
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, target)
	}
	<-s.queries
	body, ctype := multipartBody(t, "q.png", f.query)
	assert.Equal(t, http.StatusOK, do(s, "POST", "/api/query", body, ctype).Code, "a free slot again")
}

// The uploaded file goes to a temporary file, which is removed after the answer.
func TestUploadTempFiles(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s, _ := f.server(t, WithTempDir(dir))
	for _, data := range [][]byte{f.query, []byte("not an image")} {
		body, ctype := multipartBody(t, "q.png", data)
		do(s, "POST", "/api/query", body, ctype)
		left, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, left)
	}
}

// An upload's results have a URL: POST /search redirects to /search/{id}, which shows the
// same results again (refresh, back, share), keeps k and the categories, and is forgotten
// past the server's bound on saved searches.
func TestUploadURL(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithSavedSearches(2, time.Hour))
	upload := func(name string) string {
		body, ctype := multipartBody(t, name, f.query, "k", "6", "cat", "blue")
		rec := do(s, "POST", "/search", body, ctype)
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		loc := rec.Header().Get("Location")
		require.True(t, strings.HasPrefix(loc, "/search/"), loc)
		return loc
	}
	loc := upload("my <query>.png")
	u, err := url.Parse(loc)
	require.NoError(t, err)
	assert.Equal(t, "6", u.Query().Get("k"))
	assert.Equal(t, "blue", u.Query().Get("cat"))
	for range 2 { // refresh
		rec := do(s, "GET", loc, nil, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		page := rec.Body.String()
		assert.Contains(t, page, "my &lt;query&gt;.png")
		want := f.oracle(pixels(t, f.query), 6, "", hasCategory("blue"))
		for _, id := range want {
			assert.Contains(t, page, `href="/item/`+url.PathEscape(id)+`"`)
		}
		assert.Equal(t, len(want), strings.Count(page, `class="pin"`))
	}
	// Other k and categories on the same saved query.
	rec := do(s, "GET", u.Path+"?k=3", nil, "")
	require.Equal(t, http.StatusOK, rec.Code)
	for _, id := range f.oracle(pixels(t, f.query), 3, "", nil) {
		assert.Contains(t, rec.Body.String(), `href="/item/`+htmlEscape(url.PathEscape(id))+`"`)
	}
	// The JSON API names its saved search too.
	body, ctype := multipartBody(t, "q.png", f.query)
	a := decodeAnswer(t, do(s, "POST", "/api/query", body, ctype).Body.Bytes())
	assert.True(t, strings.HasPrefix(a.Search, "/search/"), a.Search)
	// Two saved at most: the first is gone after two more.
	upload("b.png")
	rec = do(s, "GET", loc, nil, "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, rec.Body.String(), `<section class="error">`)
	assert.Equal(t, http.StatusNotFound, do(s, "GET", "/search/nope", nil, "").Code)
}

// readAllString reads a response body.
func readAllString(t *testing.T, r io.Reader) string {
	var b bytes.Buffer
	_, err := io.Copy(&b, r)
	require.NoError(t, err)
	return b.String()
}
