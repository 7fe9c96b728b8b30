package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/tiff"

	"pinrec"
)

// The fixture: a folder of generated images in three colour classes, with IDs that need
// escaping, indexed with the raw-pixel embedding (16x16 RGB, what `pinrec index -embedding
// pixels` stores), so that no model is needed and every distance can be recomputed here.

const pixelSide = 16

// pixelEmbedder is the query embedder of the tests: the raw pixels of each image.
type pixelEmbedder struct{}

func (pixelEmbedder) Embed(_ context.Context, imgs ...image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i, img := range imgs {
		out[i] = pinrec.Preprocess(img, pixelSide, pinrec.ModeTF)
	}
	return out, nil
}

var classColors = []struct {
	name string
	c    color.RGBA
}{{"red", color.RGBA{200, 40, 40, 255}}, {"green", color.RGBA{40, 170, 60, 255}}, {"blue", color.RGBA{40, 60, 200, 255}}}

// synthetic is a w x h image: a base colour with seeded noise and a lighter square.
func synthetic(w, h int, base color.RGBA, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	side := min(w, h) * 2 / 5
	sx, sy := r.IntN(w-side), r.IntN(h-side)
	for y := range h {
		for x := range w {
			c := base
			if x >= sx && x < sx+side && y >= sy && y < sy+side {
				c = color.RGBA{255 - base.R/2, 255 - base.G/2, 255 - base.B/2, 255}
			}
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+r.IntN(41)-20))) }
			img.Set(x, y, color.RGBA{n(c.R), n(c.G), n(c.B), 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

// fixture is an index of generated images and what the tests know about it.
type fixture struct {
	dir   string
	ix    *pinrec.Index
	files map[string]string // ID -> file
	query []byte            // a PNG of class blue that is not in the index
}

// Special IDs of the fixture.
const (
	idSpace   = "shoes/red one.jpg"  // needs %2F and %20
	idScript  = "<script>x</script>" // must show as text
	idDup     = "red/dup.png"        // an exact copy of red/0.png
	idNoFile  = "nofile.png"         // an item without a path
	idTIFF    = "green/tiff one.tif" // served as PNG
	idQuote   = `odd/it's "q" & <b>.png`
	dupSource = "red/0.png"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), files: map[string]string{}}
	ix, err := pinrec.NewIndex(pixelSide * pixelSide * 3)
	require.NoError(t, err)
	f.ix = ix
	add := func(id string, data []byte, meta map[string]string) {
		file := filepath.Join(f.dir, "images", filepath.FromSlash(id))
		writeFile(t, file, data)
		img, err := pinrec.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		if meta == nil {
			meta = map[string]string{}
		}
		meta["path"] = file
		f.files[id] = file
		require.NoError(t, ix.Add(pinrec.Item{ID: id, Vector: pinrec.Preprocess(img, pixelSide, pinrec.ModeTF), Meta: meta}))
	}
	seed := uint64(1)
	for _, c := range classColors {
		for i := range 5 {
			add(fmt.Sprintf("%s/%d.png", c.name, i), encodePNG(t, synthetic(48, 40, c.c, seed)), nil)
			seed++
		}
	}
	add(idDup, encodePNG(t, synthetic(48, 40, classColors[0].c, 1)), nil)
	var jb bytes.Buffer
	require.NoError(t, jpeg.Encode(&jb, synthetic(40, 40, classColors[0].c, 50), nil))
	add(idSpace, jb.Bytes(), nil)
	var tb bytes.Buffer
	require.NoError(t, tiff.Encode(&tb, synthetic(32, 32, classColors[1].c, 51), nil))
	add(idTIFF, tb.Bytes(), nil)
	add(idQuote, encodePNG(t, synthetic(32, 32, classColors[2].c, 52)), map[string]string{"note": `<i>meta</i> & "quotes"`})
	// An ID that is not a path: its file lives elsewhere.
	scriptFile := filepath.Join(f.dir, "images", "script.png")
	writeFile(t, scriptFile, encodePNG(t, synthetic(32, 32, classColors[2].c, 53)))
	img, err := pinrec.DecodeFile(scriptFile)
	require.NoError(t, err)
	require.NoError(t, ix.Add(pinrec.Item{ID: idScript, Vector: pinrec.Preprocess(img, pixelSide, pinrec.ModeTF),
		Meta: map[string]string{"path": scriptFile, "category": "<em>cat</em>"}}))
	f.files[idScript] = scriptFile
	// An item without an image file.
	require.NoError(t, ix.Add(pinrec.Item{ID: idNoFile, Vector: pinrec.Preprocess(image.NewRGBA(image.Rect(0, 0, 4, 4)), pixelSide, pinrec.ModeTF)}))
	f.query = encodePNG(t, synthetic(48, 40, classColors[2].c, 99))
	return f
}

// server is a Server over the fixture with the pixel embedder, logging into logs.
func (f *fixture) server(t testing.TB, opts ...Option) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	all := append([]Option{WithEmbedder(pixelEmbedder{}), WithLogger(log.New(logs, "", 0))}, opts...)
	s, err := New(f.ix, all...)
	require.NoError(t, err)
	return s, logs
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// oracle ranks the fixture's items by Euclidean distance to q with plain float64 loops,
// leaving out skip and items keep rejects; ties keep the index's order.
func (f *fixture) oracle(q []float32, k int, skip string, keep func(id string) bool) []string {
	type hit struct {
		id string
		d  float64
		i  int
	}
	var hits []hit
	for i, id := range f.ix.IDs() {
		if id == skip || (keep != nil && !keep(id)) {
			continue
		}
		it, _ := f.ix.Get(id)
		var s float64
		for j, v := range it.Vector {
			d := float64(v) - float64(q[j])
			s += d * d
		}
		hits = append(hits, hit{id, math.Sqrt(s), i})
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].d < hits[b].d })
	var out []string
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.id)
	}
	return out
}

func (f *fixture) vector(t testing.TB, id string) []float32 {
	it, err := f.ix.Get(id)
	require.NoError(t, err)
	return it.Vector
}

// pixels is the raw-pixel vector of encoded image bytes.
func pixels(t testing.TB, data []byte) []float32 {
	img, err := pinrec.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	return pinrec.Preprocess(img, pixelSide, pinrec.ModeTF)
}

// multipartBody is a multipart form with the image under "image" and the other fields.
func multipartBody(t testing.TB, name string, data []byte, fields ...string) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		require.NoError(t, mw.WriteField(fields[i], fields[i+1]))
	}
	if data != nil {
		w, err := mw.CreateFormFile("image", name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

// do serves one request and returns the response.
func do(h http.Handler, method, target string, body io.Reader, ctype string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	req.Host = "127.0.0.1:8080" // a loopback name, which the server accepts by default
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// ids are the IDs of a JSON answer's results.
func ids(a Answer) []string {
	var out []string
	for _, r := range a.Results {
		out = append(out, r.ID)
	}
	return out
}

func hasCategory(cat string) func(id string) bool {
	return func(id string) bool { return strings.HasPrefix(id, cat+"/") }
}

// pinrecPixels is the raw-pixel vector of a decoded image.
func pinrecPixels(img image.Image) []float32 { return pinrec.Preprocess(img, pixelSide, pinrec.ModeTF) }

// mixedOrder is the home grid's order, recomputed: the pins of each category (metadata
// "category", else the ID's folder) in the index's order, categories by name, one from each
// in turn.
func mixedOrder(ix *pinrec.Index) []string {
	byCat := map[string][]string{}
	var names []string
	for _, id := range ix.IDs() {
		it, _ := ix.Get(id)
		c := it.Meta["category"]
		if c == "" {
			if i := strings.LastIndex(id, "/"); i > 0 {
				c = id[:i]
			}
		}
		if byCat[c] == nil {
			names = append(names, c)
		}
		byCat[c] = append(byCat[c], id)
	}
	sort.Strings(names)
	var out []string
	for i := 0; len(out) < ix.Len(); i++ {
		for _, c := range names {
			if i < len(byCat[c]) {
				out = append(out, byCat[c][i])
			}
		}
	}
	return out
}
