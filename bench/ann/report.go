package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	var gt struct {
		ExactSingleS float64 `json:"exact_single_s"`
	}
	var bj struct {
		BuildS  float64           `json:"build_s"`
		Stats   map[string]string `json:"stats"`
		RSSAnon int64             `json:"rss_anon_build"`
		Kernel  string            `json:"kernel"`
	}
	var sj struct {
		Points    []point `json:"points"`
		RSSAnon   int64   `json:"rss_anon_loaded"`
		DefaultEf int     `json:"default_ef"`
	}
	var fj struct {
		Version string       `json:"faiss_version"`
		Indexes []faissIndex `json:"indexes"`
	}
	readJSON(filepath.Join(dir, "gt.json"), &gt)
	readJSON(filepath.Join(dir, "build.json"), &bj)
	readJSON(filepath.Join(dir, "search.json"), &sj)
	readJSON(filepath.Join(dir, "faiss.json"), &fj)
	vecBytes := float64(n) * float64(d) * 4
	fmt.Printf("\nANN benchmark: n=%d d=%d (float32 vectors %.2f GB), k=10, recall@10 against the exact top-10\n", n, d, vecBytes/1e9)
	fmt.Printf("pinrec: HNSW M=%s efConstruction=%s codec=%s kernels %s; FAISS %s\n",
		bj.Stats["m"], bj.Stats["ef_construction"], bj.Stats["codec"], bj.Kernel, fj.Version)
	fmt.Printf("latency: one query at a time on 1 thread; QPS: single queries on 2 threads; memory: resident anonymous bytes of the loaded index\n\n")
	fmt.Printf("%-26s %6s %9s %12s %10s %10s %12s\n", "index", "ef", "recall@10", "latency ms", "QPS 2thr", "build s", "memory MB")
	row := func(name string, buildS float64, mem int64, pts []point) {
		for i, p := range pts {
			b, m := "", ""
			if i == 0 {
				b = fmt.Sprintf("%.1f", buildS)
				m = fmt.Sprintf("%.0f", float64(mem)/1e6)
			}
			fmt.Printf("%-26s %6d %9.4f %12.3f %10.0f %10s %12s\n", name, p.Ef, p.Recall, p.LatencyS*1e3, p.QPS2, b, m)
		}
	}
	row("pinrec hnsw "+bj.Stats["codec"], bj.BuildS, sj.RSSAnon, sj.Points)
	var flat *faissIndex
	for i := range fj.Indexes {
		fi := &fj.Indexes[i]
		row("faiss "+fi.Name, fi.BuildS, fi.RSSAnon, fi.Points)
		if flat == nil {
			flat = fi // the first is IndexHNSWFlat(d, 32)
		}
	}
	fmt.Printf("%-26s %6s %9s %12.3f %10s %10s %12.0f\n", "pinrec exact Index", "-", "1.0000", gt.ExactSingleS*1e3, "", "", vecBytes/1e6)

	var def point
	for _, p := range sj.Points {
		if p.Ef == sj.DefaultEf {
			def = p
		}
	}
	flatLat := interpLatency(flat.Points, def.Recall)
	fmt.Printf("\nat pinrec's default efSearch=%d: recall@10 %.4f, %.3f ms; FAISS HNSWFlat interpolated at that recall: %.3f ms\n",
		sj.DefaultEf, def.Recall, def.LatencyS*1e3, flatLat*1e3)
	mem, _ := strconv.ParseFloat(bj.Stats["memory_bytes"], 64)
	fmt.Printf("pinrec graph+codes by count: %.0f MB (%.3f of the vectors)\n", mem/1e6, mem/vecBytes)
	fmt.Printf("ann_n=%d\n", n)
	fmt.Printf("ann_recall_at_10=%.4f\n", def.Recall)
	fmt.Printf("ann_latency_ratio_vs_faiss=%.3f\n", def.LatencyS/flatLat)
	fmt.Printf("ann_speedup_vs_exact=%.1f\n", gt.ExactSingleS/def.LatencyS)
	fmt.Printf("ann_memory_fraction=%.3f\n", float64(sj.RSSAnon)/vecBytes)
	fmt.Printf("ann_build_ratio_vs_faiss=%.3f\n", bj.BuildS/flat.BuildS)
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	check(err)
	check(json.Unmarshal(b, v))
}
