package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"

	"pinrec"
)

// evalReport is what eval prints with -json.
type evalReport struct {
	Index   string    `json:"index"`
	Queries int       `json:"queries"`
	Labels  int       `json:"labels"`
	Skipped int       `json:"skipped"` // queries whose label has no other item
	Rows    []evalRow `json:"results"`
}

type evalRow struct {
	K         int     `json:"k"`
	Precision float64 `json:"precision"`
	MAP       float64 `json:"map"`
}

// label is an item's label: the folder holding it ("." at the top).
func label(id string) string { return path.Dir(id) }

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "-index FILE [-k 1,5,10] [-sample N] [-seed S] [-json]", stdout)
	var store storeFlags
	store.register(fs, "(required)")
	ksFlag := fs.String("k", "1,5,10", "comma-separated cut-offs K")
	sample := fs.Int("sample", 0, "query a seeded random sample of `N` items (0: every item)")
	seed := fs.Uint64("seed", 1, "seed of -sample")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	ks, err := parseKs(*ksFlag)
	if err != nil {
		return err
	}
	if *sample < 0 {
		return usagef("-sample %d: want 0 or more", *sample)
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	rep, err := evaluate(ctx, ix, ix.IDs(), ks, *sample, *seed)
	if err != nil {
		return err
	}
	rep.Index = store.String()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	what := "every item"
	if *sample > 0 && *sample < ix.Len() {
		what = fmt.Sprintf("a sample of %d items (seed %d)", rep.Queries+rep.Skipped, *seed)
	}
	fmt.Fprintf(stdout, "eval %s: leave-one-out queries of %s, %d labels (label = parent folder)\n", store, what, rep.Labels)
	if rep.Skipped > 0 {
		fmt.Fprintf(stdout, "  %d queries left out: no other item has their label\n", rep.Skipped)
	}
	fmt.Fprintf(stdout, "  %4s  %11s  %7s\n", "K", "precision@K", "mAP@K")
	for _, r := range rep.Rows {
		fmt.Fprintf(stdout, "  %4d  %11.4f  %7.4f\n", r.K, r.Precision, r.MAP)
	}
	return nil
}

func parseKs(s string) ([]int, error) {
	var ks []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			return nil, usagef("-k %q: want positive integers separated by commas", s)
		}
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return slices.Compact(ks), nil
}

// evaluate runs a leave-one-out Similar query for each (sampled) item of ids and averages, for each
// K, precision@K (the share of the top K with the query's label) and AP@K: the mean of the
// precision at each rank i <= K that holds a relevant item, divided by min(K, R), R being
// the number of other items with the query's label. Queries with R = 0 are left out.
func evaluate(ctx context.Context, ix pinrec.Searcher, ids []string, ks []int, sample int, seed uint64) (evalReport, error) {
	var rep evalReport
	count := map[string]int{}
	for _, id := range ids {
		count[label(id)]++
	}
	rep.Labels = len(count)
	queries := ids
	if sample > 0 && sample < len(ids) {
		r := rand.New(rand.NewPCG(seed, 0x70696e726563))
		perm := r.Perm(len(ids))[:sample]
		slices.Sort(perm) // index order, so the output does not depend on the permutation's order
		queries = make([]string, sample)
		for i, p := range perm {
			queries[i] = ids[p]
		}
	}
	maxK := ks[len(ks)-1]
	prec := make([]float64, len(ks))
	ap := make([]float64, len(ks))
	for _, q := range queries {
		lq := label(q)
		rel := count[lq] - 1
		if rel == 0 {
			rep.Skipped++
			continue
		}
		res, err := ix.Similar(ctx, q, maxK)
		if err != nil {
			return rep, err
		}
		hits, sumP := 0, 0.0
		ki := 0
		for i := 0; i < maxK; i++ {
			if i < len(res) && label(res[i].ID) == lq {
				hits++
				sumP += float64(hits) / float64(i+1)
			}
			for ki < len(ks) && ks[ki] == i+1 {
				prec[ki] += float64(hits) / float64(ks[ki])
				ap[ki] += sumP / float64(min(ks[ki], rel))
				ki++
			}
		}
		rep.Queries++
	}
	for i, k := range ks {
		row := evalRow{K: k}
		if rep.Queries > 0 {
			row.Precision = prec[i] / float64(rep.Queries)
			row.MAP = ap[i] / float64(rep.Queries)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}
