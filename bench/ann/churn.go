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

// churn measures, at the index's default efSearch, filtered search against the exact filtered
// top 10 and its 1-thread latency against the unfiltered search's, for two filters that keep
// the same 1% of the items, unrelated to the vectors (IDs whose number is 7 mod 100): a filter
// function (pinrec.WithFilter, called per item: the filtered_* figures) and a metadata match
// (pinrec.WithMeta("bucket", "7") on a "bucket" key, ID mod 100, that churn adds to every
// item before opening the graph: the filtered_meta_* figures). Then the recall after removing
// 10% of the items at random and adding them back. The exact index is read into RAM (the
// churn changes it). Writes D/churn.json.
// churnQueries bounds the queries the filtered and churn figures use.
const churnQueries = 1000

func churn(dir string, d, nlat int) {
	var gtf struct {
		GT [][]int `json:"gt"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "gt.json"))
	check(err)
	check(json.Unmarshal(b, &gtf))
	// The first 1,000 queries: at a million items the exact filtered and unfiltered top 10
	// of every query would cost minutes each.
	nq := min(len(gtf.GT), churnQueries)
	ix, err := pinrec.Load(filepath.Join(dir, "exact.idx"), pinrec.WithoutVectorChecksum())
	check(err)
	// The bucket metadata, replaced in place (rows and vectors unchanged), in chunks so that
	// the copies of the vectors stay small.
	all := ix.IDs()
	for lo := 0; lo < len(all); lo += 10000 {
		chunk := make([]pinrec.Item, 0, 10000)
		for _, id := range all[lo:min(lo+10000, len(all))] {
			it, err := ix.Get(id)
			check(err)
			i, err := strconv.Atoi(id)
			check(err)
			if it.Meta == nil {
				it.Meta = map[string]string{}
			}
			it.Meta["bucket"] = strconv.Itoa(i % 100)
			chunk = append(chunk, it)
		}
		check(ix.Add(chunk...))
	}
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
	// latency returns the best of 5 rounds of each option set's mean 1-thread latency, the sets
	// taking turns within each round so that a change of load hits them alike.
	latency := func(sets ...[]pinrec.SearchOption) []float64 {
		runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(2)
		lq := queries[:min(nlat, nq)]
		best := make([]float64, len(sets))
		for i := range best {
			best[i] = 1e9
		}
		for rep := 0; rep < 5; rep++ {
			for i, opts := range sets {
				t0 := time.Now()
				for _, q := range lq {
					_, err := a.Search(ctx, q, 10, opts...)
					check(err)
				}
				best[i] = min(best[i], time.Since(t0).Seconds()/float64(len(lq)))
			}
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
	bucket := pinrec.WithMeta("bucket", "7")
	truthM, err := exact.SearchBatch(ctx, queries, 10, bucket)
	check(err)
	filteredM := recall(a, truthM, bucket)
	lat := latency(nil, []pinrec.SearchOption{rare}, []pinrec.SearchOption{bucket})
	latU, latF, latM := lat[0], lat[1], lat[2]
	log.Printf("filter function keeping 1%%: recall@10 %.4f, %.3f ms vs %.3f ms unfiltered (1 thread, ratio %.2f)", filtered, latF*1e3, latU*1e3, latF/latU)
	log.Printf("metadata match keeping 1%%: recall@10 %.4f, %.3f ms vs %.3f ms unfiltered (1 thread, ratio %.2f)", filteredM, latM*1e3, latU*1e3, latM/latU)

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
		"unfiltered_latency_s": latU, "filtered_meta_recall": filteredM, "filtered_meta_latency_s": latM, "recall_before": before, "recall_after": after, "recall_compacted": compacted, "churn_s": churnS})
}
