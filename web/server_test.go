package web

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

func decodeAnswer(t *testing.T, body []byte) Answer {
	t.Helper()
	var a Answer
	require.NoError(t, json.Unmarshal(body, &a), string(body))
	return a
}

// checkHeaders checks what every response carries.
func checkHeaders(t *testing.T, rec interface{ Header() http.Header }, ctype string) {
	t.Helper()
	h := rec.Header()
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.True(t, strings.HasPrefix(h.Get("Content-Type"), ctype), "Content-Type %q, want %q", h.Get("Content-Type"), ctype)
	assert.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
}

func TestAPISimilarMatchesOracle(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	for _, id := range []string{"red/0.png", "blue/3.png", idSpace, idScript, idQuote} {
		rec := do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=6", nil, "")
		require.Equal(t, 200, rec.Code, rec.Body.String())
		checkHeaders(t, rec, "application/json")
		a := decodeAnswer(t, rec.Body.Bytes())
		assert.Equal(t, id, a.Query)
		assert.Equal(t, f.oracle(f.vector(t, id), 6, id, nil), ids(a), id)
		for i, r := range a.Results {
			assert.Equal(t, i+1, r.Rank)
			assert.Equal(t, "/item/"+url.PathEscape(r.ID), r.URL)
			assert.Equal(t, "/image/"+url.PathEscape(r.ID), r.Image)
			if i > 0 {
				assert.GreaterOrEqual(t, r.Distance, a.Results[i-1].Distance)
			}
		}
	}
	// The default k is 10.
	a := decodeAnswer(t, do(s, "GET", "/api/similar/red%2F1.png", nil, "").Body.Bytes())
	assert.Len(t, a.Results, 10)
}

func TestAPIQueryMatchesOracle(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	body, ctype := multipartBody(t, "query.png", f.query)
	rec := do(s, "POST", "/api/query?k=5", body, ctype)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	checkHeaders(t, rec, "application/json")
	a := decodeAnswer(t, rec.Body.Bytes())
	assert.Equal(t, "query.png", a.Query)
	want := f.oracle(pixels(t, f.query), 5, "", nil)
	assert.Equal(t, want, ids(a))
	assert.False(t, hasCategory("red")(want[0]) || hasCategory("green")(want[0]), "the nearest pin of a blue query is blue: %v", want)
	// k may come in the form instead of the URL.
	body, ctype = multipartBody(t, "query.png", f.query, "k", "3")
	a = decodeAnswer(t, do(s, "POST", "/api/query", body, ctype).Body.Bytes())
	assert.Equal(t, want[:3], ids(a))
}

func TestCropMatchesCroppedFile(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	// The oracle: the crop saved as its own file and uploaded whole.
	full := synthetic(64, 48, classColors[1].c, 123)
	crop := image.Rect(10, 6, 10+30, 6+25)
	cropped := image.NewRGBA(image.Rect(0, 0, crop.Dx(), crop.Dy()))
	for y := range crop.Dy() {
		for x := range crop.Dx() {
			cropped.Set(x, y, full.At(crop.Min.X+x, crop.Min.Y+y))
		}
	}
	body, ctype := multipartBody(t, "full.png", encodePNG(t, full))
	rec := do(s, "POST", "/api/query?k=8&crop=10,6,30,25", body, ctype)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := decodeAnswer(t, rec.Body.Bytes())
	assert.Equal(t, &pinrec.Rect{X: 10, Y: 6, W: 30, H: 25}, got.Crop)
	body, ctype = multipartBody(t, "crop.png", encodePNG(t, cropped))
	want := decodeAnswer(t, do(s, "POST", "/api/query?k=8", body, ctype).Body.Bytes())
	assert.Equal(t, ids(want), ids(got))
	assert.Equal(t, f.oracle(pixels(t, encodePNG(t, cropped)), 8, "", nil), ids(got))
	body, ctype = multipartBody(t, "full.png", encodePNG(t, full))
	whole := decodeAnswer(t, do(s, "POST", "/api/query?k=8", body, ctype).Body.Bytes())
	assert.NotEqual(t, ids(whole), ids(got), "the crop is a different query from the whole image")

	// A crop of an indexed pin: its file's crop, the pin itself left out.
	id := "green/2.png"
	src, err := os.ReadFile(f.files[id])
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(src))
	require.NoError(t, err)
	part := img.(*image.RGBA).SubImage(image.Rect(5, 5, 25, 30))
	rec = do(s, "GET", "/api/similar/"+url.PathEscape(id)+"?k=4&crop=5,5,20,25", nil, "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, f.oracle(pinrecPixels(part), 4, id, nil), ids(decodeAnswer(t, rec.Body.Bytes())))
}

func TestBadCrops(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	for _, c := range []struct{ crop, msg string }{
		{"0,0,0,5", "is empty (width and height must be at least 1)"},
		{"0,0,5,0", "is empty (width and height must be at least 1)"},
		{"-1,0,5,5", "has a negative corner"},
		{"1,2,3", "want x,y,w,h"},
		{"a,b,c,d", "want x,y,w,h as integers"},
		{"40,0,10,10", "reaches outside the 48x40 image"},
		{"0,0,48,41", "reaches outside the 48x40 image"},
	} {
		body, ctype := multipartBody(t, "q.png", encodePNG(t, synthetic(48, 40, classColors[0].c, 7)))
		rec := do(s, "POST", "/api/query?crop="+url.QueryEscape(c.crop), body, ctype)
		assert.Equal(t, 400, rec.Code, c.crop)
		assert.Contains(t, rec.Body.String(), c.msg, c.crop)
		rec = do(s, "GET", "/api/similar/red%2F0.png?crop="+url.QueryEscape(c.crop), nil, "")
		assert.Equal(t, 400, rec.Code, c.crop)
		assert.Contains(t, rec.Body.String(), c.msg, c.crop)
	}
	// The whole image is a valid crop.
	body, ctype := multipartBody(t, "q.png", encodePNG(t, synthetic(48, 40, classColors[0].c, 7)))
	assert.Equal(t, 200, do(s, "POST", "/api/query?crop=0,0,48,40", body, ctype).Code)
}

func TestUnknownIDs(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	for _, p := range []string{"/api/similar/nope.png", "/api/similar/red%2F9.png", "/image/nope.png", "/image/red%2F0.png%00"} {
		rec := do(s, "GET", p, nil, "")
		assert.Equal(t, 404, rec.Code, p)
		checkHeaders(t, rec, "application/json")
		var e map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), p)
		assert.Contains(t, e["error"], "no item", p)
	}
	rec := do(s, "GET", "/item/nope%3Cb%3E.png", nil, "")
	assert.Equal(t, 404, rec.Code)
	checkHeaders(t, rec, "text/html")
	assert.Contains(t, rec.Body.String(), "no item &#34;nope&lt;b&gt;.png&#34; in the index")
	// An item without an image file: no image.
	rec = do(s, "GET", "/image/"+idNoFile, nil, "")
	assert.Equal(t, 404, rec.Code)
	assert.Contains(t, rec.Body.String(), "has no image file")
}

func TestImageServesOnlyIndexedFiles(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	// Indexed items: their bytes, with their type.
	for _, c := range []struct{ id, ctype string }{{"red/0.png", "image/png"}, {idSpace, "image/jpeg"}, {idScript, "image/png"}} {
		rec := do(s, "GET", "/image/"+url.PathEscape(c.id), nil, "")
		require.Equal(t, 200, rec.Code, c.id)
		checkHeaders(t, rec, c.ctype)
		want, err := os.ReadFile(f.files[c.id])
		require.NoError(t, err)
		assert.Equal(t, want, rec.Body.Bytes(), c.id)
	}
	// Slashes may also come unescaped.
	rec := do(s, "GET", "/image/shoes/red%20one.jpg", nil, "")
	assert.Equal(t, 200, rec.Code)
	// TIFF, which browsers do not show, comes as PNG of the same pixels.
	rec = do(s, "GET", "/image/"+url.PathEscape(idTIFF), nil, "")
	require.Equal(t, 200, rec.Code)
	checkHeaders(t, rec, "image/png")
	got, err := png.Decode(rec.Body)
	require.NoError(t, err)
	assert.Equal(t, pixels(t, mustRead(t, f.files[idTIFF])), pinrecPixels(got))

	// Anything else: never a file outside the index.
	secret := f.dir + "/secret.txt"
	writeFile(t, secret, []byte("top secret"))
	for _, p := range []string{
		"/image/..%2Fsecret.txt",
		"/image/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"/image/%2Fetc%2Fpasswd",
		"/image/" + url.PathEscape(secret),
		"/image/" + url.PathEscape(f.files["red/0.png"]),
		"/image/red%2F..%2F..%2Fsecret.txt",
		"/image/",
		"/image/../../etc/passwd",
		"/image/red/../../secret.txt",
		"/static/../server.go",
		"/static/..%2Fserver.go",
		"/static/%2E%2E/server.go",
	} {
		rec := do(s, "GET", p, nil, "")
		assert.NotEqual(t, 200, rec.Code, p)
		assert.NotContains(t, rec.Body.String(), "top secret", p)
		assert.NotContains(t, rec.Body.String(), "root:", p)
		assert.NotContains(t, rec.Body.String(), "package web", p)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func TestBadK(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithMaxK(30))
	for _, k := range []string{"0", "-1", "31", "abc", "1.5", "99999999999999999999"} {
		rec := do(s, "GET", "/api/similar/red%2F0.png?k="+url.QueryEscape(k), nil, "")
		assert.Equal(t, 400, rec.Code, k)
		assert.Contains(t, rec.Body.String(), "want a whole number from 1 to 30", k)
		body, ctype := multipartBody(t, "q.png", f.query)
		rec = do(s, "POST", "/api/query?k="+url.QueryEscape(k), body, ctype)
		assert.Equal(t, 400, rec.Code, k)
		rec = do(s, "GET", "/item/red%2F0.png?k="+url.QueryEscape(k), nil, "")
		assert.Equal(t, 400, rec.Code, k)
		checkHeaders(t, rec, "text/html")
	}
	assert.Equal(t, 200, do(s, "GET", "/api/similar/red%2F0.png?k=30", nil, "").Code)
	for _, q := range []string{"offset=-1", "limit=0", "limit=501", "limit=x", "offset=1e3"} {
		assert.Equal(t, 400, do(s, "GET", "/api/items?"+q, nil, "").Code, q)
	}
	for _, q := range []string{"dedup=-1", "dedup=x", "dedup=NaN", "dedup=Inf", "rank=best", "rank=hybrid"} {
		assert.Equal(t, 400, do(s, "GET", "/api/similar/red%2F0.png?"+q, nil, "").Code, q)
	}
	assert.Equal(t, 400, do(s, "GET", "/?page=9", nil, "").Code)
}

// pngHeader is a PNG that declares w x h pixels: a valid signature and IHDR (with its CRC),
// then a truncated IDAT.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	b.Write([]byte{0, 0, 0, 10, 'I', 'D', 'A', 'T', 0x78, 0x9c})
	return b.Bytes()
}

func TestBadUploads(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithMaxUpload(256<<10), WithMaxPixels(1<<20))
	good := encodePNG(t, synthetic(48, 40, classColors[0].c, 3))
	// A real decompression bomb: 3000x3000 of one colour is a few KB of PNG.
	var bomb bytes.Buffer
	require.NoError(t, png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 3000, 3000))))
	require.Less(t, bomb.Len(), 64<<10)
	big := make([]byte, 300<<10)
	copy(big, good)
	for _, c := range []struct {
		name string
		data []byte
		code int
		msg  string
	}{
		{"text", []byte("hello, I am not an image"), 400, "unsupported image format"},
		{"truncated", good[:len(good)/2], 400, "corrupt image"},
		{"empty-png-header", good[:8], 400, "corrupt image"},
		{"bomb", bomb.Bytes(), 400, "too large"},
		{"declared-huge", pngHeader(100000, 100000), 400, "too large"},
		{"over-limit", big, 413, "larger than the limit of 262144 bytes"},
	} {
		body, ctype := multipartBody(t, c.name+".png", c.data)
		rec := do(s, "POST", "/api/query", body, ctype)
		assert.Equal(t, c.code, rec.Code, c.name)
		checkHeaders(t, rec, "application/json")
		assert.Contains(t, rec.Body.String(), c.msg, c.name)
		// The HTML form answers the same status with a page.
		body, ctype = multipartBody(t, c.name+".png", c.data)
		rec = do(s, "POST", "/search", body, ctype)
		assert.Equal(t, c.code, rec.Code, c.name)
		checkHeaders(t, rec, "text/html")
	}
	// No image field, an empty one, not multipart.
	body, ctype := multipartBody(t, "", nil, "k", "3")
	rec := do(s, "POST", "/api/query", body, ctype)
	assert.Equal(t, 400, rec.Code)
	assert.Contains(t, rec.Body.String(), `no image`)
	body, ctype = multipartBody(t, "e.png", []byte{})
	assert.Equal(t, 400, do(s, "POST", "/api/query", body, ctype).Code)
	rec = do(s, "POST", "/api/query", strings.NewReader(string(good)), "image/png")
	assert.Equal(t, 400, rec.Code)
	assert.Contains(t, rec.Body.String(), "multipart/form-data")
	rec = do(s, "POST", "/api/query", strings.NewReader("--x\r\nbroken"), "multipart/form-data; boundary=x")
	assert.Equal(t, 400, rec.Code)
	// The server is unharmed: a good upload still works.
	body, ctype = multipartBody(t, "good.png", good)
	assert.Equal(t, 200, do(s, "POST", "/api/query", body, ctype).Code)
	assert.Equal(t, 200, do(s, "GET", "/healthz", nil, "").Code)
	// GET on a POST route and unknown routes.
	assert.Equal(t, 405, do(s, "GET", "/api/query", nil, "").Code)
	assert.Equal(t, 404, do(s, "GET", "/nope", nil, "").Code)
}

func TestNoEmbedder(t *testing.T) {
	f := newFixture(t)
	s, err := New(f.ix, WithLogger(nil))
	require.NoError(t, err)
	body, ctype := multipartBody(t, "q.png", f.query)
	assert.Equal(t, 501, do(s, "POST", "/api/query", body, ctype).Code)
	assert.Equal(t, 200, do(s, "GET", "/api/similar/red%2F0.png", nil, "").Code)
}

func TestItemsAndHealth(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	all := mixedOrder(f.ix) // categories in turn, not ID order
	var got []string
	for off := 0; off < len(all); off += 4 {
		rec := do(s, "GET", fmt.Sprintf("/api/items?offset=%d&limit=4", off), nil, "")
		require.Equal(t, 200, rec.Code)
		checkHeaders(t, rec, "application/json")
		var l listing
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &l))
		assert.Equal(t, len(all), l.Total)
		for _, it := range l.Items {
			got = append(got, it.ID)
			assert.Equal(t, "/item/"+url.PathEscape(it.ID), it.URL)
		}
	}
	assert.Equal(t, all, got)
	var l listing
	require.NoError(t, json.Unmarshal(do(s, "GET", "/api/items?offset=1000", nil, "").Body.Bytes(), &l))
	assert.Empty(t, l.Items)
	require.NoError(t, json.Unmarshal(do(s, "GET", "/api/items?cat=blue&limit=500", nil, "").Body.Bytes(), &l))
	assert.Equal(t, 5, l.Total)
	for _, it := range l.Items {
		assert.Equal(t, "blue", it.Category)
	}
	require.NoError(t, json.Unmarshal(do(s, "GET", "/api/items?cat=blue&cat=%3Cem%3Ecat%3C%2Fem%3E", nil, "").Body.Bytes(), &l))
	assert.Equal(t, 6, l.Total)

	rec := do(s, "GET", "/healthz", nil, "")
	assert.Equal(t, 200, rec.Code)
	checkHeaders(t, rec, "application/json")
	assert.JSONEq(t, fmt.Sprintf(`{"status":"ok","items":%d}`, len(all)), rec.Body.String())

	rec = do(s, "GET", "/static/style.css", nil, "")
	assert.Equal(t, 200, rec.Code)
	checkHeaders(t, rec, "text/css")
	rec = do(s, "GET", "/static/app.js", nil, "")
	assert.Equal(t, 200, rec.Code)
	checkHeaders(t, rec, "text/javascript")
}

func TestFiltersInsideTheSearch(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	// A red pin's nearest green and blue pins: the filter applies inside the search, so there
	// are k of them although the unfiltered top k would be red.
	rec := do(s, "GET", "/api/similar/red%2F0.png?k=7&cat=green&cat=blue", nil, "")
	require.Equal(t, 200, rec.Code)
	keep := func(id string) bool { return hasCategory("green")(id) || hasCategory("blue")(id) }
	assert.Equal(t, f.oracle(f.vector(t, "red/0.png"), 7, "red/0.png", keep), ids(decodeAnswer(t, rec.Body.Bytes())))
	// Metadata categories count too.
	rec = do(s, "GET", "/api/similar/red%2F0.png?cat=%3Cem%3Ecat%3C%2Fem%3E", nil, "")
	assert.Equal(t, []string{idScript}, ids(decodeAnswer(t, rec.Body.Bytes())))
	body, ctype := multipartBody(t, "q.png", f.query, "cat", "red")
	rec = do(s, "POST", "/api/query?k=3", body, ctype)
	assert.Equal(t, f.oracle(pixels(t, f.query), 3, "", hasCategory("red")), ids(decodeAnswer(t, rec.Body.Bytes())))

	// The item page shows the chips, the chosen one on, and links that keep the state.
	rec = do(s, "GET", "/item/red%2F0.png?cat=green&k=10", nil, "")
	require.Equal(t, 200, rec.Code)
	page := rec.Body.String()
	assert.Contains(t, page, `<a class="chip on" href="/item/red%2F0.png?k=10" data-cat="green">green`)
	assert.Contains(t, page, `<a class="chip" href="/item/red%2F0.png?cat=blue&amp;cat=green&amp;k=10" data-cat="blue">blue`)
	assert.Contains(t, page, `&lt;em&gt;cat&lt;/em&gt;`)
	assert.NotContains(t, page, `<em>cat</em>`)
	// The home page filters the grid.
	rec = do(s, "GET", "/?cat=blue", nil, "")
	assert.Equal(t, 5, strings.Count(rec.Body.String(), `class="pin"`))
}

func TestDedup(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	a := decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(dupSource)+"?k=3", nil, "").Body.Bytes())
	require.Equal(t, idDup, a.Results[0].ID)
	require.Zero(t, a.Results[0].Distance)
	a = decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(dupSource)+"?k=3&dedup=0.01", nil, "").Body.Bytes())
	assert.Equal(t, f.oracle(f.vector(t, dupSource), 4, dupSource, nil)[1:], ids(a))
	// Every result nearer than the threshold goes, and k are still returned.
	d := float64(f.ix.Len())
	a = decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(dupSource)+"?k=2&dedup=1e9", nil, "").Body.Bytes())
	assert.Empty(t, a.Results, d)
	// The estimated threshold is positive and below the typical neighbour distance.
	assert.Greater(t, s.cfg.dedup, 0.0)
	page := do(s, "GET", "/item/"+url.PathEscape(dupSource), nil, "").Body.String()
	assert.Contains(t, page, fmt.Sprintf(`href="/item/red%%2F0.png?dedup=%v"`, s.cfg.dedup))
	assert.Contains(t, page, url.PathEscape(idDup))
	page = do(s, "GET", "/item/"+url.PathEscape(dupSource)+fmt.Sprintf("?dedup=%v", s.cfg.dedup), nil, "").Body.String()
	assert.NotContains(t, page, url.PathEscape(idDup))
}

func TestPagesEscape(t *testing.T) {
	f := newFixture(t)
	s, logs := f.server(t)
	rec := do(s, "GET", "/", nil, "")
	require.Equal(t, 200, rec.Code)
	checkHeaders(t, rec, "text/html")
	home := rec.Body.String()
	assert.Equal(t, f.ix.Len(), strings.Count(home, `class="pin"`))
	assert.NotContains(t, home, "<script>x")
	assert.Contains(t, home, `href="/item/%3Cscript%3Ex%3C%2Fscript%3E"`)
	assert.Contains(t, home, `&lt;script&gt;x&lt;/script&gt;`)
	assert.Contains(t, home, `href="/item/shoes%2Fred%20one.jpg"`)

	for _, id := range []string{idScript, idQuote, idSpace} {
		rec = do(s, "GET", "/item/"+url.PathEscape(id), nil, "")
		require.Equal(t, 200, rec.Code, id)
		checkHeaders(t, rec, "text/html")
		page := rec.Body.String()
		if htmlEscape(id) != id {
			assert.NotContains(t, page, id, "the raw ID is never in the page")
		}
		assert.Contains(t, page, `<h1 class="id">`+htmlEscape(id)+`</h1>`)
		assert.Contains(t, page, `src="/image/`+htmlEscape(url.PathEscape(id))+`"`)
	}
	page := do(s, "GET", "/item/"+url.PathEscape(idQuote), nil, "").Body.String()
	assert.Contains(t, page, `&lt;i&gt;meta&lt;/i&gt; &amp; &#34;quotes&#34;`)
	assert.NotContains(t, page, f.files[idQuote], "the server's file path is not shown")
	// The item page's results are the API's.
	page = do(s, "GET", "/item/blue%2F1.png?k=10", nil, "").Body.String()
	want := f.oracle(f.vector(t, "blue/1.png"), 10, "blue/1.png", nil)
	pos := -1
	for _, id := range want {
		i := strings.Index(page, `<a class="pin" href="/item/`+htmlEscape(url.PathEscape(id))+`"`)
		assert.Greater(t, i, pos, "results in order: %s", id)
		pos = i
	}
	// One log line per request, with the escaped path.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	assert.Len(t, lines, 6)
	assert.Contains(t, lines[1], "GET /item/%3Cscript%3Ex%3C%2Fscript%3E 200")
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestSearchPage(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	body, ctype := multipartBody(t, "my <query>.png", f.query, "k", "6", "cat", "blue")
	rec := do(s, "POST", "/search", body, ctype)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	rec = do(s, "GET", rec.Header().Get("Location"), nil, "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	checkHeaders(t, rec, "text/html")
	page := rec.Body.String()
	assert.Contains(t, page, "Pins like your image")
	assert.Contains(t, page, `src="data:image/jpeg;base64,`)
	assert.Contains(t, page, "my &lt;query&gt;.png")
	want := f.oracle(pixels(t, f.query), 6, "", hasCategory("blue"))
	assert.Len(t, want, 5)
	for _, id := range want {
		assert.Contains(t, page, `href="/item/`+url.PathEscape(id)+`"`)
	}
	assert.Equal(t, 5, strings.Count(page, `class="pin"`))
	// The upload form keeps the filter for the next upload.
	assert.Contains(t, page, `<input type="hidden" name="cat" value="blue">`)
}

func TestConcurrentQueries(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t, WithConcurrentQueries(2))
	wantQuery := f.oracle(pixels(t, f.query), 5, "", nil)
	wantSimilar := f.oracle(f.vector(t, "green/1.png"), 5, "green/1.png", nil)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if i%2 == 0 {
					body, ctype := multipartBody(t, "q.png", f.query)
					rec := do(s, "POST", "/api/query?k=5", body, ctype)
					if got := ids(decodeAnswerNoT(rec.Body.Bytes())); rec.Code != 200 || fmt.Sprint(got) != fmt.Sprint(wantQuery) {
						errs <- fmt.Sprintf("query: %d %v", rec.Code, got)
					}
				} else {
					rec := do(s, "GET", "/api/similar/green%2F1.png?k=5", nil, "")
					if got := ids(decodeAnswerNoT(rec.Body.Bytes())); rec.Code != 200 || fmt.Sprint(got) != fmt.Sprint(wantSimilar) {
						errs <- fmt.Sprintf("similar: %d %v", rec.Code, got)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func decodeAnswerNoT(b []byte) Answer {
	var a Answer
	json.Unmarshal(b, &a)
	return a
}
