package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// The page's small promises: the title is not doubled, an "All" chip leads back from any
// category, the home grid mixes categories.
func TestPageDetails(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	home := do(s, "GET", "/", nil, "").Body.String()
	assert.Contains(t, home, "<title>pinrec</title>")
	assert.Contains(t, home, `<a class="chip on" href="/" data-cat="All">All`)
	assert.Contains(t, home, `rel="icon"`)
	blue := do(s, "GET", "/?cat=blue", nil, "").Body.String()
	assert.Contains(t, blue, `<a class="chip" href="/" data-cat="All">All`, "a way back from a category")
	item := do(s, "GET", "/item/"+url.PathEscape("red/1.png")+"?cat=green&k=50", nil, "").Body.String()
	assert.Contains(t, item, `<title>red/1.png · pinrec</title>`)
	assert.Contains(t, item, `href="/item/red%2F1.png?k=50" data-cat="All"`)
	// The first page of the home grid holds every category.
	first := mixedOrder(f.ix)[:6]
	cats := map[string]bool{}
	for _, id := range first {
		cats[strings.SplitN(id, "/", 2)[0]] = true
	}
	assert.GreaterOrEqual(t, len(cats), 5, "%v", first)
}

// rank=hybrid does not apply to crops: the API says so, the page ranks visually and its
// toggle says why; an upload refuses it.
func TestHybridWithCrop(t *testing.T) {
	f := newFixture(t)
	st := openEngage(t, f.ix)
	s, _ := f.server(t, WithEngagement(st))
	id := url.PathEscape("green/2.png")
	rec := do(s, "GET", "/api/similar/"+id+"?crop=2,2,20,20&rank=hybrid", nil, "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "whole pins")
	page := do(s, "GET", "/item/"+id+"?crop=2,2,20,20&rank=hybrid", nil, "")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), `id="rank-note"`)
	assert.Contains(t, page.Body.String(), "ranked by looks alone")
	assert.Contains(t, page.Body.String(), `<a class="on" href="/item/green%2F2.png?crop=2%2C2%2C20%2C20">visual</a>`)
	body, ctype := multipartBody(t, "q.png", f.query, "rank", "hybrid")
	assert.Equal(t, http.StatusBadRequest, do(s, "POST", "/api/query", body, ctype).Code)
}

// "No close matches": the distance is calibrated as documented (twice the 95th percentile of
// the pins' nearest-neighbour distances, recomputed here by brute force over all 21 pins), and
// an answer whose best match lies past it is flagged.
func TestFarHint(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	var nn []float64
	for _, id := range f.ix.IDs() {
		nearest := f.oracle(f.vector(t, id), 1, id, nil)[0]
		nn = append(nn, dist(f.vector(t, id), f.vector(t, nearest)))
	}
	sort.Float64s(nn)
	want := 2 * nn[int(math.Ceil(0.95*float64(len(nn))))-1]
	assert.InDelta(t, want, s.farAt, 1e-4)

	query := func(s *Server, data []byte) Answer {
		body, ctype := multipartBody(t, "q.png", data)
		rec := do(s, "POST", "/api/query?k=3", body, ctype)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var a Answer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
		return a
	}
	best := dist(pixels(t, f.query), f.vector(t, f.oracle(pixels(t, f.query), 1, "", nil)[0]))
	for _, tc := range []struct {
		at   float64
		want bool
	}{{best * 0.9, true}, {best * 1.1, false}} {
		s2, _ := f.server(t, WithCloseMatchDistance(tc.at))
		assert.Equal(t, tc.want, query(s2, f.query).Far, "close-match distance %v, best match %v", tc.at, best)
		page := do(s2, "GET", query(s2, f.query).Search, nil, "").Body.String()
		assert.Equal(t, tc.want, strings.Contains(page, `id="far"`))
	}
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// The near-duplicate hook: the server asks for more results, lets the Collapser hide some,
// keeps k, and says how many were hidden: first k+k/4+4 results, then, when fewer than k
// remain, 2k+8.
func TestNearDuplicatesHook(t *testing.T) {
	f := newFixture(t)
	// Hides every result but one in every `every`: an oracle a test can recompute.
	hideAllBut := func(every int) Collapser {
		return func(_ context.Context, res []pinrec.Result) ([]pinrec.Result, int, error) {
			var kept []pinrec.Result
			for i, r := range res {
				if i%every == 0 {
					kept = append(kept, r)
				}
			}
			return kept, len(res) - len(kept), nil
		}
	}
	id := "red/1.png"
	all := f.oracle(f.vector(t, id), 16, id, nil)
	for _, tc := range []struct {
		name   string
		every  int
		want   []string
		hidden int
	}{
		// k=4 asks for 4+1+4 = 9: 5 remain, enough.
		{"first fetch", 2, []string{all[0], all[2], all[4], all[6]}, 4},
		// 3 of the 9 remain: it asks again for 2*4+8 = 16, of which 6 remain.
		{"second fetch", 3, []string{all[0], all[3], all[6], all[9]}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := f.server(t, WithNearDuplicates(hideAllBut(tc.every)))
			a := decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4", nil, "").Body.Bytes())
			assert.Equal(t, tc.want, ids(a))
			assert.Equal(t, tc.hidden, a.Hidden)
		})
	}
	s, _ := f.server(t, WithNearDuplicates(hideAllBut(2)))
	page := do(s, "GET", "/item/"+url.PathEscape(id)+"?k=10", nil, "").Body.String()
	assert.Contains(t, page, "similar hidden")
}
