package foryou

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"pinrec"
)

// Ranked is one answer of personalised "more like this": the visual hit and the components
// of its score.
type Ranked struct {
	pinrec.Result
	Score    float64 `json:"score"`    // (1-β)·visual + β·personal
	Visual   float64 `json:"visual"`   // v, in [0, 1]
	Personal float64 `json:"personal"` // p, in [0, 1]; 0 for a user without interests
	// Interest is the medoid of the user's interest nearest the item ("" without
	// interests), at InterestDistance.
	Interest         string  `json:"interest,omitempty"`
	InterestDistance float64 `json:"interest_distance,omitempty"`
}

// Similarities is a personalised "more like this" answer.
type Similarities struct {
	Query string `json:"query"`
	User  string `json:"user"`
	// Personalised is false when the user has no interests: the order is then visual.
	Personalised bool     `json:"personalised"`
	Blend        float64  `json:"blend"`
	Results      []Ranked `json:"results"`
}

// Similar returns the k items most like the item id for the user, best first: the C
// ([WithCandidates]) visual neighbours of id (pins, each once) re-ranked by
//
//	score_i = (1-β)·v_i + β·p_i
//	v_i = clamp((d_C - d_i) / (d_C - d_1), 0, 1)     d_i: distance to the query item
//	p_i = clamp((u_max - u_i) / (u_max - u_min), 0, 1)  u_i = min_j ||x_i - medoid_j||
//
// v is the visual similarity normalised over the candidates as the hybrid ranking of package
// engage does (1 for the nearest, 0 for the C-th); u_i is the distance from the candidate to
// the nearest medoid among the user's [WithBlendInterests] most important interests, and p
// normalises it over the candidates (1 for the candidate closest to the user's interests, 0
// for the farthest). β is [WithBlend]. Ties go to the smaller distance. For a user without
// interests p = 0 and the order is visual. Items the user engaged with are not left out.
func (m *Model) Similar(ctx context.Context, user, id string, k int, opts ...Option) (*Similarities, error) {
	cfg := m.callConfig(opts)
	st, err := m.state(ctx, user, cfg)
	if err != nil {
		return nil, err
	}
	ans := &Similarities{Query: id, User: user, Blend: cfg.blend, Results: []Ranked{}}
	if k <= 0 {
		return ans, nil
	}
	c := max(cfg.candidates, k)
	visual, err := pinrec.SimilarPins(ctx, m.store, id, c, cfg.search...)
	if err != nil {
		return nil, fmt.Errorf("foryou: similar %s: %w", id, err)
	}
	return m.rerank(ctx, st, ans, visual, k, cfg)
}

// Rerank is [Model.Similar] for candidates found elsewhere: visual holds the query item's
// candidates nearest first, as a search returns them (a page's own filtered search, say),
// and the answer re-ranks them for the user with the same formula. query only names the
// answer.
func (m *Model) Rerank(ctx context.Context, user, query string, visual []pinrec.Result, k int, opts ...Option) (*Similarities, error) {
	cfg := m.callConfig(opts)
	st, err := m.state(ctx, user, cfg)
	if err != nil {
		return nil, err
	}
	ans := &Similarities{Query: query, User: user, Blend: cfg.blend, Results: []Ranked{}}
	if k <= 0 {
		return ans, nil
	}
	return m.rerank(ctx, st, ans, visual, k, cfg)
}

func (m *Model) rerank(ctx context.Context, st *state, ans *Similarities, visual []pinrec.Result, k int, cfg config) (*Similarities, error) {
	id := ans.Query
	interests := st.interests(cfg)
	interests = interests[:min(len(interests), cfg.blendInterests)]
	ans.Personalised = len(interests) > 0
	cands := make([]Ranked, len(visual))
	var d1, dC float64
	if len(visual) > 0 {
		d1, dC = float64(visual[0].Distance), float64(visual[len(visual)-1].Distance)
	}
	uMin, uMax := math.Inf(1), math.Inf(-1)
	for i, v := range visual {
		r := Ranked{Result: v}
		d := float64(v.Distance)
		switch {
		case dC > d1:
			r.Visual = math.Min(math.Max((dC-d)/(dC-d1), 0), 1)
		default:
			r.Visual = 1
		}
		if ans.Personalised {
			it, err := m.store.Get(v.ID)
			if err != nil && !errors.Is(err, pinrec.ErrNotFound) {
				return nil, fmt.Errorf("foryou: similar %s: %w", id, err)
			}
			r.InterestDistance = math.Inf(1)
			for _, in := range interests {
				mc := st.clusterOf(in.Medoid)
				if err != nil || len(it.Vector) != len(mc.medoidVec) {
					continue
				}
				if u := dist(it.Vector, mc.medoidVec); u < r.InterestDistance {
					r.InterestDistance, r.Interest = u, in.Medoid
				}
			}
			if !math.IsInf(r.InterestDistance, 1) {
				uMin, uMax = math.Min(uMin, r.InterestDistance), math.Max(uMax, r.InterestDistance)
			}
		}
		cands[i] = r
	}
	for i := range cands {
		r := &cands[i]
		if ans.Personalised && r.Interest != "" {
			if uMax > uMin {
				r.Personal = math.Min(math.Max((uMax-r.InterestDistance)/(uMax-uMin), 0), 1)
			} else {
				r.Personal = 1
			}
		} else {
			r.InterestDistance = 0
		}
		beta := cfg.blend
		if !ans.Personalised {
			beta = 0
		}
		r.Score = (1-beta)*r.Visual + beta*r.Personal
	}
	slices.SortStableFunc(cands, func(a, b Ranked) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.Distance, b.Distance)
	})
	ans.Results = cands[:min(k, len(cands))]
	return ans, nil
}
