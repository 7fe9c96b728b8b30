package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec/engage"
)

// post sends a like/save form post from addr with an optional cookie value and returns the
// answer.
func post(h http.Handler, path, addr, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, nil)
	req.Host = "127.0.0.1:8080"
	req.RemoteAddr = addr
	req.Header.Set("Accept", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: visitorCookie, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// cookieOf is the visitor cookie an answer sets, or "".
func cookieOf(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == visitorCookie {
			return c.Value
		}
	}
	return ""
}

// 2,000 anonymous saves of far from one address do not make it the first hybrid result of
// any item page: the address gets a few visitor IDs, and the lift of what they record is
// bounded (far is the farthest item of every page but its own).
func TestStuffing(t *testing.T) {
	ix := engageIndex(t)
	st := openEngage(t, ix)
	h, err := New(ix, WithEngagement(st), WithLogger(nil))
	require.NoError(t, err)
	accepted := 0
	for range 2000 {
		if post(h, "/api/engage/save/far", "192.0.2.7:4000", "").Code == http.StatusOK {
			accepted++
		}
	}
	t.Logf("%d of 2000 saves accepted", accepted)
	assert.LessOrEqual(t, accepted, DefaultLimits().NewVisitorsBurst+1)
	for _, id := range []string{"q", "a", "b", "c", "d"} {
		rec := do(h, "GET", "/api/similar/"+id+"?k=3&rank=hybrid", nil, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var a HybridAnswer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
		require.NotEmpty(t, a.Results)
		assert.NotEqual(t, "far", a.Results[0].ID, "page %s", id)
	}
}

// A cookie that is not the server's own is no identity: "alice", a user the command wrote
// for, cannot be undone from the web, and the request gets a fresh signed ID instead.
func TestForeignCookie(t *testing.T) {
	ix := engageIndex(t)
	st := openEngage(t, ix)
	ctx := context.Background()
	_, err := st.Record(ctx, engage.Event{User: "alice", Item: "a", Action: engage.Save})
	require.NoError(t, err)
	h, err := New(ix, WithEngagement(st), WithLogger(nil))
	require.NoError(t, err)
	for _, c := range []string{"alice", "web:alice", VisitorPrefix + strings.Repeat("0", 32), "x.y", strings.Repeat("A", 22) + "." + strings.Repeat("A", 22)} {
		rec := post(h, "/api/engage/unsave/a", "192.0.2.8:4000", c)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		fresh := cookieOf(rec)
		assert.NotEmpty(t, fresh, "cookie %q: a fresh ID is issued", c)
		assert.NotEqual(t, c, fresh)
	}
	_, saved, err := st.UserState(ctx, "alice", "a")
	require.NoError(t, err)
	assert.True(t, saved, "alice's save stays")
	counts, err := st.ItemCounts(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 1, counts["a"].Saves)
}

// Visitor IDs: the server's form round-trips, another key's or a tampered one does not, and
// every ID is in the web namespace.
func TestVisitorIDs(t *testing.T) {
	v := &visitors{key: testKey}
	other := &visitors{key: []byte("another key, 16 bytes or more")}
	seen := map[string]bool{}
	for range 50 {
		c, user, err := v.issue()
		require.NoError(t, err)
		assert.Equal(t, user, v.user(c))
		assert.True(t, strings.HasPrefix(user, VisitorPrefix))
		assert.Len(t, user, len(VisitorPrefix)+32)
		assert.Empty(t, other.user(c), "signed with another key")
		tampered := []byte(c)
		tampered[3] ^= 1
		assert.Empty(t, v.user(string(tampered)))
		assert.False(t, seen[user])
		seen[user] = true
	}
	_, err := New(engageIndex(t), WithEngagement(openEngage(t, engageIndex(t))), WithVisitorKey([]byte("short")))
	assert.ErrorIs(t, err, ErrShortKey)
}

// The limits, at a fixed time (no refill): new visitors per address, events per visitor,
// events per address; another address has its own buckets; time refills them.
func TestLimits(t *testing.T) {
	ix := engageIndex(t)
	st := openEngage(t, ix)
	s, err := New(ix, WithEngagement(st), WithLogger(nil),
		WithLimits(Limits{Address: 1, AddressBurst: 10, NewVisitors: 1, NewVisitorsBurst: 3, Visitor: 1, VisitorBurst: 4}))
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.engage.now = func() time.Time { return now }
	const a, b = "192.0.2.1:1", "198.51.100.1:1"
	count := func(n int, addr, cookie string) (ok int, cookies []string) {
		for i := range n {
			action := []string{"like", "unlike"}[i%2]
			rec := post(s, "/api/engage/"+action+"/q", addr, cookie)
			switch rec.Code {
			case http.StatusOK:
				ok++
				cookies = append(cookies, cookieOf(rec))
			case http.StatusTooManyRequests:
				assert.Equal(t, "60", rec.Header().Get("Retry-After"))
			default:
				t.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		}
		return ok, cookies
	}
	ok, fresh := count(10, a, "") // new visitors: 3 (address tokens left: 7)
	require.Equal(t, 3, ok)
	ok, _ = count(10, a, fresh[0]) // visitor 1: 3 more of its 4 (address: 4 left)
	assert.Equal(t, 3, ok)
	ok, _ = count(10, a, fresh[1]) // visitor 2: 3 more (address: 1 left)
	assert.Equal(t, 3, ok)
	ok, _ = count(10, a, fresh[2]) // visitor 3: the address's last one
	assert.Equal(t, 1, ok)
	ok, _ = count(10, b, "") // another address
	assert.Equal(t, 3, ok)
	now = now.Add(2 * time.Second) // two tokens back everywhere
	ok, _ = count(10, a, fresh[0])
	assert.Equal(t, 2, ok)
}

// Like and save keep the page's state: the redirect goes back to the item page with its k,
// crop, rank and categories, and only to a page of this server.
func TestRedirectKeepsState(t *testing.T) {
	ix := engageIndex(t)
	st := openEngage(t, ix)
	h, err := New(ix, WithEngagement(st), WithLogger(nil))
	require.NoError(t, err)
	page := do(h, "GET", "/item/q?k=50&rank=hybrid&cat=x", nil, "").Body.String()
	assert.Contains(t, page, `name="next" value="/item/q?k=50&amp;rank=hybrid&amp;cat=x"`)
	for _, tc := range []struct{ next, want string }{
		{"/item/q?k=50&rank=hybrid&cat=x", "/item/q?k=50&rank=hybrid&cat=x"},
		{"/item/a%2Fb?crop=1,2,3,4", "/item/a%2Fb?crop=1,2,3,4"},
		{"", "/item/q"},
		{"//evil.example/item/", "/item/q"},
		{"https://evil.example/item/q", "/item/q"},
		{"/item/\\evil", "/item/q"},
		{"/\\evil.example", "/item/q"},
		{"/api/items", "/item/q"},
		{"javascript:alert(1)", "/item/q"},
	} {
		req := httptest.NewRequest("POST", "/api/engage/like/q", strings.NewReader(url.Values{"next": {tc.next}}.Encode()))
		req.Host = "127.0.0.1:8080"
		req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", 20+len(tc.next)%200)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		assert.Equal(t, tc.want, rec.Header().Get("Location"), "next %q", tc.next)
	}
}
