// Command benchann is the pinrec side of bench/ann/run.sh (make bench-ann). Each phase runs
// in its own process so that memory figures are the phase's own:
//
//	benchann exact  -dir D          base.f32 -> D/exact.idx (pinrec's exact index), then the
//	                                exact top-10 of every query (D/gt.json) and the exact index's
//	                                1-thread single-query time, from the index memory-mapped
//	benchann build  -dir D ...      ann.Build on the mapped exact index (2 threads), saved as
//	                                D/ann.idx; build time and resident memory in D/build.json
//	benchann search -dir D -ef L    opens D/ann.idx mapped, sweeps efSearch: recall@10 of every
//	                                query against gt.json (and of the default search, with its
//	                                standard error), then 1-thread single-query latency and
//	                                2-thread QPS of the first -nlat queries, best of -reps passes
//	benchann kscale -dir D -k L     recall@k and time of the default search and of -ef's values
//	                                for each k of L (the default's scaling with k)
//	benchann report -dir D          prints the table beside FAISS's (faiss.json) and the
//	                                name=value lines
//
// Run it through bench/ann/run.sh, not by hand.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"pinrec"
	"pinrec/ann"
	"pinrec/internal/sq8"
	"pinrec/internal/stats"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: benchann exact|build|search|report -dir D ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "benchmark folder (base.f32, queries.f32, meta.json)")
	m := fs.Int("m", ann.DefaultM, "HNSW M")
	efc := fs.Int("efc", ann.DefaultEfConstruction, "efConstruction")
	efs := fs.Int("efs", 0, "default efSearch recorded in the file (0: calibrated for -target)")
	target := fs.Float64("target", ann.DefaultTargetRecall, "build: target recall@10 of the default efSearch")
	codec := fs.String("codec", ann.CodecSQ8, "codec")
	threads := fs.Int("threads", 2, "build threads")
	efList := fs.String("ef", "16,32,48,64,96,128,192,256", "efSearch values to sweep")
	nlat := fs.Int("nlat", 200, "queries timed for latency and QPS (the first ones)")
	reps := fs.Int("reps", 3, "search: timed passes over the sweep; each point keeps its best")
	rerank := fs.Int("rerank", 0, "search: candidates re-ranked exactly (0: the index's default, max(2k, k+10), at most ef)")
	kList := fs.String("k", "10,20,30", "kscale: the k of the searches")
	nq := fs.Int("nq", 1000, "kscale: queries scored (the first ones)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the phase to this file")
	check(fs.Parse(os.Args[2:]))
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() {
			pprof.StopCPUProfile()
			check(f.Close())
		}()
	}
	var meta struct{ N, Nq, D int }
	b, err := os.ReadFile(filepath.Join(*dir, "meta.json"))
	check(err)
	check(json.Unmarshal(b, &meta))
	switch os.Args[1] {
	case "exact":
		exact(*dir, meta.N, meta.Nq, meta.D, *nlat)
	case "build":
		build(*dir, *m, *efc, *efs, *target, *codec, *threads)
	case "search":
		search(*dir, meta.D, parseInts(*efList), *nlat, *reps, *rerank)
	case "churn":
		churn(*dir, meta.D, *nlat)
	case "kscale":
		kscale(*dir, meta.D, parseInts(*kList), parseInts(*efList), *nq, *nlat)
	case "report":
		report(*dir, meta.N, meta.D)
	default:
		log.Fatalf("unknown phase %q", os.Args[1])
	}
}

// readRows reads count rows of d float32 from path (little-endian hosts).
func readRows(path string, lo, count, d int) []float32 {
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	v := make([]float32, count*d)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	_, err = f.ReadAt(buf, int64(lo)*int64(d)*4)
	check(err)
	return v
}

func exact(dir string, n, nq, d, nlat int) {
	path := filepath.Join(dir, "exact.idx")
	if _, err := os.Stat(path); err != nil {
		ix, err := pinrec.NewIndex(d, pinrec.WithCapacity(n))
		check(err)
		const chunk = 10000
		for lo := 0; lo < n; lo += chunk {
			c := min(chunk, n-lo)
			rows := readRows(filepath.Join(dir, "base.f32"), lo, c, d)
			items := make([]pinrec.Item, c)
			for i := range items {
				items[i] = pinrec.Item{ID: strconv.Itoa(lo + i), Vector: rows[i*d : (i+1)*d]}
			}
			check(ix.Add(items...))
		}
		check(ix.Save(path))
		ix = nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	ix, err := pinrec.Load(path, pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
	check(err)
	defer ix.Close()
	qs := readRows(filepath.Join(dir, "queries.f32"), 0, nq, d)
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*d : (i+1)*d]
	}
	ctx := context.Background()
	t0 := time.Now()
	res, err := ix.SearchBatch(ctx, queries, 10)
	check(err)
	batchS := time.Since(t0).Seconds()
	gt := make([][]int, nq)
	for i, r := range res {
		for _, x := range r {
			id, _ := strconv.Atoi(x.ID)
			gt[i] = append(gt[i], id)
		}
	}
	// The exact index's single-query time on one thread, over a few queries, best of 3.
	runtime.GOMAXPROCS(1)
	single := 1e9
	for rep := 0; rep < 3; rep++ {
		t0 := time.Now()
		for _, q := range queries[:min(10, nq)] {
			_, err := ix.Search(ctx, q, 10)
			check(err)
		}
		single = min(single, time.Since(t0).Seconds()/float64(min(10, nq)))
	}
	writeJSON(filepath.Join(dir, "gt.json"), map[string]any{"gt": gt, "exact_single_s": single, "exact_batch_s": batchS})
	log.Printf("exact: %d queries, batch %.2f s; single query on 1 thread %.2f ms", nq, batchS, single*1e3)
}

// rssAnon returns the process's resident anonymous memory (RssAnon in /proc/self/status),
// which leaves out the pages of the memory-mapped vectors.
func rssAnon() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

func build(dir string, m, efc, efs int, target float64, codec string, threads int) {
	ix, err := pinrec.Load(filepath.Join(dir, "exact.idx"), pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
	check(err)
	before := rssAnon()
	var ru0 syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru0))
	cpu0 := float64(ru0.Utime.Nano()+ru0.Stime.Nano()) / 1e9
	t0 := time.Now()
	last := time.Now()
	// The calibration runs after the graph holds all but the held-out items (min(6000, n/10))
	// and before those go in: the progress reports around that point date it.
	n := ix.Len()
	held := 0
	if target > 0 && n >= 2 {
		held = min(6000, max(1, n/10))
	}
	var (
		restAt, restDone   float64 // the last report at or before n-held: seconds, nodes
		afterAt, afterDone float64 // the first report after it
		prevAt, prevDone   float64 // the report before restAt, for the insertion rate
	)
	opts := []ann.Option{ann.WithM(m), ann.WithEfConstruction(efc), ann.WithTargetRecall(target),
		ann.WithCodec(codec), ann.WithWorkers(threads), ann.WithProgress(func(done, total int) {
			now := time.Since(t0).Seconds()
			if done <= n-held {
				prevAt, prevDone, restAt, restDone = restAt, restDone, now, float64(done)
			} else if afterDone == 0 {
				afterAt, afterDone = now, float64(done)
			}
			if time.Since(last) > 10*time.Second || done == total {
				last = time.Now()
				log.Printf("  build: %d/%d nodes, %.0f s", done, total, time.Since(t0).Seconds())
			}
		})}
	if efs > 0 {
		opts = append(opts, ann.WithEfSearch(efs))
	}
	a, err := ann.Build(context.Background(), ix, opts...)
	check(err)
	buildS := time.Since(t0).Seconds()
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	buildCPU := float64(ru.Utime.Nano()+ru.Stime.Nano())/1e9 - cpu0
	// The calibration's wall time, about: the gap between the reports around the held-out
	// items' insertion, less the nodes inserted in it at the rate of the reports before.
	calS := math.NaN()
	if afterDone > 0 && restAt > prevAt && restDone > prevDone {
		perNode := (restAt - prevAt) / (restDone - prevDone)
		calS = afterAt - restAt - (afterDone-restDone)*perNode
	}
	runtime.GC()
	st := a.Stats()
	check(saveANN(a, filepath.Join(dir, "ann.idx")))
	writeJSON(filepath.Join(dir, "build.json"), map[string]any{"build_s": buildS, "build_cpu_s": buildCPU, "stats": st, "calibration": a.Calibration(),
		"calibration_s_about": jsonNum(calS), "rss_anon_build": rssAnon() - before, "kernel": sq8.Kernel()})
	log.Printf("build: %.1f s (CPU %.1f s; the calibration about %.1f s of it), %s", buildS, buildCPU, calS, fmt.Sprint(st))
}

type point struct {
	Ef       int     `json:"ef"`
	Recall   float64 `json:"recall"`
	LatencyS float64 `json:"latency_s"`
	QPS2     float64 `json:"qps2"`
	// CPUS is the thread's CPU time per query (best of the passes), which a busy machine
	// inflates less than LatencyS.
	CPUS float64 `json:"cpu_s,omitempty"`
}

// threadCPU returns the calling OS thread's user+system CPU time in seconds (the caller has
// locked its goroutine to the thread).
func threadCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// recallPer returns, per query, the share of its exact top 10 (gt) that a search with opts
// finds, the queries split over two goroutines.
func recallPer(a *ann.Index, queries [][]float32, gt [][]int, opts ...pinrec.SearchOption) []float64 {
	ctx := context.Background()
	per := make([]float64, len(queries))
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < len(queries); i += 2 {
				res, err := a.Search(ctx, queries[i], 10, opts...)
				check(err)
				hit := 0
				for _, r := range res {
					id, _ := strconv.Atoi(r.ID)
					if slices.Contains(gt[i], id) {
						hit++
					}
				}
				per[i] = float64(hit) / float64(max(1, len(gt[i])))
			}
		})
	}
	wg.Wait()
	return per
}

// search scores recall@10 on every query at every efSearch of efs (and the default search,
// with no efSearch given), then times the first nlat queries at each efSearch in reps
// passes: a pass times every point once (1 thread, then 2 threads), odd passes in rising
// order of efSearch, even ones falling, and each point keeps its best pass, so that a slow
// spell of the machine costs one pass of some points, not every pass of one point.
func search(dir string, d int, efs []int, nlat, reps, rerank int) {
	var gtf struct {
		GT [][]int `json:"gt"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "gt.json"))
	check(err)
	check(json.Unmarshal(b, &gtf))
	nq := len(gtf.GT)
	before := rssAnon()
	a, err := openANN(filepath.Join(dir, "ann.idx"), ann.WithRerank(rerank))
	check(err)
	defer a.Close()
	runtime.GC()
	debug.FreeOSMemory()
	resident := rssAnon() - before
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	log.Printf("loaded: resident anonymous %.1f MB over the process before loading; Go heap in use %.1f MB, runtime total from the OS %.1f MB; index by count %s bytes",
		float64(resident)/1e6, float64(ms.HeapInuse)/1e6, float64(ms.Sys)/1e6, a.Stats()["memory_bytes"])
	qs := readRows(filepath.Join(dir, "queries.f32"), 0, nq, d)
	queries := make([][]float32, nq)
	for i := range queries {
		queries[i] = qs[i*d : (i+1)*d]
	}
	ctx := context.Background()
	defaultEf, _ := strconv.Atoi(a.Stats()["ef_search"])
	if !slices.Contains(efs, defaultEf) {
		efs = append(efs, defaultEf)
		slices.Sort(efs)
	}
	// The default search: no efSearch given, as a user searches.
	t0 := time.Now()
	defPer := recallPer(a, queries, gtf.GT)
	defRecall, defSE := stats.MeanSE(defPer)
	log.Printf("  default search (efSearch %d for k=10): recall@10 %.4f, standard error %.4f, %d queries (%.0f s)", defaultEf, defRecall, defSE, nq, time.Since(t0).Seconds())
	pts := make([]point, len(efs))
	for i, ef := range efs {
		t0 := time.Now()
		per := recallPer(a, queries, gtf.GT, pinrec.WithEffort(ef))
		pts[i] = point{Ef: ef, LatencyS: math.Inf(1), CPUS: math.Inf(1)}
		pts[i].Recall, _ = stats.MeanSE(per)
		log.Printf("  ef %4d: recall@10 %.4f on %d queries (%.0f s, 2 threads)", ef, pts[i].Recall, nq, time.Since(t0).Seconds())
	}
	lq := queries[:min(nlat, nq)]
	for pass := range reps {
		for j := range efs {
			i := j
			if pass%2 == 1 {
				i = len(efs) - 1 - j
			}
			p := &pts[i]
			opt := pinrec.WithEffort(p.Ef)
			runtime.GOMAXPROCS(1)
			runtime.LockOSThread()
			t0, c0 := time.Now(), threadCPU()
			for _, q := range lq {
				_, err := a.Search(ctx, q, 10, opt)
				check(err)
			}
			p.LatencyS = min(p.LatencyS, time.Since(t0).Seconds()/float64(len(lq)))
			p.CPUS = min(p.CPUS, (threadCPU()-c0)/float64(len(lq)))
			runtime.UnlockOSThread()
			runtime.GOMAXPROCS(2)
			t0 = time.Now()
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					for i := w; i < len(lq); i += 2 {
						_, err := a.Search(ctx, lq[i], 10, opt)
						check(err)
					}
				})
			}
			wg.Wait()
			p.QPS2 = max(p.QPS2, float64(len(lq))/time.Since(t0).Seconds())
		}
		log.Printf("  timing pass %d of %d done", pass+1, reps)
	}
	for _, p := range pts {
		log.Printf("  ef %4d: recall@10 %.4f, %.3f ms/query (1 thread, best of %d passes over %d queries; CPU %.3f ms), %.0f QPS (2 threads)",
			p.Ef, p.Recall, p.LatencyS*1e3, reps, len(lq), p.CPUS*1e3, p.QPS2)
	}
	writeJSON(filepath.Join(dir, "search.json"), map[string]any{"points": pts, "rss_anon_loaded": resident,
		"default_ef": defaultEf, "default_recall": defRecall, "default_recall_se": defSE, "queries": nq,
		"timed_queries": len(lq), "passes": reps})
}

// jsonNum is x, or nil for NaN (which JSON cannot hold).
func jsonNum(x float64) any {
	if math.IsNaN(x) {
		return nil
	}
	return x
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	check(err)
	return v
}

func itoa(v int) string { return strconv.Itoa(v) }

func writeJSON(path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	check(err)
	check(os.WriteFile(path, b, 0o644))
}

func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		check(err)
		out = append(out, v)
	}
	return out
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
