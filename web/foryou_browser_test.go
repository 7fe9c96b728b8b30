package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserForYou: a visitor without history sees the cold start, said so; after saving a few
// pins from their pages, /foryou shows their interests and pins each labelled with the
// interest it came from, never the saved pins, and item pages say they are personalised.
func TestBrowserForYou(t *testing.T) {
	f := newFixture(t)
	st := openEngage(t, f.ix)
	s, _ := f.server(t, WithEngagement(st), WithVisitorKey(testKey))
	srv := httptest.NewServer(s) // 127.0.0.1, a free port
	defer srv.Close()
	ctx := browser(t)

	step(t, ctx, "open /foryou", chromedp.Navigate(srv.URL+"/foryou"), chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)))
	cold := get(t, ctx, "cold start note", chromedp.Text(chromedp.CSS(`#cold-start`)))
	assert.Contains(t, cold, "You have not liked or saved any pins yet")
	assert.Equal(t, 0, get(t, ctx, "no interests", chromedp.Evaluate[int](`document.querySelectorAll('#interests a.pin').length`)))
	screenshot(t, ctx, "foryou-cold.png")

	// Save three red pins and one blue one from their pages.
	saved := []string{"red/0.png", "red/1.png", "red/2.png", "blue/0.png"}
	for _, id := range saved {
		step(t, ctx, "save "+id,
			chromedp.Navigate(srv.URL+ItemURL(id)), chromedp.WaitVisible(chromedp.CSS(`#save`)),
			loads(chromedp.Click(chromedp.CSS(`#save`), chromedp.NodeVisible)),
			chromedp.WaitVisible(chromedp.CSS(`#save.on`)),
		)
	}

	// The feed: the visitor's interests, each result from one of them, none of the saved pins.
	step(t, ctx, "open For you from the header",
		loads(chromedp.Click(chromedp.CSS(`#nav-foryou`), chromedp.NodeVisible)),
		chromedp.WaitVisible(chromedp.CSS(`#foryou-note`)),
	)
	note := get(t, ctx, "note", chromedp.Text(chromedp.CSS(`#foryou-note`)))
	assert.Contains(t, note, "Built from 4 pins you liked or saved")
	assert.Regexp(t, `saved: (1 interest|[02-9] interests|\d{2,} interests)\. This page`, note, "the count of interests reads as English")
	interests := get(t, ctx, "interests", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#interests a.pin')).map(a => a.title)`))
	require.NotEmpty(t, interests)
	for _, id := range interests {
		assert.Contains(t, saved, id, "an interest's medoid is one of the visitor's pins")
	}
	results := resultIDs(t, ctx)
	require.NotEmpty(t, results)
	for _, id := range results {
		assert.NotContains(t, saved, id, "a saved pin came back")
	}
	whys := get(t, ctx, "labels", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#results a.pin')).map(a => (a.querySelector('.why') || {}).textContent || '')`))
	for i, w := range whys {
		assert.True(t, strings.HasPrefix(w, "from interest "), "result %d (%s) says %q", i+1, results[i], w)
	}
	screenshot(t, ctx, "foryou.png")

	// An item page is personalised for this visitor, and says so.
	step(t, ctx, "open an item", chromedp.Navigate(srv.URL+ItemURL("green/0.png")), chromedp.WaitVisible(chromedp.CSS(`#rank-note`)))
	rn := get(t, ctx, "rank note", chromedp.Text(chromedp.CSS(`#rank-note`)))
	assert.Contains(t, rn, "Personalised for you")
	near := get(t, ctx, "near labels", chromedp.Evaluate[int](`Array.from(document.querySelectorAll('#results a.pin .why')).filter(e => e.textContent.startsWith('near your interest')).length`))
	assert.Positive(t, near)
	screenshot(t, ctx, "foryou-item.png")
}

// TestForYouPageWithoutEngagement: a server that records no likes or saves has no "For you" page.
func TestForYouPageWithoutEngagement(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	rec := do(s, "GET", "/foryou", nil, "")
	assert.Equal(t, 404, rec.Code)
	assert.Contains(t, rec.Body.String(), "no likes or saves")
	// And with engagement, a bad k is refused.
	st := openEngage(t, f.ix)
	s, _ = f.server(t, WithEngagement(st), WithVisitorKey(testKey))
	assert.Equal(t, 400, do(s, "GET", "/foryou?k=0", nil, "").Code)
	assert.Equal(t, 200, do(s, "GET", "/foryou", nil, "").Code)
}
