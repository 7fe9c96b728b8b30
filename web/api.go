package web

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"pinrec"
	"pinrec/engage"
)

// rows are the Answer rows of hits, with links.
func rows(res []engage.Result) []Row {
	out := make([]Row, len(res))
	for i, r := range res {
		out[i] = Row{Rank: i + 1, ID: r.ID, Distance: r.Distance, Region: r.Region}
	}
	return linked(out)
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error": "encoding the answer failed"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// writeError answers {"error": msg} with code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// apiError answers err as JSON with its status.
func apiError(w http.ResponseWriter, err error) {
	code, msg := status(err)
	writeError(w, code, msg)
}

func (s *Server) handleAPISimilar(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := s.parseState(r.URL.Query(), 10)
	if err == nil && st.Crop != nil && st.Rank == "hybrid" {
		err = fail(http.StatusBadRequest, "rank=hybrid applies to whole pins, not to a crop")
	}
	if err != nil {
		apiError(w, err)
		return
	}
	res, hidden, err := s.similar(r.Context(), id, st)
	if err != nil {
		apiError(w, err)
		return
	}
	if st.Rank == "hybrid" {
		a := NewHybridAnswer(id, s.engage.weights(), res)
		a.Hidden = hidden
		for i := range a.Results {
			a.Results[i].URL, a.Results[i].Image = ItemURL(a.Results[i].ID), ImageURL(a.Results[i].ID)
		}
		writeJSON(w, http.StatusOK, a)
		return
	}
	writeJSON(w, http.StatusOK, Answer{Query: id, Crop: st.Crop, Far: st.Crop != nil && s.far(res), Hidden: hidden, Results: rows(res)})
}

func (s *Server) handleAPIQuery(w http.ResponseWriter, r *http.Request) {
	sv, st, err := s.takeUpload(w, r, 10)
	if err != nil {
		apiError(w, err)
		return
	}
	st.Crop = nil // the saved vector is of the crop already
	res, hidden, err := s.searchVector(r.Context(), sv.vec, st)
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Answer{Query: sv.name, Crop: sv.crop, Search: href(sv.URL(), st.values(10)), Far: s.far(res), Hidden: hidden, Results: rows(res)})
}

// listing is the JSON of /api/items.
type listing struct {
	Total  int       `json:"total"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
	Items  []listRow `json:"items"`
}

type listRow struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	URL      string `json:"url"`
	Image    string `json:"image"`
}

// maxLimit bounds the page size of /api/items.
const maxLimit = 500

func (s *Server) handleAPIItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := intParam(q, "offset", 0, 0, 1<<40)
	if err != nil {
		apiError(w, err)
		return
	}
	limit, err := intParam(q, "limit", 50, 1, maxLimit)
	if err != nil {
		apiError(w, err)
		return
	}
	ids := s.listed(q["cat"])
	l := listing{Total: len(ids), Offset: offset, Limit: limit, Items: []listRow{}}
	for _, id := range ids[min(offset, len(ids)):min(offset+limit, len(ids))] {
		l.Items = append(l.Items, listRow{ID: id, Category: s.catOf[id], URL: ItemURL(id), Image: ImageURL(id)})
	}
	writeJSON(w, http.StatusOK, l)
}

// listed is the IDs in the given categories (all of them for none): one category in the
// store's order, several taken in turn from each (mixed, not in ID order).
func (s *Server) listed(cats []string) []string {
	if len(cats) == 0 {
		return s.mixed
	}
	if len(cats) == 1 {
		return s.catIDs[cats[0]]
	}
	want := map[string]bool{}
	for _, c := range cats {
		want[c] = true
	}
	var ids []string
	for _, id := range s.mixed {
		if want[s.catOf[id]] {
			ids = append(ids, id)
		}
	}
	return ids
}

// intParam reads an integer query parameter in [lo, hi], def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fail(http.StatusBadRequest, "%s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "items": s.store.Len()})
}

// browserTypes are the image types served as they are; other indexed images (TIFF) are
// converted to PNG, which browsers show.
var browserTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/bmp": true}

// handleImage serves the image file of an indexed item: the file its ImageLocator names for an
// ID the store holds, never a path taken from the request.
func (s *Server) handleImage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, err := s.store.Get(id)
	if err != nil {
		apiError(w, s.notFound(id, err))
		return
	}
	file := s.cfg.locate(id, it.Meta)
	if file == "" {
		writeError(w, http.StatusNotFound, "item "+strconv.Quote(id)+" has no image file")
		return
	}
	f, err := os.Open(file)
	if err != nil {
		writeError(w, http.StatusNotFound, "the image file of "+strconv.Quote(id)+" is missing")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "the image file of "+strconv.Quote(id)+" is missing")
		return
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	ctype := http.DetectContentType(head[:n])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		apiError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	// Other sites may not embed the images: an <img> there would tell whether an ID exists.
	w.Header().Set("Cross-Origin-Resource-Policy", "same-origin")
	if browserTypes[ctype] {
		w.Header().Set("Content-Type", ctype)
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	// A format browsers do not show (TIFF): decoded, upright, as PNG.
	img, err := pinrec.Decode(f, pinrec.WithMaxPixels(s.cfg.maxPixels))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "the image file of "+strconv.Quote(id)+" cannot be decoded: "+err.Error())
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		apiError(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	http.ServeContent(w, r, "", st.ModTime(), bytes.NewReader(buf.Bytes()))
}
