package main

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"pinrec"
	"pinrec/engage"
	"pinrec/foryou"
)

// userDay is what a method knows when it answers for a user on a day: the actions before
// the day (time order) and the items they touched.
type userDay struct {
	ui      int
	user    string
	day     int
	asOf    time.Time
	acts    []act
	engaged map[string]bool
	seed    uint64
}

// method answers K candidate IDs for a user-day.
type method struct {
	name string
	run  func(ctx context.Context, b *bench, ud *userDay) ([]string, error)
}

// weight is the action weight foryou uses by default (save 1, like 0.5).
func weight(a act) float64 {
	if a.save {
		return foryou.DefaultSaveWeight
	}
	return foryou.DefaultLikeWeight
}

// window returns the actions within foryou's default window before asOf.
func window(ud *userDay) []act {
	var out []act
	for _, a := range ud.acts {
		if ud.asOf.Sub(a.t) <= foryou.DefaultWindow {
			out = append(out, a)
		}
	}
	return out
}

func (b *bench) exclude(ud *userDay) pinrec.SearchOption {
	return pinrec.WithFilter(func(id string, _ map[string]string) bool { return !ud.engaged[id] })
}

func (b *bench) searchVec(ctx context.Context, ud *userDay, v []float32) ([]string, error) {
	res, err := b.ix.Search(ctx, v, b.p.K, b.exclude(ud), pinrec.WithWorkers(1))
	if err != nil {
		return nil, err
	}
	return ids(res), nil
}

func ids(res []pinrec.Result) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.ID
	}
	return out
}

func methods(cut float64) []method {
	return []method{
		{"pinnersage_ward_medoid", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			f, err := b.model.ForYou(ctx, ud.user, b.p.K, foryou.WithSeed(ud.seed), foryou.WithRelativeCut(cut))
			if err != nil {
				return nil, err
			}
			out := make([]string, len(f.Results))
			for i, r := range f.Results {
				out[i] = r.ID
			}
			return out, nil
		}},
		{"last_item", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			return b.searchVec(ctx, ud, b.vecs[ud.acts[len(ud.acts)-1].item])
		}},
		{"decay_avg", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			acts := window(ud)
			mean := make([]float64, b.ix.Dim())
			var total float64
			for _, a := range acts {
				w := weight(a) * math.Exp(-foryou.DefaultDecay*ud.asOf.Sub(a.t).Hours()/24)
				total += w
				for t, x := range b.vecs[a.item] {
					mean[t] += w * float64(x)
				}
			}
			return b.searchVec(ctx, ud, scaled(mean, total))
		}},
		{"centroid", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			acts := window(ud)
			mean := make([]float64, b.ix.Dim())
			for _, a := range acts {
				for t, x := range b.vecs[a.item] {
					mean[t] += float64(x)
				}
			}
			return b.searchVec(ctx, ud, scaled(mean, float64(len(acts))))
		}},
		{"kmeans5_medoid", kmeansMethod},
		{"popularity", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			var out []string
			for _, i := range b.popular {
				if len(out) == b.p.K {
					break
				}
				if !ud.engaged[b.ids[i]] {
					out = append(out, b.ids[i])
				}
			}
			return out, nil
		}},
		{"hybrid_last_item", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			res, err := b.ranker.Similar(ctx, b.ids[ud.acts[len(ud.acts)-1].item], b.p.K,
				engage.WithSearch(b.exclude(ud), pinrec.WithWorkers(1)))
			if err != nil {
				return nil, err
			}
			out := make([]string, len(res))
			for i, r := range res {
				out[i] = r.ID
			}
			return out, nil
		}},
		{"similar_personal_last_item", func(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
			ans, err := b.model.Similar(ctx, ud.user, b.ids[ud.acts[len(ud.acts)-1].item], b.p.K,
				foryou.WithSearch(b.exclude(ud), pinrec.WithWorkers(1)), foryou.WithRelativeCut(cut))
			if err != nil {
				return nil, err
			}
			out := make([]string, len(ans.Results))
			for i, r := range ans.Results {
				out[i] = r.ID
			}
			return out, nil
		}},
	}
}

func scaled(v []float64, total float64) []float32 {
	out := make([]float32, len(v))
	if total > 0 {
		for i, x := range v {
			out[i] = float32(x / total)
		}
	}
	return out
}

// kmeansMethod is the paper's k-means(5) baseline with the rest of the pipeline unchanged:
// k-means++ then Lloyd on the window's items, each cluster's medoid and importance as
// package foryou computes them, 3 clusters drawn by importance, each medoid's 2K nearest,
// round robin.
func kmeansMethod(ctx context.Context, b *bench, ud *userDay) ([]string, error) {
	acts := window(ud)
	r := rand.New(rand.NewPCG(ud.seed, 0x6b6d))
	k := min(5, len(acts))
	pts := make([][]float32, len(acts))
	for i, a := range acts {
		pts[i] = b.vecs[a.item]
	}
	assign := kmeans(r, pts, k, 20)
	type cl struct {
		members    []int
		medoid     int
		importance float64
	}
	cls := make([]cl, k)
	for i, c := range assign {
		cls[c].members = append(cls[c].members, i)
		cls[c].importance += weight(acts[i]) * math.Exp(-foryou.DefaultDecay*ud.asOf.Sub(acts[i].t).Hours()/24)
	}
	var live []cl
	for _, c := range cls {
		if len(c.members) == 0 {
			continue
		}
		mean := make([]float64, len(pts[0]))
		for _, i := range c.members {
			for t, x := range pts[i] {
				mean[t] += float64(x)
			}
		}
		m := scaled(mean, float64(len(c.members)))
		best := math.Inf(1)
		for _, i := range c.members {
			if d := sqDist(pts[i], m); d < best {
				best, c.medoid = d, i
			}
		}
		live = append(live, c)
	}
	// Draw 3 by importance without replacement.
	var drawn []cl
	for len(drawn) < foryou.DefaultSamples && len(live) > 0 {
		var total float64
		for _, c := range live {
			total += c.importance
		}
		u, pick := r.Float64()*total, len(live)-1
		for i, c := range live {
			if u < c.importance {
				pick = i
				break
			}
			u -= c.importance
		}
		drawn = append(drawn, live[pick])
		live = slices.Delete(live, pick, pick+1)
	}
	slices.SortStableFunc(drawn, func(a, b cl) int { return cmp.Compare(b.importance, a.importance) })
	lists := make([][]pinrec.Result, len(drawn))
	for i, c := range drawn {
		res, err := b.ix.Search(ctx, pts[c.medoid], 2*b.p.K, b.exclude(ud), pinrec.WithWorkers(1))
		if err != nil {
			return nil, err
		}
		lists[i] = res
	}
	var out []string
	seen := map[string]bool{}
	for j := 0; len(out) < b.p.K; j++ {
		more := false
		for _, l := range lists {
			if j < len(l) {
				more = true
				if !seen[l[j].ID] && len(out) < b.p.K {
					seen[l[j].ID] = true
					out = append(out, l[j].ID)
				}
			}
		}
		if !more {
			break
		}
	}
	return out, nil
}

// kmeans returns each point's cluster (k-means++ seeding, then iters Lloyd steps).
func kmeans(r *rand.Rand, pts [][]float32, k, iters int) []int {
	n := len(pts)
	centres := [][]float32{pts[r.IntN(n)]}
	d2 := make([]float64, n)
	for len(centres) < k {
		var total float64
		for i, p := range pts {
			d2[i] = math.Inf(1)
			for _, c := range centres {
				d2[i] = math.Min(d2[i], sqDist(p, c))
			}
			total += d2[i]
		}
		if total == 0 {
			break
		}
		u, pick := r.Float64()*total, n-1
		for i, d := range d2 {
			if u < d {
				pick = i
				break
			}
			u -= d
		}
		centres = append(centres, pts[pick])
	}
	assign := make([]int, n)
	for range iters {
		for i, p := range pts {
			best := math.Inf(1)
			for c, ce := range centres {
				if d := sqDist(p, ce); d < best {
					best, assign[i] = d, c
				}
			}
		}
		sums := make([][]float64, len(centres))
		counts := make([]int, len(centres))
		for i, p := range pts {
			c := assign[i]
			if sums[c] == nil {
				sums[c] = make([]float64, len(p))
			}
			for t, x := range p {
				sums[c][t] += float64(x)
			}
			counts[c]++
		}
		for c := range centres {
			if counts[c] > 0 {
				centres[c] = scaled(sums[c], float64(counts[c]))
			}
		}
	}
	return assign
}

func sqDist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}
