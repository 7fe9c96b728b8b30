package main

import (
	"context"
	"log"
	"path/filepath"
	"runtime"
	"time"

	"pinrec"
	"pinrec/ann"
	"pinrec/internal/stats"
)

// kscale measures how recall@k and time depend on the k of a search: for each k of ks, the
// default search (no efSearch given) and each efSearch of efs, recall@k of the first nq
// queries against their exact top k (computed here), and the 1-thread time per query (CPU
// time of the thread, best of 2 passes over the first nlat). Prints a line per point; writes
// nothing.
func kscale(dir string, d int, ks, efs []int, nq, nlat int) {
	a, err := openANN(filepath.Join(dir, "ann.idx"))
	check(err)
	defer a.Close()
	qs := readRows(filepath.Join(dir, "queries.f32"), 0, nq, d)
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*d : (i+1)*d]
	}
	ctx := context.Background()
	kmax := 0
	for _, k := range ks {
		kmax = max(kmax, k)
	}
	truth, err := a.Exact().SearchBatch(ctx, queries, kmax)
	check(err)
	log.Printf("kscale: %d items, %d queries, default efSearch %s for k=10", a.Len(), nq, a.Stats()["ef_search"])
	for _, k := range ks {
		gt := make([][]int, nq)
		for i, t := range truth {
			for _, r := range t[:min(k, len(t))] {
				gt[i] = append(gt[i], atoi(r.ID))
			}
		}
		for _, ef := range append([]int{0}, efs...) {
			var opts []pinrec.SearchOption
			if ef > 0 {
				opts = append(opts, pinrec.WithEffort(ef))
			}
			per := recallAtK(a, queries, gt, k, opts...)
			mean, se := stats.MeanSE(per)
			runtime.GOMAXPROCS(1)
			runtime.LockOSThread()
			lq := queries[:min(nlat, nq)]
			cpu, wall := 1e9, 1e9
			for range 2 {
				t0, c0 := time.Now(), threadCPU()
				for _, q := range lq {
					_, err := a.Search(ctx, q, k, opts...)
					check(err)
				}
				cpu = min(cpu, (threadCPU()-c0)/float64(len(lq)))
				wall = min(wall, time.Since(t0).Seconds()/float64(len(lq)))
			}
			runtime.UnlockOSThread()
			runtime.GOMAXPROCS(2)
			name := "default"
			if ef > 0 {
				name = "ef " + itoa(ef)
			}
			log.Printf("  k=%d %-8s recall@%d %.4f (se %.4f), %.3f ms CPU/query (wall %.3f)", k, name, k, mean, se, cpu*1e3, wall*1e3)
		}
	}
}

// recallAtK is recallPer for a search of k.
func recallAtK(a *ann.Index, queries [][]float32, gt [][]int, k int, opts ...pinrec.SearchOption) []float64 {
	per := make([]float64, len(queries))
	ctx := context.Background()
	for i, q := range queries {
		res, err := a.Search(ctx, q, k, opts...)
		check(err)
		want := map[int]bool{}
		for _, id := range gt[i] {
			want[id] = true
		}
		hit := 0
		for _, r := range res {
			if want[atoi(r.ID)] {
				hit++
			}
		}
		per[i] = float64(hit) / float64(max(1, len(gt[i])))
	}
	return per
}
