package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// params are the simulation's knobs; all printed by the benchmark.
type params struct {
	Seed          uint64
	Users         int
	Looks         int     // visible looks: items grouped by their nearest of Looks random prototype items (pixel embedding)
	Styles        int     // hidden styles, assigned to items at random, independent of pixels
	TasteLooks    int     // preferred looks per user
	TasteStyles   int     // preferred styles per user
	OffTaste      float64 // weight of an item outside the user's looks
	StyleBoost    float64 // weight multiplier of an item in one of the user's styles
	PopSigma      float64 // item popularity = exp(PopSigma * N(0,1))
	PopBiasMin    float64 // user popularity exponent beta_u ~ U(PopBiasMin, PopBiasMax)
	PopBiasMax    float64
	MinEngaged    int // engagements per user ~ U[MinEngaged, MaxEngaged]
	MaxEngaged    int
	SaveAlpha     float64 // item save propensity s_i ~ Beta(SaveAlpha, SaveBeta): an engagement is a save with prob s_i, else a like
	SaveBeta      float64
	ColdShare     float64 // share of items that are new: all their events are held out
	HoldOut       float64 // share of each user's saves (of other items) held out
	QueriesPerUse int     // query pins per user and split
}

func (p params) print(w io.Writer) {
	fmt.Fprintf(w, "sim_seed=%d\nsim_users=%d\nsim_visible_looks=%d\nsim_hidden_styles=%d\nsim_taste_looks=%d\nsim_taste_styles=%d\n",
		p.Seed, p.Users, p.Looks, p.Styles, p.TasteLooks, p.TasteStyles)
	fmt.Fprintf(w, "sim_off_taste_weight=%g\nsim_style_boost=%g\nsim_popularity_sigma=%g\nsim_popularity_bias=U(%g,%g)\n",
		p.OffTaste, p.StyleBoost, p.PopSigma, p.PopBiasMin, p.PopBiasMax)
	fmt.Fprintf(w, "sim_engagements_per_user=U[%d,%d]\nsim_save_propensity=Beta(%g,%g)\nsim_cold_item_share=%g\nsim_holdout_share=%g\nsim_queries_per_user=%d\n",
		p.MinEngaged, p.MaxEngaged, p.SaveAlpha, p.SaveBeta, p.ColdShare, p.HoldOut, p.QueriesPerUse)
}

// engagement is one simulated (user, item) interaction.
type engagement struct {
	item int
	save bool
}

// user is a simulated user: taste, engagements, and the split of its saves.
type user struct {
	name    string
	looks   []int
	styles  []int
	beta    float64
	engaged []engagement
	train   []int // saves recorded in the store
	likes   []int // likes recorded in the store
	heldOut []int // saves held out (targets), including all saves of cold items
	tune    bool  // in the tuning split (else the evaluation split)
}

// world is the simulated population over the indexed items.
type world struct {
	p      params
	ids    []string
	look   []int
	style  []int
	pop    []float64
	save   []float64
	cold   []bool
	users  []*user
	cats   []string
	byName map[string]int
}

// category returns the item's class folder: the part of its ID before the first slash.
func category(id string) string {
	c, _, _ := strings.Cut(id, "/")
	return c
}

// simulate draws the world. vec returns an item's embedding: looks are the items' nearest
// prototypes, so a user's taste in looks is something visual similarity can see.
func simulate(p params, ids []string, vec func(i int) []float32) *world {
	r := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	w := &world{p: p, ids: ids, byName: map[string]int{}}
	protos := r.Perm(len(ids))[:p.Looks]
	for i, id := range ids {
		w.cats = append(w.cats, category(id))
		best, bestD := 0, math.Inf(1)
		v := vec(i)
		for l, pi := range protos {
			if d := sqDist(v, vec(pi)); d < bestD {
				best, bestD = l, d
			}
		}
		w.look = append(w.look, best)
		w.style = append(w.style, r.IntN(p.Styles))
		w.pop = append(w.pop, math.Exp(p.PopSigma*r.NormFloat64()))
		w.save = append(w.save, betaSample(r, p.SaveAlpha, p.SaveBeta))
		w.cold = append(w.cold, r.Float64() < p.ColdShare)
		w.byName[id] = i
	}
	keys := make([]float64, len(ids))
	order := make([]int, len(ids))
	for u := range p.Users {
		us := &user{
			name:   fmt.Sprintf("user%04d", u),
			looks:  r.Perm(p.Looks)[:min(p.TasteLooks, p.Looks)],
			styles: r.Perm(p.Styles)[:min(p.TasteStyles, p.Styles)],
			beta:   p.PopBiasMin + (p.PopBiasMax-p.PopBiasMin)*r.Float64(),
			tune:   r.IntN(2) == 0,
		}
		n := p.MinEngaged + r.IntN(p.MaxEngaged-p.MinEngaged+1)
		// Weighted sampling without replacement (Efraimidis-Spirakis): the n largest
		// log(U)/w_i.
		for i := range ids {
			wt := p.OffTaste
			if slices.Contains(us.looks, w.look[i]) {
				wt = 1
			}
			if slices.Contains(us.styles, w.style[i]) {
				wt *= p.StyleBoost
			}
			wt *= math.Pow(w.pop[i], us.beta)
			keys[i] = math.Log(1-r.Float64()) / wt
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int {
			if keys[a] != keys[b] {
				if keys[a] > keys[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		for _, i := range order[:n] {
			e := engagement{item: i, save: r.Float64() < w.save[i]}
			us.engaged = append(us.engaged, e)
		}
		// The split: cold items' saves are all held out; of the others, HoldOut of them (at
		// least one when the user has two or more).
		var warm []int
		for _, e := range us.engaged {
			switch {
			case !e.save && !w.cold[e.item]:
				us.likes = append(us.likes, e.item)
			case e.save && w.cold[e.item]:
				us.heldOut = append(us.heldOut, e.item)
			case e.save:
				warm = append(warm, e.item)
			}
		}
		r.Shuffle(len(warm), func(i, j int) { warm[i], warm[j] = warm[j], warm[i] })
		h := int(math.Round(p.HoldOut * float64(len(warm))))
		if h == 0 && len(warm) >= 2 {
			h = 1
		}
		us.heldOut = append(us.heldOut, warm[:h]...)
		us.train = warm[h:]
		w.users = append(w.users, us)
	}
	return w
}

func sqDist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

// betaSample draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func betaSample(r *rand.Rand, a, b float64) float64 {
	x, y := gammaSample(r, a), gammaSample(r, b)
	return x / (x + y)
}

// gammaSample draws from Gamma(k, 1) by Marsaglia and Tsang's method (k >= 1).
func gammaSample(r *rand.Rand, k float64) float64 {
	if k < 1 {
		return gammaSample(r, k+1) * math.Pow(r.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}
