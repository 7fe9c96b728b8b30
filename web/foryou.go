package web

import (
	"fmt"
	"net/http"
	"path"
	"strconv"

	"pinrec"
	"pinrec/engage"
	"pinrec/foryou"
)

// The "For you" page and the personalised item page (package pinrec/foryou), on when the
// server has an engagement store (WithEngagement): GET /foryou shows a feed built from the
// visitor's own likes and saves, each pin with the interest it came from, and the item page's
// "more like this" is re-ranked by closeness to the visitor's interests when the visitor has
// any (the visual ranking, whole pins; rank=hybrid and crops are left as they are).

// noVisitor is the user a visitor without a cookie is asked for: no signed visitor ID has
// this form (they all start with VisitorPrefix), so it has no events and gets the cold start.
const noVisitor = "anonymous"

// newForYou returns the Model over the server's store and engagement store.
func newForYou(store Store, st *engage.Store) (*foryou.Model, error) {
	return foryou.New(store, st)
}

// forYouPage is GET /foryou.
type forYouPage struct {
	base
	Cold      string    // why the feed is not personal ("" when it is)
	Items     int       // the visitor's items the interests were built from
	All       string    // "N interests"
	Interests []pinView // the drawn interests' medoids
	Results   []pinView
}

func (s *Server) handleForYou(w http.ResponseWriter, r *http.Request) {
	if s.engage == nil || s.foryou == nil {
		s.pageError(w, fail(http.StatusNotFound, "this server records no likes or saves, so there is no \"For you\" page"))
		return
	}
	k, err := intParam(r.URL.Query(), "k", 20, 1, s.cfg.maxK)
	if err != nil {
		s.pageError(w, err)
		return
	}
	user := s.engage.ids.visitor(r)
	if user == "" {
		user = noVisitor
	}
	feed, err := s.foryou.ForYou(r.Context(), user, k)
	if err != nil {
		s.pageError(w, err)
		return
	}
	p := forYouPage{base: base{Title: "For you", Info: s.info, K: k}, All: fmt.Sprintf("%d interests", feed.AllInterests)}
	if feed.AllInterests == 1 {
		p.All = "1 interest"
	}
	switch feed.ColdStart {
	case foryou.ColdPopular:
		p.Cold = "You have not liked or saved any pins yet: these are the most saved ones. Save a few and this page follows your taste."
	case foryou.ColdDiverse:
		p.Cold = "You have not liked or saved any pins yet: these are spread across the collection. Save a few and this page follows your taste."
	}
	if feed.ColdStart == "" {
		prof, err := s.foryou.Interests(r.Context(), user)
		if err == nil {
			p.Items = prof.Items
		}
	}
	for i, in := range feed.Interests {
		v := s.pin(in.Medoid)
		v.Why = fmt.Sprintf("interest %d: %d pins, importance %.2f", i+1, in.Size, in.Importance)
		p.Interests = append(p.Interests, v)
	}
	for i, res := range feed.Results {
		v := s.pin(res.ID)
		if v.Category == "" {
			v.Category = categoryOf(res.ID, res.Meta)
		}
		v.Rank, v.Region = i+1, cropString(res.Region)
		if res.Interest != nil {
			v.Distance, v.Ranked = res.Distance, true
			for j, in := range feed.Interests {
				if in.Medoid == res.Interest.Medoid {
					v.Why = "from interest " + strconv.Itoa(j+1) + " (" + path.Base(in.Medoid) + ")"
				}
			}
		}
		p.Results = append(p.Results, v)
	}
	s.render(w, http.StatusOK, "foryou", p)
}

// personalise re-ranks the item page's visual answer for a visitor with interests: the
// candidates are the page's own search (its filters hold) widened to foryou's candidate
// count, re-ranked by Model.Rerank. It returns res unchanged, and no note, when it does not
// apply or fails (the page then shows the visual order).
func (s *Server) personalise(r *http.Request, id string, st state, res []engage.Result) ([]engage.Result, string, map[string]string) {
	if s.engage == nil || s.foryou == nil || st.Crop != nil || st.Rank != "visual" {
		return res, "", nil
	}
	user := s.engage.ids.visitor(r)
	if user == "" {
		return res, "", nil
	}
	wide := st
	wide.K = max(st.K, foryou.DefaultCandidates)
	cands, _, err := s.similar(r.Context(), id, wide)
	if err != nil {
		return res, "", nil
	}
	visual := make([]pinrec.Result, len(cands))
	for i, c := range cands {
		visual[i] = c.Result
	}
	ans, err := s.foryou.Rerank(r.Context(), user, id, visual, st.K)
	if err != nil || !ans.Personalised {
		return res, "", nil
	}
	out := make([]engage.Result, len(ans.Results))
	near := map[string]string{}
	for i, a := range ans.Results {
		out[i] = engage.Result{Result: a.Result}
		if a.Interest != "" {
			near[a.ID] = "near your interest " + path.Base(a.Interest)
		}
	}
	note := fmt.Sprintf("Personalised for you: %.0f%% looks, %.0f%% closeness to your interests (from your likes and saves). Hybrid ranks without them.",
		100*(1-ans.Blend), 100*ans.Blend)
	return out, note, near
}

// markPersonal sets the Why of personalised results.
func markPersonal(pins []pinView, near map[string]string) {
	for i := range pins {
		if w, ok := near[pins[i].ID]; ok && pins[i].Why == "" {
			pins[i].Why = w
		}
	}
}
