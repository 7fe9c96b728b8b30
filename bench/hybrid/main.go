// Command simbench is make bench-hybrid's SIMULATION: no real engagement data exists here,
// so simulated users with a taste (a few preferred categories, a few hidden styles, a
// popularity bias) engage with the pins of a Fashion-MNIST index; part of each user's saves
// is held out, and visual-only and hybrid "more like this" are compared at finding a user's
// held-out saves from another pin the user saved.
//
//	simbench -index bench-hybrid/pixels.pinrec [-users 2000] [-seed 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"pinrec"
	"pinrec/engage"
)

func main() {
	p := params{
		Seed: 1, Users: 2000, Looks: 100, Styles: 20, TasteLooks: 3, TasteStyles: 2,
		OffTaste: 0.01, StyleBoost: 5, PopSigma: 1, PopBiasMin: 0.5, PopBiasMax: 1.5,
		MinEngaged: 10, MaxEngaged: 40, SaveAlpha: 2, SaveBeta: 2,
		ColdShare: 0.05, HoldOut: 0.25, QueriesPerUse: 2,
	}
	indexPath := flag.String("index", "", "index `file` of the Fashion-MNIST images (IDs CLASS/NNNNN.png)")
	flag.IntVar(&p.Users, "users", p.Users, "simulated users")
	flag.Uint64Var(&p.Seed, "seed", p.Seed, "random seed")
	work := flag.String("work", "", "`folder` for the engagement databases (default: a temporary one)")
	flag.Parse()
	if *indexPath == "" {
		fmt.Fprintln(os.Stderr, "usage: simbench -index FILE [-users N] [-seed S] [-work DIR]")
		os.Exit(2)
	}
	if err := run(p, *indexPath, *work); err != nil {
		fmt.Fprintln(os.Stderr, "simbench:", err)
		os.Exit(1)
	}
}

func run(p params, indexPath, work string) error {
	ctx := context.Background()
	ix, err := pinrec.Load(indexPath)
	if err != nil {
		return err
	}
	defer ix.Close()
	if work == "" {
		if work, err = os.MkdirTemp("", "simbench"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	fmt.Println("# SIMULATION: synthetic users and engagement on real Fashion-MNIST pins; not real user data.")
	fmt.Printf("index=%s items=%d dim=%d embedding=%s\n", indexPath, ix.Len(), ix.Dim(), embeddingName(ix.Info()))
	p.print(os.Stdout)

	ids := ix.IDs()
	slices.Sort(ids)
	vecs := make([][]float32, len(ids))
	for i, id := range ids {
		it, err := ix.Get(id)
		if err != nil {
			return err
		}
		vecs[i] = it.Vector
	}
	w := simulate(p, ids, func(i int) []float32 { return vecs[i] })
	events := w.storeEvents()
	stats := w.describe()
	fmt.Printf("sim_store_events=%d sim_train_saves=%d sim_likes=%d sim_heldout_saves=%d sim_cold_items=%d\n",
		len(events), stats.train, stats.likes, stats.heldOut, stats.cold)

	// Write rates: incremental derived tables (the default), deferred + one rebuild, and one
	// event per transaction for reference; all synchronous=FULL.
	incr, err := importEvents(ctx, filepath.Join(work, "incremental.engage.db"), events, 1000, ix.Has, engage.Incremental)
	if err != nil {
		return err
	}
	deferred, err := importEvents(ctx, filepath.Join(work, "deferred.engage.db"), events, 1000, ix.Has, engage.Deferred)
	if err != nil {
		return err
	}
	single, err := importEvents(ctx, filepath.Join(work, "single.engage.db"), events[:min(300, len(events))], 1, ix.Has, engage.Incremental)
	if err != nil {
		return err
	}
	fmt.Printf("write_incremental_batch1000_events_per_s=%.0f (process CPU %.0f us/event)\n", incr.rate, incr.cpuPerEvent)
	fmt.Printf("write_deferred_batch1000_events_per_s=%.0f (writes alone %.0f; rebuild %.2fs)\n", deferred.rate, deferred.writeRate, deferred.rebuild.Seconds())
	fmt.Printf("write_incremental_one_per_commit_events_per_s=%.0f\n", single.rate)

	st, err := engage.Open(filepath.Join(work, "incremental.engage.db"), engage.WithKnownItems(ix.Has))
	if err != nil {
		return err
	}
	defer st.Close()
	signals, err := snapshot(ctx, st, ids)
	if err != nil {
		return err
	}
	memo := newMemoSearcher(ix, engage.DefaultCandidates+p.MaxEngaged+1)
	tune, eval, cold := w.queries()
	fmt.Printf("queries_tune=%d queries_eval=%d queries_cold=%d\n", len(tune), len(eval), len(cold))

	// Tuning: w_v = 1, a grid over w_e, w_c and the priors, on the tuning users' queries.
	type point struct {
		w      engage.Weights
		a      float64
		recall float64
	}
	var best point
	visualTune, err := recallAt10(ctx, memo, nil, tune, nil)
	if err != nil {
		return err
	}
	tuneStart := time.Now()
	for _, a := range []float64{10, 50, 200} {
		for _, we := range []float64{0, 0.5, 1} {
			for _, wc := range []float64{0, 20, 50, 100, 200} {
				wt := engage.Weights{Visual: 1, Engagement: we, CoEngagement: wc}
				rk, err := engage.NewRanker(memo, signals, engage.WithWeights(wt), engage.WithPriors(a, a))
				if err != nil {
					return err
				}
				rec, err := recallAt10(ctx, memo, rk, tune, nil)
				if err != nil {
					return err
				}
				if rec > best.recall {
					best = point{wt, a, rec}
				}
			}
		}
	}
	fmt.Printf("tune_grid: w_visual=1, w_engagement in {0,0.5,1}, w_co_engagement in {0,20,50,100,200}, a_e=a_c in {10,50,200}; %.0fs\n", time.Since(tuneStart).Seconds())
	fmt.Printf("tune_visual_recall_at_10=%.4f\n", visualTune)
	fmt.Printf("tune_best: w_visual=%g w_engagement=%g w_co_engagement=%g a_e=a_c=%g recall_at_10=%.4f\n",
		best.w.Visual, best.w.Engagement, best.w.CoEngagement, best.a, best.recall)
	def := engage.DefaultWeights()
	fmt.Printf("library_defaults: w_visual=%g w_engagement=%g w_co_engagement=%g a_e=%g a_c=%g (match_tuned=%v)\n",
		def.Visual, def.Engagement, def.CoEngagement, engage.DefaultPriorSaves, engage.DefaultPriorCo,
		def == best.w && best.a == engage.DefaultPriorSaves)

	// Evaluation, with the library's defaults, on the other users.
	hybrid, err := engage.NewRanker(memo, signals)
	if err != nil {
		return err
	}
	vis, err := recallAt10(ctx, memo, nil, eval, nil)
	if err != nil {
		return err
	}
	hyb, err := recallAt10(ctx, memo, hybrid, eval, nil)
	if err != nil {
		return err
	}
	coldVis, err := recallAt10(ctx, memo, nil, cold, nil)
	if err != nil {
		return err
	}
	coldHyb, err := recallAt10(ctx, memo, hybrid, cold, nil)
	if err != nil {
		return err
	}
	fmt.Printf("cold_start_visual_recall_at_10=%.4f\n", coldVis)
	fmt.Printf("hybrid_recall_at_10=%.4f\n", hyb)
	fmt.Printf("visual_recall_at_10=%.4f\n", vis)
	fmt.Printf("hybrid_gain=%.2f\n", hyb/vis)
	fmt.Printf("cold_start_recall_at_10=%.4f\n", coldHyb)
	fmt.Printf("engage_events_per_s=%.0f\n", incr.rate)
	return nil
}

func embeddingName(info map[string]string) string {
	if info["embedding"] == "pixels" {
		return "raw-pixels-" + info["input_size"] + "x" + info["input_size"] + "-rgb"
	}
	if w := info["weights"]; w != "" {
		return "resnet50-" + w
	}
	return "unknown"
}

type importResult struct {
	rate, writeRate float64
	cpuPerEvent     float64 // user+system CPU of this process per event, microseconds
	rebuild         time.Duration
}

// importEvents records events into a new store at path in batches and times it (for a
// Deferred store, including the rebuild that the first read runs).
func importEvents(ctx context.Context, path string, events []engage.Event, batch int, known func(string) bool, mode engage.Derived) (importResult, error) {
	os.Remove(path)
	st, err := engage.Open(path, engage.WithKnownItems(known), engage.WithDerived(mode))
	if err != nil {
		return importResult{}, err
	}
	defer st.Close()
	start, cpu0 := time.Now(), cpuTime()
	for lo := 0; lo < len(events); lo += batch {
		if _, err := st.Record(ctx, events[lo:min(lo+batch, len(events))]...); err != nil {
			return importResult{}, err
		}
	}
	writes := time.Since(start)
	var res importResult
	res.writeRate = float64(len(events)) / writes.Seconds()
	if mode == engage.Deferred {
		t := time.Now()
		if _, err := st.Summary(ctx); err != nil { // the first read rebuilds
			return importResult{}, err
		}
		res.rebuild = time.Since(t)
	}
	res.rate = float64(len(events)) / time.Since(start).Seconds()
	res.cpuPerEvent = float64((cpuTime() - cpu0).Microseconds()) / float64(len(events))
	return res, nil
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
