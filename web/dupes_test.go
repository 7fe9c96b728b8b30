package web

import (
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec/dupes"
)

// pageGroups reads the groups of a /dupes page: per section, the pins' IDs in order.
func pageGroups(body string) [][]string {
	var out [][]string
	for _, sec := range strings.Split(body, `<section class="dupe-group">`)[1:] {
		sec = sec[:strings.Index(sec, "</section>")]
		var ids []string
		for _, m := range regexp.MustCompile(`<a class="pin" href="[^"]*" title="([^"]*)"`).FindAllStringSubmatch(sec, -1) {
			ids = append(ids, html.UnescapeString(m[1]))
		}
		out = append(out, ids)
	}
	return out
}

// bruteComponents groups the fixture's items by brute force: pairs within t, connected
// components of at least two, each sorted.
func (f *fixture) bruteComponents(t *testing.T, th float64) [][]string {
	ids := f.ix.IDs()
	parent := make([]int, len(ids))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			x = parent[x]
		}
		return x
	}
	for a := range ids {
		for b := a + 1; b < len(ids); b++ {
			va, vb := f.vector(t, ids[a]), f.vector(t, ids[b])
			s := 0.0
			for i := range va {
				d := float64(va[i]) - float64(vb[i])
				s += d * d
			}
			if float32(math.Sqrt(s)) <= float32(th) {
				parent[find(b)] = find(a)
			}
		}
	}
	by := map[int][]string{}
	for i, id := range ids {
		by[find(i)] = append(by[find(i)], id)
	}
	var out [][]string
	for _, g := range by {
		if len(g) > 1 {
			sort.Strings(g)
			out = append(out, g)
		}
	}
	return out
}

// nnQuantiles are quantiles of the fixture's nearest-neighbour distances, as thresholds that
// make some groups (formatted as the page's query parameter).
func (f *fixture) nnQuantiles(t *testing.T, qs ...float64) []string {
	ids := f.ix.IDs()
	var nn []float64
	for _, a := range ids {
		best := math.Inf(1)
		for _, b := range ids {
			if a == b {
				continue
			}
			va, vb := f.vector(t, a), f.vector(t, b)
			s := 0.0
			for i := range va {
				d := float64(va[i]) - float64(vb[i])
				s += d * d
			}
			best = min(best, math.Sqrt(s))
		}
		nn = append(nn, best)
	}
	sort.Float64s(nn)
	var out []string
	for _, q := range qs {
		out = append(out, strconv.FormatFloat(nn[int(q*float64(len(nn)-1))]+1e-3, 'f', 3, 64))
	}
	return out
}

func sortedGroups(gs [][]string) []string {
	var out []string
	for _, g := range gs {
		g = append([]string(nil), g...)
		sort.Strings(g)
		out = append(out, strings.Join(g, "|"))
	}
	sort.Strings(out)
	return out
}

func TestDupesPage(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)

	// Threshold 0: the exact copy and its source, as exact duplicates (same vector).
	rec := do(s, "GET", "/dupes?threshold=0", nil, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := rec.Body.String()
	assert.Contains(t, body, "0 near-duplicate groups, 1 exact")
	assert.Equal(t, [][]string{{dupSource, idDup}}, pageGroups(body))
	assert.Contains(t, body, idDup+": same vector as "+dupSource)

	// Given thresholds: the page's groups (near groups, and exact groups outside them) are
	// the brute-force components, largest first.
	for _, th := range f.nnQuantiles(t, 0.25, 0.5, 0.9) {
		rec := do(s, "GET", "/dupes?threshold="+th, nil, "")
		require.Equal(t, http.StatusOK, rec.Code)
		got := pageGroups(rec.Body.String())
		var near [][]string
		inNear := map[string]bool{}
		for _, g := range got {
			if len(g) == 2 && g[0] == dupSource && g[1] == idDup && inNear[dupSource] {
				continue // the exact group again, already inside a near group
			}
			near = append(near, g)
			for _, id := range g {
				inNear[id] = true
			}
		}
		f64, err := strconv.ParseFloat(th, 32)
		require.NoError(t, err)
		want := f.bruteComponents(t, f64)
		assert.Equal(t, sortedGroups(want), sortedGroups(near), "threshold %s", th)
		for i := 1; i < len(got); i++ {
			if !strings.Contains(rec.Body.String(), "Exact duplicates "+strings.TrimSpace(string(rune('0'+i)))) {
				assert.GreaterOrEqual(t, len(got[i-1]), len(got[i]), "largest first")
			}
		}
	}

	// Calibrated: the page says how.
	rec = do(s, "GET", "/dupes", nil, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Regexp(t, `Threshold [0-9.e+-]+, calibrated \((too-few|tail|gap)\): `, rec.Body.String())

	// Bad input: a clear 400 page.
	for _, bad := range []string{"-1", "x", "NaN", "1e40"} {
		rec := do(s, "GET", "/dupes?threshold="+bad, nil, "")
		assert.Equal(t, http.StatusBadRequest, rec.Code, bad)
		assert.Contains(t, rec.Body.String(), "want auto or a distance of 0 or more")
	}
	rec = do(s, "GET", "/dupes?threshold=0&page=9", nil, "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestBrowserDupes(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	srv := httptest.NewServer(s) // 127.0.0.1, a free port
	defer srv.Close()
	ctx := browser(t)

	// From the home page's header link to the duplicates page.
	step(t, ctx, "open /", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#grid a.pin`)))
	step(t, ctx, "click Duplicates", loads(chromedp.Click(chromedp.CSS(`header a.nav[href="/dupes"]`), chromedp.NodeVisible)))
	assert.Equal(t, srv.URL+"/dupes", get(t, ctx, "location", chromedp.Location()))

	// Group at a distance through the form: the groups, largest first, the exact pair shown.
	th := f.nnQuantiles(t, 0.6)[0]
	step(t, ctx, "set threshold",
		chromedp.SetValue(chromedp.CSS(`#threshold`), th),
		loads(chromedp.Submit(chromedp.CSS(`form.threshold`))),
		chromedp.WaitVisible(chromedp.CSS(`section.dupe-group a.pin`)),
	)
	sizes := get(t, ctx, "group sizes", chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('section.dupe-group')).map(s => s.querySelectorAll('a.pin').length)`))
	f64, err := strconv.ParseFloat(th, 32)
	require.NoError(t, err)
	want := f.bruteComponents(t, f64)
	require.NotEmpty(t, want)
	total := 0
	for _, g := range want {
		total += len(g)
	}
	got := 0
	for i, n := range sizes {
		got += n
		if i > 0 && i < len(want) {
			assert.GreaterOrEqual(t, sizes[i-1], n, "largest first")
		}
	}
	assert.GreaterOrEqual(t, got, total, "every grouped pin is shown")
	screenshot(t, ctx, "dupes.png")

	// A pin of a group leads to its page.
	step(t, ctx, "click a grouped pin",
		loads(chromedp.Click(chromedp.CSS(`section.dupe-group a.pin`), chromedp.NodeVisible)),
		chromedp.WaitVisible(chromedp.CSS(`h1.id`)),
	)
	assert.Contains(t, get(t, ctx, "location", chromedp.Location()), "/item/")
}

// With dupes.Collapser as the WithNearDuplicates hook, result lists hide near-duplicates of
// higher-ranked results, say how many, and show them on request (dupes=show).
func TestNearDuplicatesHidden(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithNearDuplicates(dupes.Collapser(f.ix, 0)))
	// red/1.png's neighbours include red/0.png and its exact copy red/dup.png: one is hidden.
	all := f.oracle(f.vector(t, "red/1.png"), 20, "red/1.png", nil)
	require.Contains(t, all, dupSource)
	require.Contains(t, all, idDup)

	rec := do(s, "GET", "/api/similar/red%2F1.png?k=20", nil, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	a := decodeAnswer(t, rec.Body.Bytes())
	assert.Equal(t, 1, a.Hidden)
	got := ids(a)
	assert.Len(t, got, len(all)-1, "every other item but the hidden one")
	assert.NotContains(t, got, idDup, "the later of the two copies is hidden")
	assert.Contains(t, got, dupSource)

	rec = do(s, "GET", "/item/red%2F1.png?k=20", nil, "")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, `1 similar hidden · <a id="show-dupes" href="/item/red%2F1.png?dupes=show">show them</a>`)

	// dupes=show: every result, and the way back.
	rec = do(s, "GET", "/api/similar/red%2F1.png?k=20&dupes=show", nil, "")
	require.Equal(t, http.StatusOK, rec.Code)
	a = decodeAnswer(t, rec.Body.Bytes())
	assert.Equal(t, 0, a.Hidden)
	assert.Equal(t, all, ids(a))
	rec = do(s, "GET", "/item/red%2F1.png?dupes=show", nil, "")
	assert.Contains(t, rec.Body.String(), `Near-duplicates shown · <a id="show-dupes" href="/item/red%2F1.png">hide them</a>`)
	rec = do(s, "GET", "/item/red%2F1.png?dupes=maybe", nil, "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}
