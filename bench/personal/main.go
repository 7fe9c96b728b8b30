// Command personal is make bench-personal: a SIMULATION of personalised retrieval. No real
// engagement data exists here, so simulated users with several latent interests that drift
// over time, plus impulse actions, like and save the 10,000 Fashion-MNIST test images (raw-pixel
// embedding, as make bench-hybrid); the walk goes forward day by day, and for each user and
// evaluated day every method proposes K candidates from the actions before the day, scored
// against the actions of the day. Then it times a "For you" feed for a user with 1,000 saves
// over a 100k-item approximate (ann) index of synthetic vectors.
//
//	personal [-dir /usr/share/datasets/fashion-mnist] [-users 400] [-seed 1] [-latency-n 100000]
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"pinrec"
	"pinrec/engage"
	"pinrec/foryou"
	"pinrec/internal/fashionmnist"
)

// bench holds the collection and the shared state of the walk.
type bench struct {
	p       params
	ix      *pinrec.Index
	ids     []string
	vecs    [][]float32
	index   map[string]int
	model   *foryou.Model
	ranker  *engage.Ranker
	hist    *history
	popular []int
	tau     float64
}

func main() {
	p := params{
		Seed: 1, Users: 400, WarmDays: 90, EvalDays: 14, TuneDays: 5, PerDay: 2, Impulse: 0.15,
		MinInterests: 3, MaxInterests: 7, Pool: 80, Step: 10, DriftP: 0.1, SwitchP: 0.02,
		WeightNoise: 0.3, SaveP: 0.6, PopSigma: 1, K: 50,
	}
	dir := flag.String("dir", fashionmnist.DefaultDir, "folder of the Fashion-MNIST idx files")
	flag.IntVar(&p.Users, "users", p.Users, "simulated users (a quarter tune the cut, half are evaluated)")
	flag.Uint64Var(&p.Seed, "seed", p.Seed, "random seed")
	flag.IntVar(&p.K, "k", p.K, "candidates per method")
	latencyN := flag.Int("latency-n", 100000, "items of the synthetic approximate index the feed is timed on (0: skip)")
	latencyDim := flag.Int("latency-dim", 768, "dimension of those synthetic vectors")
	flag.Parse()
	if err := run(p, *dir, *latencyN, *latencyDim); err != nil {
		fmt.Fprintln(os.Stderr, "personal:", err)
		os.Exit(1)
	}
}

func run(p params, dir string, latencyN, latencyDim int) error {
	ctx := context.Background()
	start := time.Now()
	fmt.Println("# SIMULATION: synthetic users with drifting latent interests acting on real Fashion-MNIST pins; not real user data.")
	fmt.Printf("cpu=%s cores=%d\n", cpuModel(), runtime.NumCPU())
	ix, err := loadFashion(ctx, dir)
	if err != nil {
		return err
	}
	b := &bench{p: p, ix: ix, ids: ix.IDs(), index: map[string]int{}}
	slices.Sort(b.ids)
	for i, id := range b.ids {
		it, err := ix.Get(id)
		if err != nil {
			return err
		}
		b.vecs = append(b.vecs, it.Vector)
		b.index[id] = i
	}
	fmt.Printf("collection=fashion-mnist-test items=%d dim=%d embedding=raw-pixels-16x16-rgb\n", ix.Len(), ix.Dim())
	p.print(os.Stdout)
	nn, err := neighbours(ctx, b, p.Pool)
	if err != nil {
		return err
	}
	w := simulate(p, len(b.ids), nn)
	b.hist = newHistory(w, b.ids)
	var total, impulses int
	for _, u := range w.users {
		total += len(u.acts)
		for _, a := range u.acts {
			if a.impulse {
				impulses++
			}
		}
	}
	fmt.Printf("sim_actions=%d (impulse %d) setup_s=%.1f\n", total, impulses, time.Since(start).Seconds())

	if b.model, err = foryou.New(ix, b.hist, foryou.WithClock(func() time.Time { return b.hist.asOf }), foryou.WithCacheUsers(0)); err != nil {
		return err
	}
	if b.ranker, err = engage.NewRanker(ix, b.hist); err != nil {
		return err
	}
	if b.tau, err = b.model.Scale(ctx); err != nil {
		return err
	}
	fmt.Printf("relevance_threshold=%.4f (the collection's scale, foryou.Model.Scale: median distance from an item to its %dth nearest neighbour over %d sampled items)\n",
		b.tau, foryou.ScaleNeighbour, foryou.ScaleSample)
	dup, err := b.model.DuplicateDistance(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("near_duplicate_distance=%.4f (package dupes, rule %s)\n", dup.Threshold, dup.Rule)

	// Tuning: the relative cut, on the tuning users' first TuneDays evaluated days.
	t0 := time.Now()
	bestCut, bestScore := 0.0, -1.0
	var grid []string
	for _, cut := range []float64{1, 2, 4, 6, 8} {
		ms := methods(cut)[:1]
		res, err := b.walk(ctx, ms, true, p.TuneDays)
		if err != nil {
			return err
		}
		rel, rec := mean(res[0].rel), mean(res[0].rec)
		grid = append(grid, fmt.Sprintf("%g:%.4f/%.4f", cut, rel, rec))
		// By recall of the exact pins: relevance at the calibrated threshold hardly tells the
		// methods apart (popularity, which ignores the person, reaches the last pin's).
		if rec > bestScore {
			bestCut, bestScore = cut, rec
		}
	}
	fmt.Printf("tune_relative_cut (relevance/recall on tuning users, best by recall): %s; %.0fs\n", strings.Join(grid, " "), time.Since(t0).Seconds())
	fmt.Printf("tune_best_relative_cut=%g library_default=%g (match=%v)\n", bestCut, foryou.DefaultRelativeCut, bestCut == foryou.DefaultRelativeCut)

	// Evaluation with the library's default cut, on the other users.
	t0 = time.Now()
	ms := methods(foryou.DefaultRelativeCut)
	res, err := b.walk(ctx, ms, false, p.EvalDays)
	if err != nil {
		return err
	}
	fmt.Printf("eval: %d users, %d user-days, %.0fs\n", len(res[0].rel), res[0].days, time.Since(t0).Seconds())
	report(res)

	if latencyN > 0 {
		if err := latency(ctx, latencyN, latencyDim); err != nil {
			return err
		}
	}
	fmt.Printf("total_s=%.0f\n", time.Since(start).Seconds())
	return nil
}

// neighbours returns every item's n nearest other items.
func neighbours(ctx context.Context, b *bench, n int) ([][]int, error) {
	out := make([][]int, len(b.ids))
	const batch = 256
	for lo := 0; lo < len(b.ids); lo += batch {
		hi := min(lo+batch, len(b.ids))
		res, err := b.ix.SearchBatch(ctx, b.vecs[lo:hi], n+1)
		if err != nil {
			return nil, err
		}
		for j, list := range res {
			for _, r := range list {
				if i := b.index[r.ID]; i != lo+j && len(out[lo+j]) < n {
					out[lo+j] = append(out[lo+j], i)
				}
			}
		}
	}
	return out, nil
}

// methodResult is one method's per-user means.
type methodResult struct {
	name     string
	rel, rec []float64 // per user: mean over their evaluated days
	days     int
}

// walk runs the methods over the tuning or evaluation users for the first days evaluated
// days. Users run on GOMAXPROCS goroutines; the shared history advances between days.
func (b *bench) walk(ctx context.Context, ms []method, tune bool, days int) ([]methodResult, error) {
	b.hist = newHistory(b.hist.w, b.ids)
	var err error
	if b.model, err = foryou.New(b.ix, b.hist, foryou.WithClock(func() time.Time { return b.hist.asOf }), foryou.WithCacheUsers(0)); err != nil {
		return nil, err
	}
	if b.ranker, err = engage.NewRanker(b.ix, b.hist); err != nil {
		return nil, err
	}
	var users []int
	for ui, u := range b.hist.w.users {
		// Tuning: every other tuning user (a quarter of all), to keep the grid affordable.
		if u.tune == tune && (!tune || ui%4 == 0) {
			users = append(users, ui)
		}
	}
	relSum := make([][]float64, len(ms))
	recSum := make([][]float64, len(ms))
	for m := range ms {
		relSum[m] = make([]float64, len(users))
		recSum[m] = make([]float64, len(users))
	}
	nDays := make([]int, len(users))
	for d := b.p.WarmDays; d < b.p.WarmDays+days; d++ {
		dayStart, dayEnd := b.hist.w.day(d), b.hist.w.day(d+1)
		b.hist.advance(dayStart)
		b.popular = b.hist.popularOrder()
		workers := runtime.GOMAXPROCS(0)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := wk; j < len(users); j += workers {
					if err := b.userDay(ctx, ms, users[j], d, dayStart, dayEnd, relSum, recSum, j, nDays); err != nil {
						errs[wk] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	out := make([]methodResult, len(ms))
	for m := range ms {
		out[m].name = ms[m].name
		for j := range users {
			if nDays[j] > 0 {
				out[m].rel = append(out[m].rel, relSum[m][j]/float64(nDays[j]))
				out[m].rec = append(out[m].rec, recSum[m][j]/float64(nDays[j]))
				out[m].days += nDays[j]
			}
		}
	}
	return out, nil
}

// userDay scores every method for one user on day d.
func (b *bench) userDay(ctx context.Context, ms []method, ui, d int, dayStart, dayEnd time.Time, relSum, recSum [][]float64, j int, nDays []int) error {
	u := b.hist.w.users[ui]
	var targets []int
	for _, a := range u.acts {
		if !a.t.Before(dayStart) && a.t.Before(dayEnd) {
			targets = append(targets, a.item)
		}
	}
	past := b.hist.before(ui)
	if len(targets) == 0 || len(past) == 0 {
		return nil
	}
	ud := &userDay{ui: ui, user: u.name, day: d, asOf: dayStart, acts: past, engaged: map[string]bool{}}
	for _, a := range past {
		ud.engaged[b.ids[a.item]] = true
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", u.name, d)
	ud.seed = h.Sum64()
	for m, me := range ms {
		cands, err := me.run(ctx, b, ud)
		if err != nil {
			return fmt.Errorf("%s: %s day %d: %w", me.name, u.name, d, err)
		}
		in := map[string]bool{}
		for _, c := range cands {
			in[c] = true
		}
		var rel, hit int
		for _, t := range targets {
			if in[b.ids[t]] {
				hit++
			}
			for _, c := range cands {
				if math.Sqrt(sqDist(b.vecs[t], b.vecs[b.index[c]])) <= b.tau {
					rel++
					break
				}
			}
		}
		relSum[m][j] += float64(rel) / float64(len(targets))
		recSum[m][j] += float64(hit) / float64(len(targets))
	}
	nDays[j]++
	return nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	if len(x) == 0 {
		return 0
	}
	return s / float64(len(x))
}

// bootstrapRatio returns the 95% interval of mean(a)/mean(b) (b nil: of mean(a)) over users
// resampled with replacement (a and b paired by user).
func bootstrapRatio(a, b []float64, seed uint64) (lo, hi float64) {
	r := rand.New(rand.NewPCG(seed, 0xb007))
	const reps = 2000
	vals := make([]float64, 0, reps)
	n := len(a)
	for range reps {
		var sa, sb float64
		for range n {
			i := r.IntN(n)
			sa += a[i]
			if b != nil {
				sb += b[i]
			}
		}
		if b == nil {
			vals = append(vals, sa/float64(n))
		} else if sb > 0 {
			vals = append(vals, sa/sb)
		}
	}
	slices.Sort(vals)
	if len(vals) == 0 {
		return math.NaN(), math.NaN()
	}
	return vals[int(0.025*float64(len(vals)))], vals[min(int(0.975*float64(len(vals))), len(vals)-1)]
}

func find(res []methodResult, name string) methodResult {
	for _, r := range res {
		if r.name == name {
			return r
		}
	}
	panic("no method " + name)
}

// report prints the per-method table and the headline lifts.
func report(res []methodResult) {
	last := find(res, "last_item")
	fmt.Printf("\n%-28s  %-24s  %-24s  %-9s  %-9s\n", "method", "relevance [95% CI]", "recall@K [95% CI]", "rel/last", "rec/last")
	for i, r := range res {
		rl, rh := bootstrapRatio(r.rel, nil, uint64(i))
		cl, ch := bootstrapRatio(r.rec, nil, uint64(i)+100)
		fmt.Printf("%-28s  %.4f [%.4f,%.4f]   %.4f [%.4f,%.4f]   %-9.2f  %-9.2f\n", r.name, mean(r.rel), rl, rh, mean(r.rec), cl, ch,
			mean(r.rel)/mean(last.rel), mean(r.rec)/mean(last.rec))
	}
	fmt.Println()
	ps := find(res, "pinnersage_ward_medoid")
	dec := find(res, "decay_avg")
	line := func(name string, a, b []float64, seed uint64) {
		lo, hi := bootstrapRatio(a, b, seed)
		fmt.Printf("%s=%.3f (95%% CI %.3f-%.3f over users)\n", name, mean(a)/mean(b), lo, hi)
	}
	line("personal_relevance_lift_vs_decay_avg", ps.rel, dec.rel, 201)
	line("personal_recall_lift_vs_decay_avg", ps.rec, dec.rec, 202)
	line("personal_recall_lift_vs_last_item", ps.rec, last.rec, 203)
	line("personal_relevance_lift_vs_last_item", ps.rel, last.rel, 204)
	sp := find(res, "similar_personal_last_item")
	line("similar_personal_recall_lift_vs_last_item", sp.rec, last.rec, 205)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}
