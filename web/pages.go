package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"time"

	"golang.org/x/image/draw"

	"pinrec"
	"pinrec/engage"
)

// perPage is the number of pins on a page of the home grid.
const perPage = 48

// kChoices are the result counts the item page offers.
var kChoices = []int{10, 20, 50}

// parseTemplates parses each page with the shared layout.
func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	funcs := template.FuncMap{
		"dist": func(d float32) string { return strconv.FormatFloat(float64(d), 'f', 2, 32) },
		"base": path.Base,
	}
	for _, name := range []string{"home", "item", "results", "error", "dupes", "foryou"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/pin.html", "templates/engage.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web: templates: %w", err)
		}
		s.pages[name] = t
	}
	return nil
}

// base is what every page shows: the title, the header's upload form and the footer.
type base struct {
	Title string
	Info  string
	Cats  []string // categories the page filters by (the upload form keeps them)
	K     int
}

// pinView is one pin in a grid or the item page.
type pinView struct {
	ID, Category string
	URL, Image   string // escaped links to the item page and the image
	Rank         int
	Distance     float32
	Ranked       bool // Rank and Distance apply
	// Why says what lifted a hybrid result ("" for none).
	Why string
	// Region is the part of the pin that matched, "x,y,w,h" in its image's pixels, for results
	// collapsed from region items; "" draws none (the whole pin matched).
	Region string
}

// chip is a category filter toggle.
type chip struct {
	Name  string
	Count int
	On    bool
	Href  string
}

// link is a labelled link that may be the current choice.
type link struct {
	Label string
	Href  string
	On    bool
}

func (s *Server) pin(id string) pinView {
	return pinView{ID: id, Category: s.catOf[id], URL: ItemURL(id), Image: ImageURL(id)}
}

func (s *Server) results(res []engage.Result) []pinView {
	out := make([]pinView, len(res))
	for i, r := range res {
		p := s.pin(r.ID)
		if p.Category == "" {
			p.Category = categoryOf(r.ID, r.Meta)
		}
		p.Rank, p.Distance, p.Ranked, p.Region = i+1, r.Distance, true, cropString(r.Region)
		p.Why = why(r)
		out[i] = p
	}
	return out
}

// values is the URL query of a state; defaultK is left out.
func (st state) values(defaultK int) url.Values {
	v := url.Values{}
	if st.K != defaultK {
		v.Set("k", strconv.Itoa(st.K))
	}
	for _, c := range st.Cats {
		v.Add("cat", c)
	}
	if st.Dedup > 0 {
		v.Set("dedup", strconv.FormatFloat(st.Dedup, 'g', -1, 64))
	}
	if st.Crop != nil {
		v.Set("crop", cropString(st.Crop))
	}
	if st.Rank != "" && st.Rank != "visual" {
		v.Set("rank", st.Rank)
	}
	if st.ShowDupes {
		v.Set("dupes", "show")
	}
	return v
}

// href is p with the query of v.
func href(p string, v url.Values) string {
	if q := v.Encode(); q != "" {
		return p + "?" + q
	}
	return p
}

// chips are the category toggles for a page at p in state st (a toggle keeps the rest of st).
func (s *Server) chips(p string, st state, defaultK int) []chip {
	if len(s.cats) < 2 {
		return nil
	}
	out := make([]chip, 0, len(s.cats)+1)
	all := st
	all.Cats = nil
	out = append(out, chip{Name: "All", Count: len(s.ids), On: len(st.Cats) == 0, Href: href(p, all.values(defaultK))})
	for _, c := range s.cats {
		if c.Name == "" {
			continue
		}
		next := st
		on := slices.Contains(st.Cats, c.Name)
		if on {
			next.Cats = slices.DeleteFunc(slices.Clone(st.Cats), func(x string) bool { return x == c.Name })
		} else {
			next.Cats = append(slices.Clone(st.Cats), c.Name)
			slices.Sort(next.Cats)
		}
		out = append(out, chip{Name: c.Name, Count: c.Count, On: on, Href: href(p, next.values(defaultK))})
	}
	return out
}

// render executes page name with data, answering 500 if the template fails.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.cfg.logger.Printf("template %s: %v", name, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

type errorPage struct {
	base
	Code    int
	Status  string
	Message string
}

// pageError renders err as an HTML page with its status.
func (s *Server) pageError(w http.ResponseWriter, err error) {
	code, msg := status(err)
	s.render(w, code, "error", errorPage{base: base{Title: http.StatusText(code), Info: s.info}, Code: code, Status: http.StatusText(code), Message: msg})
}

type homePage struct {
	base
	Pins     []pinView
	Chips    []chip
	Total    int
	Page     int
	Pages    int
	Prev     string
	Next     string
	Offset   int    // of the next page, for the infinite scroll
	APIQuery string // cat=... for /api/items
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := s.parseState(url.Values{"cat": q["cat"]}, 20)
	if err != nil {
		s.pageError(w, err)
		return
	}
	ids := s.listed(st.Cats)
	pages := max(1, (len(ids)+perPage-1)/perPage)
	pg, err := intParam(q, "page", 1, 1, pages)
	if err != nil {
		s.pageError(w, err)
		return
	}
	p := homePage{base: base{Info: s.info, Cats: st.Cats}, Chips: s.chips("/", st, 20),
		Total: len(ids), Page: pg, Pages: pages, Offset: pg * perPage}
	for _, id := range ids[(pg-1)*perPage : min(pg*perPage, len(ids))] {
		p.Pins = append(p.Pins, s.pin(id))
	}
	pageLink := func(n int) string {
		v := st.values(20)
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		return href("/", v)
	}
	if pg > 1 {
		p.Prev = pageLink(pg - 1)
	}
	if pg < pages {
		p.Next = pageLink(pg + 1)
	}
	p.APIQuery = url.Values{"cat": st.Cats}.Encode()
	s.render(w, http.StatusOK, "home", p)
}

type itemPage struct {
	base
	Pin       pinView
	Meta      []link // Label: key, Href: value
	Results   []pinView
	Chips     []chip
	KChoices  []link
	Dedup     link    // the toggle
	DedupAt   float64 // the distance it uses
	Ranks     []link  // visual / hybrid, with engagement
	Engage    *engageView
	RankNote  string // why the ranking is what it is (hybrid, or a crop where it does not apply)
	Far       bool   // a crop without close matches
	Hidden    int    // near-duplicates hidden (WithNearDuplicates)
	ShowDupes link   // shows the hidden near-duplicates, or hides them again (On: shown)
	Crop      string // x,y,w,h or ""
	ClearCrop string // the page without the crop
	Clear     string // the page without any option
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, err := s.store.Get(id)
	if err != nil {
		s.pageError(w, s.notFound(id, err))
		return
	}
	st, err := s.parseState(r.URL.Query(), 20)
	if err != nil {
		s.pageError(w, err)
		return
	}
	res, hidden, err := s.similar(r.Context(), id, st)
	if err != nil {
		s.pageError(w, err)
		return
	}
	res, personal, near := s.personalise(r, id, st, res) // foryou.go
	self := ItemURL(id)
	p := itemPage{base: base{Title: id, Info: s.info, Cats: st.Cats, K: st.K}, Pin: s.pin(id), Results: s.results(res),
		Chips: s.chips(self, st, 20), Crop: cropString(st.Crop), DedupAt: s.cfg.dedup, Clear: self}
	if p.Pin.Category == "" {
		p.Pin.Category = categoryOf(id, it.Meta)
	}
	p.Meta = metaRows(it.Meta)
	for _, k := range kChoices {
		next := st
		next.K = k
		p.KChoices = append(p.KChoices, link{strconv.Itoa(k), href(self, next.values(20)), st.K == k})
	}
	next := st
	if st.Dedup > 0 {
		next.Dedup = 0
	} else {
		next.Dedup = s.cfg.dedup
	}
	p.Dedup = link{"Hide near-duplicates", href(self, next.values(20)), st.Dedup > 0}
	if st.Dedup > 0 {
		p.DedupAt = st.Dedup
	}
	if st.Crop != nil {
		next := st
		next.Crop = nil
		p.ClearCrop = href(self, next.values(20))
	}
	if e := s.engage; e != nil {
		for _, rk := range []string{"visual", "hybrid"} {
			next := st
			next.Rank = rk
			p.Ranks = append(p.Ranks, link{rk, href(self, next.values(20)), st.Rank == rk})
		}
		switch {
		case st.Crop != nil:
			// The hybrid ranking is of whole pins: a crop is ranked visually, and the toggle says so.
			p.Ranks[0].On, p.Ranks[1].On = true, false
			p.RankNote = "The hybrid ranking applies to whole pins: a cropped part is ranked by looks alone."
		case st.Rank == "hybrid":
			p.RankNote = fmt.Sprintf("Hybrid: looks first, lifted by what people saved together with this pin (at most %.2f of the 0-1 visual score).", DefaultMaxLift)
		}
		p.Engage = e.view(r, id)
	}
	if personal != "" {
		p.RankNote = personal
		markPersonal(p.Results, near)
	}
	p.Far = st.Crop != nil && s.far(res)
	p.Hidden = hidden
	if s.cfg.collapse != nil {
		next := st
		next.ShowDupes = !st.ShowDupes
		p.ShowDupes = link{"show them", href(self, next.values(20)), st.ShowDupes}
	}
	s.render(w, http.StatusOK, "item", p)
}

// metaRows are an item's metadata for the page, sorted by key: the size in KB, the time as a
// date; the file path on the server is left out.
func metaRows(meta map[string]string) []link {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != "path" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]link, 0, len(keys))
	for _, k := range keys {
		v := meta[k]
		switch k {
		case "size":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				v = fmt.Sprintf("%.1f KB", float64(n)/1024)
			}
		case "mtime":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				v = time.Unix(0, n).UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		out = append(out, link{Label: k, Href: v})
	}
	return out
}

// preview is img (its crop, if any) scaled to fit 480x480, as a JPEG data: URL.
func preview(img image.Image, crop *pinrec.Rect) template.URL {
	b := img.Bounds()
	if crop != nil {
		b = image.Rect(crop.X, crop.Y, crop.X+crop.W, crop.Y+crop.H).Add(b.Min).Intersect(b)
	}
	scale := min(1, 480/float64(max(b.Dx(), b.Dy())))
	w, h := max(1, int(float64(b.Dx())*scale+0.5)), max(1, int(float64(b.Dy())*scale+0.5))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}); err != nil {
		return ""
	}
	return template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// why is what lifted a hybrid result, in words: its co-saves with the query, else its saves.
func why(r hit) string {
	switch {
	case r.CoSaves == 1:
		return "1 person saved both"
	case r.CoSaves > 1:
		return fmt.Sprintf("%d people saved both", r.CoSaves)
	case r.Saves == 1:
		return "1 save"
	case r.Saves > 1:
		return fmt.Sprintf("%d saves", r.Saves)
	}
	return ""
}
