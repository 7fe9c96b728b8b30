package main

import (
	"context"
	"encoding/json"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"pinrec"
	"pinrec/ann"
)

// churn measures, at the index's default efSearch, filtered search (a filter keeping 1% of
// the items: IDs whose number is 7 mod 100, unrelated to the vectors) against the exact
// filtered top 10, its 1-thread latency against the unfiltered search's, and then the recall
// after removing 10% of the items at random and adding them back. The exact index is read
// into RAM (the churn changes it). Writes D/churn.json.
func churn(dir string, d, nlat int) {
	var gtf struct {
		GT [][]int `json:"gt"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "gt.json"))
	check(err)
	check(json.Unmarshal(b, &gtf))
	nq := len(gtf.GT)
	ix, err := pinrec.Load(filepath.Join(dir, "exact.idx"), pinrec.WithoutVectorChecksum())
	check(err)
	sec, err := os.ReadFile(filepath.Join(dir, "ann.idx"))
	check(err)
	a, err := ann.Unmarshal(sec, ix)
	check(err)
	qs := readRows(filepath.Join(dir, "queries.f32"), 0, nq, d)
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*d : (i+1)*d]
	}
	ctx := context.Background()
	recall := func(s pinrec.Searcher, truth [][]pinrec.Result, opts ...pinrec.SearchOption) float64 {
		hit, total := 0, 0
		for i, q := range queries {
			res, err := s.Search(ctx, q, 10, opts...)
			check(err)
			in := map[string]bool{}
			for _, r := range res {
				in[r.ID] = true
			}
			for _, r := range truth[i] {
				if in[r.ID] {
					hit++
				}
				total++
			}
		}
		return float64(hit) / float64(total)
	}
	latency := func(opts ...pinrec.SearchOption) float64 {
		runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(2)
		lq := queries[:min(nlat, nq)]
		best := 1e9
		for rep := 0; rep < 3; rep++ {
			t0 := time.Now()
			for _, q := range lq {
				_, err := a.Search(ctx, q, 10, opts...)
				check(err)
			}
			best = min(best, time.Since(t0).Seconds()/float64(len(lq)))
		}
		return best
	}
	rare := pinrec.WithFilter(func(id string, _ map[string]string) bool {
		i, err := strconv.Atoi(id)
		return err == nil && i%100 == 7
	})
	exact := a.Exact()
	truthF, err := exact.SearchBatch(ctx, queries, 10, rare)
	check(err)
	filtered := recall(a, truthF, rare)
	latF, latU := latency(rare), latency()
	log.Printf("filter keeping 1%%: recall@10 %.4f, %.3f ms vs %.3f ms unfiltered (1 thread)", filtered, latF*1e3, latU*1e3)

	truth, err := exact.SearchBatch(ctx, queries, 10)
	check(err)
	before := recall(a, truth)
	ids := exact.IDs()
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	gone := ids[:len(ids)/10]
	items := make([]pinrec.Item, len(gone))
	for i, id := range gone {
		items[i], err = exact.Get(id)
		check(err)
	}
	t0 := time.Now()
	check(a.Remove(gone...))
	check(a.Add(items...))
	churnS := time.Since(t0).Seconds()
	after := recall(a, truth)
	a.Compact()
	compacted := recall(a, truth)
	log.Printf("churn of 10%%: recall@10 %.4f -> %.4f (%.0f s to remove and re-add), compacted %.4f", before, after, churnS, compacted)
	writeJSON(filepath.Join(dir, "churn.json"), map[string]any{"filtered_recall": filtered, "filtered_latency_s": latF,
		"unfiltered_latency_s": latU, "recall_before": before, "recall_after": after, "recall_compacted": compacted, "churn_s": churnS})
}
