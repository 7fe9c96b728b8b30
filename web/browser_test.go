package web

import (
	"context"
	"fmt"
	"image"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// screenshotDir is where the browser test saves full-page screenshots (git-ignored);
// $PINREC_SCREENSHOTS overrides it.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("PINREC_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// browser starts headless Chromium (Debian's chromium, which `make test` installs) and returns
// a context for it; the browser is closed when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		exe = "/usr/bin/chromium"
	}
	_, err = os.Stat(exe)
	require.NoError(t, err, "the browser tests need Debian's chromium (make test installs it: apt-get install -y chromium)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("hide-scrollbars", true),
	)
	// Everything the test does in the browser, startup included, ends within two minutes.
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 2*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		// Close the browser (chromedp.Cancel waits for its process to exit), then release
		// the allocator, which kills it if it is still there.
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing the browser: %v", err)
		}
		cancelCtx()
		cancelAlloc()
		cancelDeadline()
	})
	// A JavaScript dialog (an injected alert) fails the test.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("a JavaScript dialog opened: %q", ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	require.NoError(t, chromedp.Do(ctx), "starting chromium")
	return ctx
}

// step runs actions with a bound of 20 seconds, naming the step on failure.
func step(t *testing.T, ctx context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...), name)
}

// get runs one action that returns a value, bounded by 20 seconds.
func get[T any](t *testing.T, ctx context.Context, name string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	require.NoError(t, err, name)
	return v
}

// resultIDs reads the IDs of the result pins on the page, in order.
func resultIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return get(t, ctx, "read results", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#results a.pin')).map(a => a.title)`))
}

// poll waits up to 10 seconds for a JavaScript expression to be true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// loads runs trigger (a click, an upload, a drag) and waits for the page load it causes.
func loads[T any](trigger chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.WaitEvent(page.LoadEventFired, nil, trigger)(ctx, t)
		return err
	})
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(screenshotDir(t), name)
	require.NoError(t, os.WriteFile(p, buf, 0o644))
	t.Logf("screenshot: %s", p)
}

func TestBrowser(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	srv := httptest.NewServer(s) // 127.0.0.1, a free port
	defer srv.Close()
	ctx := browser(t)

	// The home page: every pin of the fixture, the <script> ID shown as text.
	step(t, ctx, "open /", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#grid a.pin`)))
	pins := get(t, ctx, "count pins", chromedp.Evaluate[int](`document.querySelectorAll('#grid a.pin').length`))
	assert.Equal(t, f.ix.Len(), pins)
	scriptText := get(t, ctx, "script pin", chromedp.Evaluate[string](`document.querySelector('a.pin[title^="<script>"] .name').textContent`))
	assert.Equal(t, "script>", scriptText, "the ID's base name, as text")
	screenshot(t, ctx, "home.png")

	// Click a pin: its page, its More like this grid (the oracle's order).
	step(t, ctx, "click a pin",
		loads(chromedp.Click(chromedp.CSS(`#grid a.pin[href="/item/blue%2F1.png"]`), chromedp.NodeVisible)),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)),
	)
	assert.Equal(t, srv.URL+"/item/blue%2F1.png", get(t, ctx, "location", chromedp.Location()))
	assert.Equal(t, "blue/1.png", get(t, ctx, "title", chromedp.Text(chromedp.CSS(`h1.id`))))
	want := f.oracle(f.vector(t, "blue/1.png"), 20, "blue/1.png", nil)
	assert.Equal(t, want, resultIDs(t, ctx))
	screenshot(t, ctx, "item.png")

	// Click a result: pivot to its page.
	first := want[0]
	step(t, ctx, "click a result",
		loads(chromedp.Click(chromedp.CSS(`#results a.pin`), chromedp.NodeVisible)),
		poll(fmt.Sprintf(`document.querySelector('h1.id') && document.querySelector('h1.id').textContent === %q`, first)),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)),
	)
	assert.Equal(t, srv.URL+"/item/"+url.PathEscape(first), get(t, ctx, "location", chromedp.Location()))
	assert.Equal(t, f.oracle(f.vector(t, first), 20, first, nil), resultIDs(t, ctx))

	// A category chip filters inside the search.
	step(t, ctx, "click the green chip",
		loads(chromedp.Click(chromedp.CSS(`.chips a[data-cat="green"]`), chromedp.NodeVisible)),
		poll(`location.search.includes('cat=green')`),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)),
	)
	assert.Equal(t, f.oracle(f.vector(t, first), 20, first, hasCategory("green")), resultIDs(t, ctx))

	// The <script> item's page: its ID is text, no script ran (no dialog).
	step(t, ctx, "open the <script> item",
		chromedp.Navigate(srv.URL+"/item/"+url.PathEscape(idScript)),
		chromedp.WaitVisible(chromedp.CSS(`h1.id`)),
	)
	assert.Equal(t, idScript, get(t, ctx, "title", chromedp.Text(chromedp.CSS(`h1.id`))))

	// Upload through the file input: the form submits itself and shows the results.
	qfile := filepath.Join(t.TempDir(), "my query.png")
	require.NoError(t, os.WriteFile(qfile, f.query, 0o644))
	step(t, ctx, "upload",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitReady(chromedp.ID(`upload-file`)),
		loads(chromedp.SetUploadFiles(chromedp.ID(`upload-file`), []string{qfile})),
		poll(`location.pathname.startsWith('/search/')`),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)),
	)
	assert.Equal(t, "Pins like your image", get(t, ctx, "heading", chromedp.Text(chromedp.CSS(`.similar-head h2`))))
	wantUpload := f.oracle(pixels(t, f.query), 20, "", nil)
	assert.Equal(t, wantUpload, resultIDs(t, ctx))
	previewW := get(t, ctx, "preview", chromedp.Evaluate[int](`document.getElementById('query-img').naturalWidth`))
	assert.Equal(t, 48, previewW, "the preview shows the uploaded image")
	screenshot(t, ctx, "upload-results.png")
	// The results have a URL: a reload, and the link opened afresh, show them again.
	resultsURL := get(t, ctx, "results URL", chromedp.Evaluate[string](`location.href`))
	step(t, ctx, "reload the results", loads(chromedp.Reload()), chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)))
	assert.Equal(t, wantUpload, resultIDs(t, ctx))
	step(t, ctx, "open the results link", chromedp.Navigate(srv.URL+"/"), chromedp.Navigate(resultsURL),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)))
	assert.Equal(t, wantUpload, resultIDs(t, ctx))
	shared := get(t, ctx, "share link", chromedp.Evaluate[string](`document.getElementById('share').href`))
	assert.Equal(t, resultsURL, shared)
	screenshot(t, ctx, "upload-results-reloaded.png")

	// Drag a crop box over a pin: the page reloads with the crop and its results.
	id := "green/2.png"
	step(t, ctx, "open the crop pin",
		chromedp.Navigate(srv.URL+"/item/"+url.PathEscape(id)),
		poll(`document.getElementById('focus-img').naturalWidth > 0`),
	)
	type rect struct{ X, Y, W, H, NW, NH float64 }
	box := get(t, ctx, "image box", chromedp.Evaluate[rect](`(() => { const i = document.getElementById('focus-img'); const r = i.getBoundingClientRect();
		return {X: r.left, Y: r.top, W: r.width, H: r.height, NW: i.naturalWidth, NH: i.naturalHeight}; })()`))
	require.Equal(t, 48.0, box.NW)
	x0, y0 := box.X+box.W*0.2, box.Y+box.H*0.25
	x1, y1 := box.X+box.W*0.7, box.Y+box.H*0.9
	step(t, ctx, "drag a crop box",
		loads(chromedp.DragAndDropXY(x0, y0, x1, y1, 8)),
		poll(`location.search.includes('crop=')`),
		chromedp.WaitVisible(chromedp.CSS(`.crop-box`)),
		chromedp.WaitVisible(chromedp.CSS(`#results a.pin`)),
	)
	loc := get(t, ctx, "location", chromedp.Location())
	u, err := url.Parse(loc)
	require.NoError(t, err)
	cr, err := pinrec.ParseRect(u.Query().Get("crop"))
	require.NoError(t, err, loc)
	crop := image.Rect(cr.X, cr.Y, cr.X+cr.W, cr.Y+cr.H)
	// The box the mouse drew, in the image's pixels (the page shows the image scaled up).
	scale := box.NW / box.W
	assert.InDelta(t, (x0-box.X)*scale, float64(crop.Min.X), 1.5)
	assert.InDelta(t, (y0-box.Y)*scale, float64(crop.Min.Y), 1.5)
	assert.InDelta(t, (x1-x0)*scale, float64(crop.Dx()), 1.5)
	assert.InDelta(t, (y1-y0)*scale, float64(crop.Dy()), 1.5)
	img, err := pinrec.DecodeFile(f.files[id])
	require.NoError(t, err)
	part := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(crop)
	assert.Equal(t, f.oracle(pinrecPixels(part), 20, id, nil), resultIDs(t, ctx))
	hint := get(t, ctx, "crop hint", chromedp.Text(chromedp.CSS(`.hint`)))
	assert.True(t, strings.HasPrefix(hint, "Pins like the boxed part"), hint)
	screenshot(t, ctx, "crop.png")
}

// TestBrowserInfiniteScroll: the home grid loads its next pages through /api/items, until every
// pin is there once, in order: when the reader scrolls to the bottom, and on a window so tall that
// the "more" link is still in view after a page arrives (the observer then sees no change, and
// the page must look again by itself: before it did, the grid stopped after two pages).
func TestBrowserInfiniteScroll(t *testing.T) {
	f := newFixture(t)
	// Enough items for three pages (their images are missing: the grid shows empty tiles).
	for i := range 2*perPage + 5 {
		require.NoError(t, f.ix.Add(pinrec.Item{ID: fmt.Sprintf("more/%03d.png", i), Vector: make([]float32, pixelSide*pixelSide*3)}))
	}
	s, _ := f.server(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := browser(t)
	all := fmt.Sprintf(`document.querySelectorAll('#grid a.pin').length === %d`, f.ix.Len())
	tests := []struct {
		name   string
		height int64  // the window's height in CSS pixels
		wait   string // what to poll for until the whole grid is there
	}{
		{"scrolling", 900, `window.scrollTo(0, document.body.scrollHeight), ` + all},
		// 101 tiles take about 4,000 pixels at this width: the whole grid fits, nobody scrolls.
		{"tall window", 12000, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step(t, ctx, "open /",
				chromedp.EmulateViewport(1280, tt.height),
				chromedp.Navigate(srv.URL+"/"),
				chromedp.WaitVisible(chromedp.CSS(`#grid a.pin`)),
			)
			step(t, ctx, "load every page",
				chromedp.Poll[chromedp.Void](tt.wait, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)),
			)
			titles := get(t, ctx, "titles", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#grid a.pin')).map(a => a.title)`))
			assert.Equal(t, mixedOrder(f.ix), titles, "every pin once, categories in turn")
			// The grid is whole: the "more" link is gone.
			assert.Equal(t, 0, get(t, ctx, "more link", chromedp.Evaluate[int](`document.querySelectorAll('a.more').length`)))
		})
	}
}

// Like and Save come back to the same page (k, ranking and categories kept) with the buttons
// on; an unknown page shows the site's error page.
func TestBrowserEngagement(t *testing.T) {
	f := newFixture(t)
	st := openEngage(t, f.ix)
	s, _ := f.server(t, WithEngagement(st))
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := browser(t)
	page := "/item/" + url.PathEscape("red/1.png") + "?cat=red&cat=blue&k=10&rank=hybrid"
	step(t, ctx, "open the item", chromedp.Navigate(srv.URL+page), chromedp.WaitVisible(chromedp.ID(`like`)))
	step(t, ctx, "like", loads(chromedp.Click(chromedp.ID(`like`))), chromedp.WaitVisible(chromedp.ID(`like`)))
	here := get(t, ctx, "location", chromedp.Evaluate[string](`location.pathname + location.search`))
	assert.Equal(t, page, here, "back on the same page, state kept")
	assert.Equal(t, "Liked · 1", get(t, ctx, "like button", chromedp.Text(chromedp.ID(`like`))))
	step(t, ctx, "save", loads(chromedp.Click(chromedp.ID(`save`))), chromedp.WaitVisible(chromedp.ID(`save`)))
	assert.Equal(t, page, get(t, ctx, "location", chromedp.Evaluate[string](`location.pathname + location.search`)))
	assert.Equal(t, "Saved · 1", get(t, ctx, "save button", chromedp.Text(chromedp.ID(`save`))))
	assert.Contains(t, get(t, ctx, "rank note", chromedp.Text(chromedp.ID(`rank-note`))), "Hybrid")
	screenshot(t, ctx, "liked-saved.png")

	step(t, ctx, "open an unknown page", chromedp.Navigate(srv.URL+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS(`section.error`)))
	assert.Equal(t, "404 Not Found", get(t, ctx, "error heading", chromedp.Text(chromedp.CSS(`section.error h1`))))
	screenshot(t, ctx, "error-404.png")

	// A phone: two columns of pins.
	step(t, ctx, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#grid a.pin`)))
	cols := get(t, ctx, "columns", chromedp.Evaluate[int](`getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length`))
	assert.Equal(t, 2, cols)
	screenshot(t, ctx, "phone-home.png")
}
