package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"pinrec/ann"
)

type faissIndex struct {
	Name    string  `json:"name"`
	BuildS  float64 `json:"build_s"`
	RSSAnon int64   `json:"rss_anon"`
	Points  []point `json:"points"`
}

// interpLatency returns the latency at recall r, interpolated linearly between the two sweep
// points around it (points sorted by ef, recall rising); outside the sweep, NaN.
func interpLatency(pts []point, r float64) float64 {
	s := slices.Clone(pts)
	slices.SortFunc(s, func(a, b point) int { return cmpF(a.Recall, b.Recall) })
	for i := 1; i < len(s); i++ {
		a, b := s[i-1], s[i]
		if r >= a.Recall && r <= b.Recall {
			if b.Recall == a.Recall {
				return min(a.LatencyS, b.LatencyS)
			}
			f := (r - a.Recall) / (b.Recall - a.Recall)
			return a.LatencyS + f*(b.LatencyS-a.LatencyS)
		}
	}
	if len(s) > 0 && r <= s[0].Recall {
		return s[0].LatencyS // every FAISS point is at least as good: its fastest
	}
	return math.NaN()
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func report(dir string, n, d int) {
	var meta struct {
		Source string `json:"source"`
	}
	var gt struct {
		ExactSingleS float64 `json:"exact_single_s"`
	}
	var bj struct {
		BuildS      float64           `json:"build_s"`
		CalS        *float64          `json:"calibration_s_about"`
		Stats       map[string]string `json:"stats"`
		Calibration ann.Calibration   `json:"calibration"`
		RSSAnon     int64             `json:"rss_anon_build"`
		Kernel      string            `json:"kernel"`
	}
	var sj struct {
		Points    []point `json:"points"`
		RSSAnon   int64   `json:"rss_anon_loaded"`
		DefaultEf int     `json:"default_ef"`
		// The default search (no efSearch given) on every query: mean recall@10 and its
		// standard error; latency is timed on the first TimedQueries, best of Passes.
		DefaultRecall   float64 `json:"default_recall"`
		DefaultRecallSE float64 `json:"default_recall_se"`
		Queries         int     `json:"queries"`
		TimedQueries    int     `json:"timed_queries"`
		Passes          int     `json:"passes"`
	}
	var fj struct {
		Version string       `json:"faiss_version"`
		Indexes []faissIndex `json:"indexes"`
	}
	var pj struct {
		Indexes []faissIndex `json:"indexes"`
	}
	var cj struct {
		FilteredRecall     float64 `json:"filtered_recall"`
		FilteredLatencyS   float64 `json:"filtered_latency_s"`
		FilteredMetaRecall float64 `json:"filtered_meta_recall"`
		FilteredMetaS      float64 `json:"filtered_meta_latency_s"`
		UnfilteredLatencyS float64 `json:"unfiltered_latency_s"`
		RecallBefore       float64 `json:"recall_before"`
		RecallAfter        float64 `json:"recall_after"`
		RecallCompacted    float64 `json:"recall_compacted"`
	}
	readJSON(filepath.Join(dir, "meta.json"), &meta)
	readJSON(filepath.Join(dir, "gt.json"), &gt)
	readJSON(filepath.Join(dir, "build.json"), &bj)
	readJSON(filepath.Join(dir, "search.json"), &sj)
	readJSON(filepath.Join(dir, "faiss.json"), &fj)
	if _, err := os.Stat(filepath.Join(dir, "peers.json")); err == nil {
		readJSON(filepath.Join(dir, "peers.json"), &pj)
	}
	readJSON(filepath.Join(dir, "churn.json"), &cj)
	data := "synthetic ResNet50-like vectors (bench/synth_embeddings.py)"
	target := 0.95
	if meta.Source == "fashion-mnist" {
		data = "Fashion-MNIST training images as pixel vectors, test images as queries"
		target = 0.99
	}
	vecBytes := float64(n) * float64(d) * 4
	fmt.Printf("\nANN benchmark: %s, n=%d d=%d (float32 vectors %.2f GB), k=10, recall@10 against the exact top-10\n", data, n, d, vecBytes/1e9)
	fmt.Printf("CPU: %s\n", cpuModel())
	fmt.Printf("pinrec: HNSW M=%s efConstruction=%s codec=%s kernels %s, default efSearch %d (calibrated for recall %.2f: %.4f on %d held-out items); FAISS %s\n",
		bj.Stats["m"], bj.Stats["ef_construction"], bj.Stats["codec"], bj.Kernel, sj.DefaultEf, bj.Calibration.Target,
		bj.Calibration.Recall, bj.Calibration.Queries, fj.Version)
	fmt.Printf("recall@10: all %d queries; latency: one query at a time on 1 thread, the first %d queries, best of %d passes over the sweep (pinrec and every peer alike); QPS: single queries on 2 threads; build: 2 threads; memory: resident anonymous bytes of the loaded index\n\n",
		sj.Queries, sj.TimedQueries, sj.Passes)
	fmt.Printf("%-30s %6s %9s %12s %10s %10s %12s\n", "index", "ef", "recall@10", "latency ms", "QPS 2thr", "build s", "memory MB")
	row := func(name string, buildS float64, mem int64, pts []point) {
		for i, p := range pts {
			b, m := "", ""
			if i == 0 {
				b = fmt.Sprintf("%.1f", buildS)
				m = fmt.Sprintf("%.0f", float64(mem)/1e6)
			}
			fmt.Printf("%-30s %6d %9.4f %12.3f %10.0f %10s %12s\n", name, p.Ef, p.Recall, p.LatencyS*1e3, p.QPS2, b, m)
		}
	}
	row("pinrec hnsw "+bj.Stats["codec"], bj.BuildS, sj.RSSAnon, sj.Points)
	var flat *faissIndex
	peers := []faissIndex{}
	for i := range fj.Indexes {
		fi := fj.Indexes[i]
		fi.Name = "faiss " + fi.Name
		peers = append(peers, fi)
		if flat == nil {
			flat = &fj.Indexes[i] // the first is IndexHNSWFlat(d, 32)
		}
	}
	peers = append(peers, pj.Indexes...)
	for _, p := range peers {
		row(p.Name, p.BuildS, p.RSSAnon, p.Points)
	}
	fmt.Printf("%-30s %6s %9s %12.3f %10s %10s %12.0f\n", "pinrec exact Index", "-", "1.0000", gt.ExactSingleS*1e3, "", "", vecBytes/1e6)

	var def point
	for _, p := range sj.Points {
		if p.Ef == sj.DefaultEf {
			def = p
		}
	}
	fmt.Printf("\nlatency at recall %.2f, interpolated between sweep points (NaN: the sweep does not reach it):\n", target)
	ours := interpLatency(sj.Points, target)
	fmt.Printf("  %-28s %.3f ms\n", "pinrec", ours*1e3)
	best, bestName := math.NaN(), ""
	for _, p := range peers {
		l := interpLatency(p.Points, target)
		fmt.Printf("  %-28s %.3f ms\n", p.Name, l*1e3)
		if !math.IsNaN(l) && (math.IsNaN(best) || l < best) {
			best, bestName = l, p.Name
		}
	}
	fmt.Printf("pinrec's default search (efSearch %d at k=10): recall@10 %.4f (standard error %.4f, %d queries), %.3f ms; fastest peer at %.2f: %s\n",
		sj.DefaultEf, sj.DefaultRecall, sj.DefaultRecallSE, sj.Queries, def.LatencyS*1e3, target, bestName)
	fmt.Printf("filter keeping 1%%: recall@10 %.4f, %.3f ms vs %.3f ms unfiltered; churn of 10%%: recall@10 %.4f -> %.4f, %.4f after Compact\n",
		cj.FilteredRecall, cj.FilteredLatencyS*1e3, cj.UnfilteredLatencyS*1e3, cj.RecallBefore, cj.RecallAfter, cj.RecallCompacted)
	mem, _ := strconv.ParseFloat(bj.Stats["memory_bytes"], 64)
	if bj.CalS != nil {
		fmt.Printf("pinrec build %.1f s, of which the calibration about %.1f s (exact top 10 and searches of the held-out items)\n", bj.BuildS, *bj.CalS)
	}
	fmt.Printf("pinrec graph+codes by count: %.0f MB (%.3f of the vectors)\n", mem/1e6, mem/vecBytes)
	fmt.Printf("ann_data=%s\n", map[bool]string{true: "fashion-mnist", false: "synthetic"}[meta.Source == "fashion-mnist"])
	fmt.Printf("ann_n=%d\n", n)
	fmt.Printf("ann_default_recall_at_10=%.4f\n", sj.DefaultRecall)
	fmt.Printf("ann_default_recall_se=%.4f\n", sj.DefaultRecallSE)
	fmt.Printf("ann_default_recall_queries=%d\n", sj.Queries)
	fmt.Printf("ann_latency_ratio_vs_best_peer=%.3f\n", ours/best)
	fmt.Printf("ann_build_ratio_vs_faiss=%.3f\n", bj.BuildS/flat.BuildS)
	fmt.Printf("ann_memory_fraction=%.3f\n", float64(sj.RSSAnon)/vecBytes)
	fmt.Printf("ann_churn_recall_drop=%.4f\n", cj.RecallBefore-cj.RecallAfter)
	fmt.Printf("ann_filtered_recall_at_10=%.4f\n", cj.FilteredRecall)
	fmt.Printf("ann_filtered_latency_ratio=%.3f\n", cj.FilteredLatencyS/cj.UnfilteredLatencyS)
	if cj.FilteredMetaS > 0 {
		// The same 1% as a metadata match (pinrec.WithMeta: inverted lists, no call per item).
		fmt.Printf("ann_filtered_meta_recall_at_10=%.4f\n", cj.FilteredMetaRecall)
		fmt.Printf("ann_filtered_meta_latency_ratio=%.3f\n", cj.FilteredMetaS/cj.UnfilteredLatencyS)
	}
	fmt.Printf("ann_speedup_vs_exact=%.1f\n", gt.ExactSingleS/def.LatencyS)
}

// cpuModel returns the "model name" line of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown"
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	check(err)
	check(json.Unmarshal(b, v))
}
