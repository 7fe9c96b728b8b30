package engage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"pinrec"
)

// Signals is what a [Ranker] reads about engagement. [*Store] implements it; a caller may
// wrap it (a cache, a snapshot).
type Signals interface {
	ItemCounts(ctx context.Context, ids ...string) (map[string]Counts, error)
	CoSaved(ctx context.Context, id string, limit int) ([]CoItem, error)
	Summary(ctx context.Context) (Summary, error)
}

var _ Signals = (*Store)(nil)

// Weights are the blend's weights (see [Ranker.Similar]).
type Weights struct {
	Visual       float64 `json:"visual"`
	Engagement   float64 `json:"engagement"`
	CoEngagement float64 `json:"co_engagement"`
}

// DefaultWeights are the weights chosen on the tuning split of make bench-hybrid's
// simulation (README, "Likes, saves and hybrid ranking"): the grid point with the best
// recall@10 there, with [DefaultPriorSaves] and [DefaultPriorCo]. They are fitted to
// simulated users, not real ones: re-tune on real engagement when there is some. In that
// simulation the save-rate term e did not help (its tuned weight is 0; it is still computed
// and reported), and the heavy smoothing makes c mostly the item's popularity.
func DefaultWeights() Weights { return Weights{Visual: 1, Engagement: 0, CoEngagement: 100} }

// Defaults of the ranking options.
const (
	DefaultCandidates   = 300   // visual candidates C
	DefaultCoCandidates = 300   // co-saved candidates M
	DefaultPriorSaves   = 200.0 // a_e: pseudo-users at the prior save rate
	DefaultPriorCo      = 200.0 // a_c: pseudo-savers of the query at the item's base rate
)

// RankOption configures a [Ranker] or one [Ranker.Similar] call.
type RankOption func(*rankConfig)

type rankConfig struct {
	weights      Weights
	candidates   int
	coCandidates int
	priorSaves   float64
	priorCo      float64
	maxLift      float64
	search       []pinrec.SearchOption
}

// WithWeights sets the blend's weights (default [DefaultWeights]). Weights{Visual: 1} ranks
// by visual similarity alone.
func WithWeights(w Weights) RankOption { return func(c *rankConfig) { c.weights = w } }

// WithCandidates sets C, the number of visual neighbours scored (default
// [DefaultCandidates]); values below k mean k.
func WithCandidates(n int) RankOption { return func(c *rankConfig) { c.candidates = n } }

// WithCoCandidates sets M, the number of co-saved items of the query added to the candidates
// (default [DefaultCoCandidates]; 0 adds none, and the visual candidates still get their
// co-save scores).
func WithCoCandidates(n int) RankOption { return func(c *rankConfig) { c.coCandidates = n } }

// WithPriors sets the smoothing strengths a_e (engagement rate) and a_c (co-save rate);
// defaults [DefaultPriorSaves] and [DefaultPriorCo]. Negative values mean 0.
func WithPriors(saves, co float64) RankOption {
	return func(c *rankConfig) { c.priorSaves, c.priorCo = max(saves, 0), max(co, 0) }
}

// WithMaxLift bounds how far engagement can lift an item: its engagement terms add at most
// lift to its score beyond what the same item would score without any engagement
// (w_e*p + w_c*0). With the visual weight w_v, an item then never passes one whose visual
// similarity v is more than lift/w_v higher, however many saves it gets: an item visually
// far from the query (v = 0 past the C-th neighbour) cannot be pushed to the top by stuffing
// saves. The default, +Inf, leaves the blend unbounded; negative values mean 0 (engagement
// only breaks ties and lowers scores), NaN means the default.
func WithMaxLift(lift float64) RankOption {
	return func(c *rankConfig) {
		if !math.IsNaN(lift) {
			c.maxLift = max(lift, 0)
		}
	}
}

// WithSearch passes search options (a filter, a metadata match) to the candidate search;
// co-saved candidates must pass them too.
func WithSearch(opts ...pinrec.SearchOption) RankOption {
	return func(c *rankConfig) { c.search = append(slices.Clip(c.search), opts...) }
}

// Result is one hybrid answer: the visual hit (ID, distance, metadata) and the components of
// its score.
type Result struct {
	pinrec.Result
	Score        float64 `json:"score"`         // the blend
	Visual       float64 `json:"visual"`        // v, in [0, 1]
	Engagement   float64 `json:"engagement"`    // e, smoothed save rate
	CoEngagement float64 `json:"co_engagement"` // c, smoothed co-save rate with the query
	Saves        int     `json:"saves"`         // users who saved the item
	Users        int     `json:"users"`         // users who liked or saved it
	CoSaves      int     `json:"co_saves"`      // users who saved both it and the query
}

// Ranker re-ranks "more like this" answers of any [pinrec.Searcher] with engagement.
// It is safe for concurrent use when its Searcher and Signals are.
type Ranker struct {
	searcher pinrec.Searcher
	signals  Signals
	cfg      rankConfig
}

// NewRanker returns a Ranker over searcher and signals (a nil signals ranks by visual
// similarity alone, every item being without engagement).
func NewRanker(searcher pinrec.Searcher, signals Signals, opts ...RankOption) (*Ranker, error) {
	if searcher == nil {
		return nil, errors.New("engage: NewRanker: nil searcher")
	}
	r := &Ranker{searcher: searcher, signals: signals, cfg: rankConfig{
		weights:      DefaultWeights(),
		candidates:   DefaultCandidates,
		coCandidates: DefaultCoCandidates,
		priorSaves:   DefaultPriorSaves,
		priorCo:      DefaultPriorCo,
		maxLift:      math.Inf(1),
	}}
	r.cfg.apply(opts)
	return r, nil
}

func (c *rankConfig) apply(opts []RankOption) {
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
}

// vectorGetter is the part of [pinrec.Store] the ranker uses to measure co-saved items.
type vectorGetter interface {
	Get(id string) (pinrec.Item, error)
}

// Similar returns the k items that rank highest for the item id, best first; opts override
// the Ranker's options for this call. The query item never comes back.
//
// Candidates: the C visual neighbours of id (Searcher.Similar) and up to M items co-saved
// with it; a co-saved item's distance is measured from the vectors when the Searcher has a
// Get method (as every pinrec.Store does), else by a search restricted to those items. Each
// candidate i with distance d_i scores
//
//	score_i = w_v*v_i + w_e*e_i + w_c*c_i
//	v_i = clamp((d_C - d_i) / (d_C - d_1), 0, 1)       d_1, d_C: the nearest and the C-th visual distances
//	e_i = (saves_i + a_e*p) / (users_i + a_e)          p = all saves / all engaged (user, item) pairs
//	c_i = (co_qi + a_c*saves_i/U) / (saves_q + a_c)    U = users with a save; co_qi = users who saved q and i
//
// v is visual similarity normalised over the candidates (1 for the nearest, 0 from the C-th
// on). e is the share of the item's engaged users who saved it, pulled towards the overall
// share p by a_e pseudo-users, so one save on a new pin is not a jackpot. c estimates
// P(saves i | saved q), pulled towards the item's base rate saves_i/U by a_c pseudo-savers:
// for a query nobody saved it is the item's popularity. An item without engagement has e = p
// and c = 0, so such items keep their visual order among themselves. Ties go to the smaller
// distance, then keep the searcher's order (co-saved extras after the visual candidates,
// most co-saved first). The query's whole co-saved list is read: the top M become
// candidates, and every candidate's co-save count comes from it.
func (r *Ranker) Similar(ctx context.Context, id string, k int, opts ...RankOption) ([]Result, error) {
	cfg := r.cfg
	cfg.search = slices.Clip(cfg.search)
	cfg.apply(opts)
	if k <= 0 {
		return nil, nil
	}
	c := max(cfg.candidates, k)
	// Pins, not region items: on an index with regions (pinrec.PutPin) each pin comes once, at
	// its best region's distance, and the query's own regions are left out.
	visual, err := pinrec.SimilarPins(ctx, r.searcher, id, c, cfg.search...)
	if err != nil {
		return nil, fmt.Errorf("engage: similar %s: %w", id, err)
	}
	cands := make([]Result, 0, len(visual)+cfg.coCandidates)
	seen := make(map[string]bool, cap(cands))
	for _, v := range visual {
		cands = append(cands, Result{Result: v})
		seen[v.ID] = true
	}
	var sum Summary
	var counts map[string]Counts
	coSaves := map[string]int{}
	if r.signals != nil {
		if sum, err = r.signals.Summary(ctx); err != nil {
			return nil, err
		}
		var co []CoItem
		if sum.Saves > 0 {
			// All of them: the visual candidates need their counts too.
			if co, err = r.signals.CoSaved(ctx, id, 0); err != nil {
				return nil, err
			}
		}
		var extra []string
		for _, ci := range co {
			coSaves[ci.ID] = ci.Users
			if len(extra) < cfg.coCandidates && !seen[ci.ID] && ci.ID != id {
				extra = append(extra, ci.ID)
			}
		}
		more, err := r.measure(ctx, id, extra, cfg.search)
		if err != nil {
			return nil, err
		}
		for _, m := range more {
			if !seen[m.ID] {
				cands = append(cands, Result{Result: m})
				seen[m.ID] = true
			}
		}
		ids := make([]string, 0, len(cands)+1)
		for _, c := range cands {
			ids = append(ids, c.ID)
		}
		if counts, err = r.signals.ItemCounts(ctx, append(ids, id)...); err != nil {
			return nil, err
		}
	}
	score(cands, visual, counts, coSaves, counts[id].Saves, sum, cfg)
	slices.SortStableFunc(cands, func(a, b Result) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.Distance, b.Distance)
	})
	return cands[:min(k, len(cands))], nil
}

// score fills in the components and the score of each candidate.
func score(cands []Result, visual []pinrec.Result, counts map[string]Counts, coSaves map[string]int, querySaves int, sum Summary, cfg rankConfig) {
	var d1, dC float64
	if len(visual) > 0 {
		d1, dC = float64(visual[0].Distance), float64(visual[len(visual)-1].Distance)
	}
	p := 0.0
	if sum.Engaged > 0 {
		p = float64(sum.Saves) / float64(sum.Engaged)
	}
	w := cfg.weights
	for i := range cands {
		c := &cands[i]
		d := float64(c.Distance)
		switch {
		case dC > d1:
			c.Visual = math.Min(math.Max((dC-d)/(dC-d1), 0), 1)
		case d <= dC:
			c.Visual = 1
		}
		n := counts[c.ID]
		c.Saves, c.Users, c.CoSaves = n.Saves, n.Users, coSaves[c.ID]
		if cfg.priorSaves+float64(n.Users) > 0 {
			c.Engagement = (float64(n.Saves) + cfg.priorSaves*p) / (float64(n.Users) + cfg.priorSaves)
		}
		base := 0.0
		if sum.Savers > 0 {
			base = float64(n.Saves) / float64(sum.Savers)
		}
		if cfg.priorCo+float64(querySaves) > 0 {
			c.CoEngagement = (float64(c.CoSaves) + cfg.priorCo*base) / (float64(querySaves) + cfg.priorCo)
		}
		lift := w.Engagement*c.Engagement + w.CoEngagement*c.CoEngagement
		if cfg.maxLift < math.Inf(1) {
			lift = math.Min(lift, w.Engagement*p+cfg.maxLift) // WithMaxLift
		}
		c.Score = w.Visual*c.Visual + lift
	}
}

// measure returns the distance from the query item to each of ids that passes the search
// options (unknown IDs are left out).
func (r *Ranker) measure(ctx context.Context, query string, ids []string, opts []pinrec.SearchOption) ([]pinrec.Result, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	params := pinrec.NewSearchParams(opts...)
	if g, ok := r.searcher.(vectorGetter); ok {
		q, err := g.Get(query)
		if err != nil {
			return nil, fmt.Errorf("engage: similar %s: %w", query, err)
		}
		out := make([]pinrec.Result, 0, len(ids))
		for _, id := range ids {
			it, err := g.Get(id)
			if errors.Is(err, pinrec.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("engage: similar %s: %w", query, err)
			}
			if len(it.Vector) != len(q.Vector) || !params.Keep(id, it.Meta) {
				continue
			}
			out = append(out, pinrec.Result{ID: id, Distance: distance(q.Vector, it.Vector), Meta: it.Meta})
		}
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	outer := params.Filter
	restrict := pinrec.WithFilter(func(id string, meta map[string]string) bool {
		return want[id] && (outer == nil || outer(id, meta))
	})
	res, err := r.searcher.Similar(ctx, query, len(ids), append(slices.Clip(opts), restrict)...)
	if err != nil {
		return nil, fmt.Errorf("engage: similar %s: %w", query, err)
	}
	return res, nil
}

// distance is the Euclidean distance, accumulated in float64.
func distance(a, b []float32) float32 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return float32(math.Sqrt(s))
}
