package web

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"pinrec"
	"pinrec/engage"
)

// state is what a page or API call asks for, all of it from the URL (or the upload form), so
// that every page can be shared as a link.
type state struct {
	K     int
	Cats  []string     // keep only these categories; none: all
	Dedup float64      // hide results nearer to the query than this; 0: show all
	Crop  *pinrec.Rect // embed this part of the query image; nil: all of it
	Rank  string       // "visual" (default) or "hybrid" (with an Engagement)
	// ShowDupes (dupes=show) lists the near-duplicates that WithNearDuplicates hides.
	ShowDupes bool
}

// httpError is an error with the status code it answers.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

// parseState reads k, cat, dedup, dupes, crop and rank from v. defaultK applies when k is absent.
func (s *Server) parseState(v url.Values, defaultK int) (state, error) {
	st := state{K: defaultK, Rank: "visual"}
	if k := v.Get("k"); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > s.cfg.maxK {
			return st, fail(http.StatusBadRequest, "k=%q: want a whole number from 1 to %d", k, s.cfg.maxK)
		}
		st.K = n
	}
	for _, c := range v["cat"] {
		if !slices.Contains(st.Cats, c) {
			st.Cats = append(st.Cats, c)
		}
	}
	slices.Sort(st.Cats)
	if d := v.Get("dedup"); d != "" {
		f, err := strconv.ParseFloat(d, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return st, fail(http.StatusBadRequest, "dedup=%q: want a distance of 0 or more", d)
		}
		st.Dedup = f
	}
	switch d := v.Get("dupes"); d {
	case "", "hide":
	case "show":
		st.ShowDupes = true
	default:
		return st, fail(http.StatusBadRequest, "dupes=%q: want hide or show", d)
	}
	if c := v.Get("crop"); c != "" {
		r, err := pinrec.ParseRect(c)
		if err != nil {
			return st, fail(http.StatusBadRequest, "crop=%q: %v", c, err)
		}
		st.Crop = &r
	}
	switch r := v.Get("rank"); r {
	case "", "visual":
	case "hybrid":
		if s.engage == nil {
			return st, fail(http.StatusBadRequest, "rank=hybrid: this server has no engagement data")
		}
		st.Rank = r
	default:
		return st, fail(http.StatusBadRequest, "rank=%q: want visual or hybrid", r)
	}
	return st, nil
}

// cropString is a crop as the URL writes it, "" for none.
func cropString(r *pinrec.Rect) string {
	if r == nil {
		return ""
	}
	return r.String()
}

// options are the store's search options for the state: the category filter, and leaving out
// the pin self and its region items (for a crop of an indexed pin) when self is not "".
func (s *Server) options(st state, self string) []pinrec.SearchOption {
	if len(st.Cats) == 0 && self == "" {
		return nil
	}
	cats := st.Cats
	return []pinrec.SearchOption{pinrec.WithFilter(func(id string, meta map[string]string) bool {
		if self != "" {
			if p, ok := pinrec.IsRegion(meta); id == self || ok && p == self {
				return false
			}
		}
		return len(cats) == 0 || slices.Contains(cats, categoryOf(id, meta))
	})}
}

// maxFetch bounds how many results a near-duplicate-hiding search asks the store for.
const maxFetch = 4096

// Collapser hides near-duplicates in a result list, best first: it returns the results to
// show and how many it hid (the pages say "N similar hidden", answers carry "hidden"). It
// must be safe for concurrent use. Package pinrec/dupes provides one with a calibrated
// threshold.
type Collapser func(ctx context.Context, results []pinrec.Result) (kept []pinrec.Result, hidden int, err error)

// collapsed runs search for st.K results (dedupSearch) and, with a Collapser, for more, so
// that st.K remain once near-duplicates are hidden (when the store has as many): first for
// k+k/4+4 (enough unless more than k/4+4 of them are hidden), then, when fewer than k
// remain, for 2k+8. (Asking an approximate index for fewer results costs less: its beam and
// its exact re-rank grow with the results asked.) The count hidden is of the results fetched.
func (s *Server) collapsed(ctx context.Context, st state, search func(k int) ([]hit, error)) ([]hit, int, error) {
	c := s.cfg.collapse
	if c == nil || st.ShowDupes {
		res, err := dedupSearch(st, search)
		return res, 0, err
	}
	want := st.K
	for _, fetch := range []int{want + want/4 + 4, 2*want + 8} {
		st.K = min(fetch, maxFetch)
		res, err := dedupSearch(st, search)
		if err != nil {
			return nil, 0, err
		}
		plain := make([]pinrec.Result, len(res))
		byID := make(map[string]hit, len(res))
		for i, r := range res {
			plain[i] = r.Result
			byID[r.ID] = r
		}
		kept, hidden, err := c(ctx, plain)
		if err != nil {
			return nil, 0, err
		}
		if len(kept) < want && len(res) == st.K && st.K < min(2*want+8, maxFetch) {
			continue // too many hidden: the store may have more
		}
		out := make([]hit, 0, min(len(kept), want))
		for _, r := range kept[:min(len(kept), want)] {
			out = append(out, byID[r.ID])
		}
		return out, hidden, nil
	}
	panic("unreachable: the second fetch returns")
}

// hit is one result of a page or API answer: the visual result and, for rank=hybrid, the
// components of its hybrid score.
type hit = engage.Result

// visual wraps a visual search's results as hits without engagement scores.
func visual(search func(k int) ([]pinrec.Result, error)) func(k int) ([]engage.Result, error) {
	return func(k int) ([]engage.Result, error) {
		res, err := search(k)
		out := make([]engage.Result, len(res))
		for i, r := range res {
			out[i] = engage.Result{Result: r}
		}
		return out, err
	}
}

// dedupSearch runs search for k results, or, when st.Dedup is set, for more until k remain
// after leaving out those nearer than st.Dedup (or the store has no more).
func dedupSearch(st state, search func(k int) ([]engage.Result, error)) ([]engage.Result, error) {
	if st.Dedup <= 0 {
		return search(st.K)
	}
	fetch := st.K + 8
	for {
		res, err := search(fetch)
		if err != nil {
			return nil, err
		}
		kept := res[:0:0]
		for _, r := range res {
			if float64(r.Distance) >= st.Dedup {
				kept = append(kept, r)
			}
		}
		if len(kept) >= st.K || len(res) < fetch || fetch >= maxFetch {
			return kept[:min(len(kept), st.K)], nil
		}
		fetch = min(fetch*4, maxFetch)
	}
}

// similar answers "more like this" for an indexed item: its stored vector, the hybrid ranking,
// or, with a crop, the embedded crop of its image.
func (s *Server) similar(ctx context.Context, id string, st state) ([]engage.Result, int, error) {
	it, err := s.store.Get(id)
	if err != nil {
		return nil, 0, s.notFound(id, err)
	}
	if st.Crop != nil {
		file := s.cfg.locate(id, it.Meta)
		if file == "" {
			return nil, 0, fail(http.StatusNotFound, "item %q has no image file to crop", id)
		}
		release, err := s.slot(ctx)
		if err != nil {
			return nil, 0, err
		}
		defer release()
		vec, err := s.embedQuery(ctx, st.Crop, func() (image.Image, error) {
			img, err := pinrec.DecodeFile(file, pinrec.WithMaxPixels(s.cfg.maxPixels))
			if err != nil {
				return nil, fmt.Errorf("image of %q cannot be read: %w", id, err)
			}
			return img, nil
		})
		if err != nil {
			return nil, 0, err
		}
		opts := s.options(st, id)
		return s.collapsed(ctx, st, visual(func(k int) ([]pinrec.Result, error) { return pinrec.SearchPins(ctx, s.store, vec, k, opts...) }))
	}
	opts := s.options(st, "")
	if st.Rank == "hybrid" {
		return s.collapsed(ctx, st, func(k int) ([]engage.Result, error) {
			return s.engage.similar(ctx, id, k, opts...)
		})
	}
	return s.collapsed(ctx, st, visual(func(k int) ([]pinrec.Result, error) { return s.similarPins(ctx, id, k, opts...) }))
}

// similarPins is [pinrec.SimilarPins], which asks the store for a quarter more results than k,
// room for region items to fold into their pins. Over a store that held no region items when
// the server was made it asks for k (an approximate index then re-ranks fewer candidates),
// and falls back to SimilarPins should a region item be among them.
func (s *Server) similarPins(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	if !s.regions {
		res, err := s.store.Similar(ctx, id, k, opts...)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(res, func(r pinrec.Result) bool { _, ok := pinrec.IsRegion(r.Meta); return ok }) {
			return res, nil
		}
	}
	return pinrec.SimilarPins(ctx, s.store, id, k, opts...)
}

// slot waits for one of the server's query slots (WithConcurrentQueries) and returns its
// release; an upload takes it before it reads its body, so waiting uploads hold no memory.
func (s *Server) slot(ctx context.Context) (release func(), err error) {
	if s.cfg.embedder == nil {
		return nil, fail(http.StatusNotImplemented, "%v", errNoEmbedder)
	}
	select {
	case s.queries <- struct{}{}:
		return func() { <-s.queries }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// embedQuery decodes (with decode) and embeds a query image, or its crop; the caller holds a
// query slot.
func (s *Server) embedQuery(ctx context.Context, crop *pinrec.Rect, decode func() (image.Image, error)) ([]float32, error) {
	if s.cfg.embedder == nil {
		return nil, fail(http.StatusNotImplemented, "%v", errNoEmbedder)
	}
	img, err := decode()
	if err != nil {
		return nil, err
	}
	if crop != nil {
		b := img.Bounds()
		if err := crop.In(b.Dx(), b.Dy()); err != nil {
			return nil, fail(http.StatusBadRequest, "crop: %v", err)
		}
	}
	return cropEmbed(ctx, s.cfg.embedder, img, crop)
}

// notFound is the answer for an ID the store does not hold (or cannot read).
func (s *Server) notFound(id string, err error) error {
	if errors.Is(err, pinrec.ErrNotFound) || err == nil {
		return fail(http.StatusNotFound, "no item %q in the index", id)
	}
	return err
}

// status is the HTTP status for err and the message to show.
func status(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.Is(err, pinrec.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, pinrec.ErrBadK), errors.Is(err, pinrec.ErrBadRect):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, pinrec.ErrUnsupportedFormat), errors.Is(err, pinrec.ErrTooLarge), errors.Is(err, pinrec.ErrCorruptImage):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the request ended before its answer: " + err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}
