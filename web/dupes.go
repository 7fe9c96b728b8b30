package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"pinrec/dupes"
)

// The duplicates page, GET /dupes: the collection's near-duplicate groups, largest first, then
// its exact duplicates, with how the threshold was chosen (package pinrec/dupes). ?threshold=D
// groups at a given distance instead of the calibrated one; ?page=N pages through the groups.
//
// The calibrated report is computed once, at the first request, and kept (the server's list of
// pins is fixed at New too); a report at a given threshold is computed per request, holding one
// of the server's query slots, so that visitors cannot run more self-joins at once than there
// are slots.

// dupesPerPage is how many groups one page of /dupes shows.
const dupesPerPage = 30

// dupesCache holds the calibrated report.
type dupesCache struct {
	once sync.Once
	rep  *dupes.Report
	err  error
}

// dupesGroup is one group on the page.
type dupesGroup struct {
	Title string
	Pins  []pinView // the representative first; Distance is to it
	Exact []string  // per pin: "same bytes", "same vector" or ""
}

type dupesPage struct {
	base
	Near, Exact       int // groups in all
	NearPins          int
	Groups            []dupesGroup
	Threshold         string
	Rule, Explanation string
	Given             bool
	Page, Pages       int
	Prev, Next        string
}

func (s *Server) dupesReport(ctx context.Context, threshold string) (*dupes.Report, error) {
	if threshold == "" || threshold == "auto" {
		s.dupes.once.Do(func() { s.dupes.rep, s.dupes.err = dupes.Find(context.WithoutCancel(ctx), s.store) })
		return s.dupes.rep, s.dupes.err
	}
	t, err := strconv.ParseFloat(threshold, 32)
	if err != nil || !(t >= 0) || t > 1e30 {
		return nil, fail(http.StatusBadRequest, "threshold=%q: want auto or a distance of 0 or more", threshold)
	}
	select {
	case s.queries <- struct{}{}:
		defer func() { <-s.queries }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return dupes.Find(ctx, s.store, dupes.WithThreshold(float32(t)))
}

func (s *Server) handleDupes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	threshold := q.Get("threshold")
	rep, err := s.dupesReport(r.Context(), threshold)
	if err != nil {
		s.pageError(w, err)
		return
	}
	all := make([]dupesGroup, 0, len(rep.Near)+len(rep.Exact))
	for i, g := range rep.Near {
		all = append(all, s.dupesGroup("Near-duplicates "+strconv.Itoa(i+1), g))
	}
	for i, g := range rep.Exact {
		all = append(all, s.dupesGroup("Exact duplicates "+strconv.Itoa(i+1), g))
	}
	pages := max(1, (len(all)+dupesPerPage-1)/dupesPerPage)
	pg, err := intParam(q, "page", 1, 1, pages)
	if err != nil {
		s.pageError(w, err)
		return
	}
	p := dupesPage{base: base{Title: "Duplicates", Info: s.info}, Near: len(rep.Near), Exact: len(rep.Exact),
		Groups:    all[(pg-1)*dupesPerPage : min(pg*dupesPerPage, len(all))],
		Threshold: strconv.FormatFloat(float64(rep.Calibration.Threshold), 'g', 4, 32),
		Rule:      rep.Calibration.Rule, Explanation: rep.Calibration.Explanation,
		Given: rep.Calibration.Rule == dupes.RuleGiven, Page: pg, Pages: pages}
	for _, g := range rep.Near {
		p.NearPins += len(g.Members)
	}
	link := func(n int) string {
		v := url.Values{}
		if threshold != "" {
			v.Set("threshold", threshold)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		return href("/dupes", v)
	}
	if pg > 1 {
		p.Prev = link(pg - 1)
	}
	if pg < pages {
		p.Next = link(pg + 1)
	}
	s.render(w, http.StatusOK, "dupes", p)
}

func (s *Server) dupesGroup(title string, g dupes.Group) dupesGroup {
	out := dupesGroup{Title: title}
	for i, m := range g.Members {
		v := s.pin(m.ID)
		v.Distance, v.Ranked, v.Rank = m.Distance, i > 0, i+1
		out.Pins = append(out.Pins, v)
		out.Exact = append(out.Exact, m.Exact)
	}
	return out
}
