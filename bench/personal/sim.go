package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// params are the simulation's knobs; all printed.
type params struct {
	Seed         uint64
	Users        int
	WarmDays     int     // days of history before the first evaluated day
	EvalDays     int     // evaluated days
	TuneDays     int     // of those, the days the cut is tuned on (tuning users only)
	PerDay       float64 // actions per user and day ~ Poisson(PerDay)
	Impulse      float64 // share of actions on an item drawn by popularity from the whole collection
	MinInterests int     // latent interests per user ~ U[MinInterests, MaxInterests]
	MaxInterests int
	Pool         int     // an interest's items: the Pool nearest neighbours of its anchor item
	Step         int     // a drift step moves the anchor to one of its Step nearest neighbours
	DriftP       float64 // per interest and day: probability of a drift step
	SwitchP      float64 // per interest and day: probability that it is replaced by a new one
	WeightNoise  float64 // interest weights: daily multiplicative noise exp(WeightNoise*N(0,1))
	SaveP        float64 // an action is a save with this probability, else a like
	PopSigma     float64 // item popularity exp(PopSigma*N(0,1))
	K            int     // candidates per method
}

func (p params) print(w io.Writer) {
	fmt.Fprintf(w, "sim_seed=%d\nsim_users=%d\nsim_days=%d warm + %d evaluated (cut tuned on the first %d, on a quarter of the users, apart from the evaluated half)\n",
		p.Seed, p.Users, p.WarmDays, p.EvalDays, p.TuneDays)
	fmt.Fprintf(w, "sim_actions_per_day=Poisson(%g)\nsim_impulse_share=%g\nsim_interests_per_user=U[%d,%d]\n",
		p.PerDay, p.Impulse, p.MinInterests, p.MaxInterests)
	fmt.Fprintf(w, "sim_interest_pool=%d nearest items of an anchor item\nsim_drift=%g/day (anchor moves to one of its %d nearest)\nsim_switch=%g/day (interest replaced)\nsim_weight_noise=%g\n",
		p.Pool, p.DriftP, p.Step, p.SwitchP, p.WeightNoise)
	fmt.Fprintf(w, "sim_save_share=%g\nsim_popularity_sigma=%g\ncandidates_per_method=%d\n", p.SaveP, p.PopSigma, p.K)
}

// act is one simulated action.
type act struct {
	item    int
	save    bool
	t       time.Time
	impulse bool
}

// simUser is a simulated user and the actions they take, in time order.
type simUser struct {
	name string
	acts []act
	tune bool
}

// world is the simulated population over the collection.
type world struct {
	p     params
	start time.Time
	pop   []float64
	users []*simUser
}

// day returns the start of day d.
func (w *world) day(d int) time.Time { return w.start.Add(time.Duration(d) * 24 * time.Hour) }

// simulate draws every user's actions over WarmDays+EvalDays days. nn[i] lists item i's
// nearest neighbours (at least Pool of them), nearest first.
func simulate(p params, n int, nn [][]int) *world {
	r := rand.New(rand.NewPCG(p.Seed, 0x70657273))
	w := &world{p: p, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w.pop = make([]float64, n)
	for i := range w.pop {
		w.pop[i] = math.Exp(p.PopSigma * r.NormFloat64())
	}
	popCum := cumulative(w.pop)
	type interest struct {
		anchor int
		weight float64
	}
	fresh := func() interest { return interest{anchor: r.IntN(n), weight: math.Exp(r.NormFloat64() * 0.5)} }
	for u := range p.Users {
		su := &simUser{name: fmt.Sprintf("user%04d", u), tune: u%2 == 0}
		ints := make([]interest, p.MinInterests+r.IntN(p.MaxInterests-p.MinInterests+1))
		for i := range ints {
			ints[i] = fresh()
		}
		seen := map[int]bool{}
		for d := range p.WarmDays + p.EvalDays {
			for i := range ints {
				switch x := r.Float64(); {
				case x < p.SwitchP:
					ints[i] = fresh()
				case x < p.SwitchP+p.DriftP:
					ints[i].anchor = nn[ints[i].anchor][r.IntN(p.Step)]
				}
				ints[i].weight *= math.Exp(p.WeightNoise * r.NormFloat64())
			}
			var times []time.Time
			for range poisson(r, p.PerDay) {
				times = append(times, w.day(d).Add(time.Duration(r.Int64N(int64(24*time.Hour)))))
			}
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			for _, t := range times {
				a := act{t: t, save: r.Float64() < p.SaveP}
				if r.Float64() < p.Impulse {
					a.impulse = true
					a.item = pick(r, popCum, seen, nil)
				} else {
					ws := make([]float64, len(ints))
					for i, in := range ints {
						ws[i] = in.weight
					}
					in := ints[pickIndex(r, cumulative(ws))]
					pool := nn[in.anchor][:p.Pool]
					pw := make([]float64, len(pool))
					for j, it := range pool {
						pw[j] = math.Sqrt(w.pop[it])
					}
					a.item = pick(r, cumulative(pw), seen, pool)
					if a.item < 0 { // the pool is used up: an impulse instead
						a.impulse = true
						a.item = pick(r, popCum, seen, nil)
					}
				}
				if a.item >= 0 {
					seen[a.item] = true
					su.acts = append(su.acts, a)
				}
			}
		}
		w.users = append(w.users, su)
	}
	return w
}

func cumulative(ws []float64) []float64 {
	c := make([]float64, len(ws))
	var s float64
	for i, x := range ws {
		s += x
		c[i] = s
	}
	return c
}

func pickIndex(r *rand.Rand, cum []float64) int {
	u := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, u)
	return min(i, len(cum)-1)
}

// pick draws an item not in seen by the cumulative weights (over items, or over pool when
// given); -1 after 50 draws that all hit seen items.
func pick(r *rand.Rand, cum []float64, seen map[int]bool, pool []int) int {
	for range 50 {
		i := pickIndex(r, cum)
		if pool != nil {
			i = pool[i]
		}
		if !seen[i] {
			return i
		}
	}
	return -1
}

// poisson draws from Poisson(mean) (Knuth; mean is small).
func poisson(r *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
