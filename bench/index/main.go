// Command benchindex is the pinrec side of bench/index/run.sh: it loads the benchmark's
// data (written by bench/index/index_faiss.py gen), builds an Index, measures its memory
// overhead, times one query and a batch with GOMAXPROCS = 1, 2, ... (best of -reps), and
// prints them beside FAISS's times and the measured read bandwidth, ending with name=value
// lines.
//
// FAISS's times come from the JSON files of index_faiss.py run (-faiss), or, with -faiss-cmd,
// from running it in -trials trials: in each trial and for each thread count, FAISS and pinrec
// are timed back to back, in alternating order (FAISS first in odd trials), so that both sides
// see the same load on a shared machine; each side keeps its best times over all trials, and
// each trial's ratio is printed too.
//
// Run it through bench/index/run.sh (make bench-index), not by hand.
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
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/cpu"

	"pinrec"
	"pinrec/internal/cpuinfo"
	"pinrec/internal/kernel"
)

type faissResult struct {
	Threads   int     `json:"threads"`
	Version   string  `json:"faiss_version"`
	BlasCore  string  `json:"blas_core"`
	AddS      float64 `json:"add_s"`
	SingleS   float64 `json:"single_s"`
	BatchS    float64 `json:"batch_s"`
	SingleCPU float64 `json:"single_cpu_s"`
	BatchCPU  float64 `json:"batch_cpu_s"`
	SingleIDs []int   `json:"single_ids"`
	BatchIDs  [][]int `json:"batch_ids"`
}

func main() {
	dir := flag.String("dir", "", "folder with base.f32 and queries.f32")
	n := flag.Int("n", 100000, "rows")
	d := flag.Int("d", 2048, "dimension")
	nq := flag.Int("nq", 100, "queries in the batch")
	k := flag.Int("k", 10, "results per query")
	reps := flag.Int("reps", 5, "repetitions (best is kept)")
	threads := flag.String("threads", "1,2", "GOMAXPROCS values, comma-separated; the last is the headline")
	faissFiles := flag.String("faiss", "", "FAISS result JSON files, one per thread count, comma-separated")
	faissCmd := flag.String("faiss-cmd", "", "command line of index_faiss.py (split at spaces) to run FAISS in each trial, writing its JSON to -dir")
	trials := flag.Int("trials", 1, "trials of FAISS and pinrec back to back (with -faiss-cmd)")
	bwFile := flag.String("bandwidth", "", "file of 'bandwidth threads=T gbps=X' lines")
	flag.Parse()
	log.SetFlags(0)

	tcounts := parseInts(*threads)
	faiss := map[int]faissResult{}
	for _, f := range strings.Split(*faissFiles, ",") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		check(err)
		var r faissResult
		check(json.Unmarshal(b, &r))
		faiss[r.Threads] = r
	}
	bw := readBandwidth(*bwFile)

	base := readF32(filepath.Join(*dir, "base.f32"), *n**d)
	queries := readF32(filepath.Join(*dir, "queries.f32"), *nq**d)
	qs := make([][]float32, *nq)
	for j := range qs {
		qs[j] = queries[j**d : (j+1)**d]
	}

	// Build the index the way a user would: Add in batches, no capacity hint.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ix, err := pinrec.NewIndex(*d)
	check(err)
	start := time.Now()
	const addBatch = 1000
	items := make([]pinrec.Item, 0, addBatch)
	for lo := 0; lo < *n; lo += addBatch {
		items = items[:0]
		for i := lo; i < min(*n, lo+addBatch); i++ {
			items = append(items, pinrec.Item{ID: strconv.Itoa(i), Vector: base[i**d : (i+1)**d]})
		}
		check(ix.Add(items...))
	}
	addTime := time.Since(start)
	items = nil
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(base) // counted in both readings
	raw := float64(*n) * float64(*d) * 4
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	overhead := (heap - raw) / raw
	base = nil // the index holds its own copy; FAISS, run between trials, needs the memory
	debug.FreeOSMemory()

	fmt.Printf("pinrec index benchmark: N=%d d=%d k=%d, batch of %d, best of %d; Go %s, AVX2=%v FMA=%v AVX512F=%v, %d CPUs\n",
		*n, *d, *k, *nq, *reps, runtime.Version(), cpu.X86.HasAVX2, cpu.X86.HasFMA, cpu.X86.HasAVX512F, runtime.NumCPU())
	fmt.Printf("CPU: %s\n", cpuinfo.Read())
	fmt.Printf("pinrec kernels: %s, batches' int16 first pass %s (PINREC_KERNEL=%q)\n", kernel.Name, kernel.I16Name, os.Getenv("PINREC_KERNEL"))
	if r, ok := faiss[tcounts[len(tcounts)-1]]; ok && *faissCmd == "" {
		fmt.Printf("FAISS %s IndexFlatL2 (faiss-cpu from PyPI), OpenBLAS kernels %s; add %.2f s\n", r.Version, r.BlasCore, r.AddS)
	}
	for _, t := range tcounts {
		fmt.Printf("read bandwidth, %d thread(s): %.2f GB/s (best of the probe's runs)\n", t, bw[t])
	}
	fmt.Printf("memory: raw vectors %.1f MB, index heap %.1f MB, overhead %.2f%% (goal <= 10%%)\n",
		raw/1e6, heap/1e6, 100*overhead)
	fmt.Printf("add: %d items in batches of %d: %.2f s\n", *n, addBatch, addTime.Seconds())

	ctx := context.Background()
	type row struct {
		name            string
		threads         int
		pinrec, faissS  float64
		pinrecCPU       float64
		faissCPU        float64
		gbps, fraction  float64
		agree, possible int
	}
	var rows []row
	var singleRatio, batchRatio, singleFraction float64
	type times struct{ st, sc, bt, bc float64 }
	mine := map[int]times{}
	var single []pinrec.Result
	var batch [][]pinrec.Result
	runPinrec := func(t int) times {
		runtime.GOMAXPROCS(t)
		st, sc := best(*reps, func() {
			single, err = ix.Search(ctx, qs[0], *k)
			check(err)
		})
		bt, bc := best(*reps, func() {
			batch, err = ix.SearchBatch(ctx, qs, *k)
			check(err)
		})
		return times{st, sc, bt, bc}
	}
	if *faissCmd == "" {
		*trials = 1
	}
	for r := 1; r <= *trials; r++ {
		for _, t := range tcounts {
			load := loadavg()
			var p times
			var f faissResult
			if *faissCmd == "" {
				p, f = runPinrec(t), faiss[t]
			} else if r%2 == 1 {
				f = runFaiss(*faissCmd, *dir, t, r, *n, *d, *nq, *k, *reps)
				p = runPinrec(t)
			} else {
				p = runPinrec(t)
				f = runFaiss(*faissCmd, *dir, t, r, *n, *d, *nq, *k, *reps)
			}
			fmt.Printf("trial %d, %d thread(s), load average %s -> %s: batch pinrec %.1f ms (cpu %.1f), FAISS %.1f ms (cpu %.1f), ratio %.3f (cpu %.3f); single %.2f ms (cpu %.2f) vs %.2f (cpu %.2f)\n",
				r, t, load, loadavg(), 1e3*p.bt, 1e3*p.bc, 1e3*f.BatchS, 1e3*f.BatchCPU, ratio(p.bt, f.BatchS), ratio(p.bc, f.BatchCPU),
				1e3*p.st, 1e3*p.sc, 1e3*f.SingleS, 1e3*f.SingleCPU)
			if b, ok := mine[t]; ok {
				p = times{min(p.st, b.st), min(p.sc, b.sc), min(p.bt, b.bt), min(p.bc, b.bc)}
			}
			mine[t] = p
			if *faissCmd != "" {
				if b, ok := faiss[t]; ok {
					f.SingleS, f.SingleCPU = min(f.SingleS, b.SingleS), min(f.SingleCPU, b.SingleCPU)
					f.BatchS, f.BatchCPU = min(f.BatchS, b.BatchS), min(f.BatchCPU, b.BatchCPU)
					f.AddS = min(f.AddS, b.AddS)
				}
				faiss[t] = f
			}
		}
	}
	if r, ok := faiss[tcounts[len(tcounts)-1]]; ok && *faissCmd != "" {
		fmt.Printf("FAISS %s IndexFlatL2 (faiss-cpu from PyPI), OpenBLAS kernels %s; add %.2f s\n", r.Version, r.BlasCore, r.AddS)
	}
	for _, t := range tcounts {
		st, sc, bt, bc := mine[t].st, mine[t].sc, mine[t].bt, mine[t].bc
		f := faiss[t]
		r1 := row{name: "single query", threads: t, pinrec: st, faissS: f.SingleS, pinrecCPU: sc, faissCPU: f.SingleCPU,
			gbps: raw / st / 1e9}
		r2 := row{name: fmt.Sprintf("batch of %d", *nq), threads: t, pinrec: bt, faissS: f.BatchS, pinrecCPU: bc,
			faissCPU: f.BatchCPU, gbps: raw / bt / 1e9}
		if bw[t] > 0 {
			r1.fraction = r1.gbps / bw[t]
		}
		if f.SingleIDs != nil {
			r1.agree, r1.possible = overlap(single, f.SingleIDs), len(f.SingleIDs)
			for j := range batch {
				r2.agree += overlap(batch[j], f.BatchIDs[j])
				r2.possible += len(f.BatchIDs[j])
			}
		}
		rows = append(rows, r1, r2)
		singleRatio, batchRatio, singleFraction = ratio(st, f.SingleS), ratio(bt, f.BatchS), r1.fraction
	}
	fmt.Printf("\n%-14s %7s %11s %11s %7s %10s %9s %14s %8s %8s %9s\n", "case", "threads", "pinrec ms", "faiss ms",
		"ratio", "pinrec GB/s", "of bw", "same top-k ids", "cpu ms", "faiss", "cpu ratio")
	for _, r := range rows {
		frac := "-"
		if r.fraction > 0 {
			frac = fmt.Sprintf("%.2f", r.fraction)
		}
		fmt.Printf("%-14s %7d %11.2f %11.2f %7.3f %10.2f %9s %8d/%d %8.1f %8.1f %9.3f\n", r.name, r.threads, 1e3*r.pinrec,
			1e3*r.faissS, ratio(r.pinrec, r.faissS), r.gbps, frac, r.agree, r.possible, 1e3*r.pinrecCPU, 1e3*r.faissCPU,
			ratio(r.pinrecCPU, r.faissCPU))
	}
	fmt.Printf("(ratio = pinrec time / FAISS time, best wall times over all trials; cpu = best process CPU time of all threads,\n" +
		" which other programs on a loaded machine inflate less. FAISS computes batches as |x|²+|q|²-2x·q in\n" +
		" float32, so a few near-tied neighbours may differ from pinrec's exact order)\n\n")
	fmt.Printf("memory_overhead_fraction=%.4f\n", overhead)
	for _, r := range rows {
		if strings.HasPrefix(r.name, "batch") {
			fmt.Printf("batch_ratio_vs_faiss_%dt=%.3f\n", r.threads, ratio(r.pinrec, r.faissS))
			fmt.Printf("batch_cpu_ratio_vs_faiss_%dt=%.3f\n", r.threads, ratio(r.pinrecCPU, r.faissCPU))
		}
	}
	fmt.Printf("single_ratio_vs_faiss=%.3f\n", singleRatio)
	fmt.Printf("batch_ratio_vs_faiss=%.3f\n", batchRatio)
	fmt.Printf("single_bandwidth_fraction=%.3f\n", singleFraction)
	runtime.KeepAlive(ix)
}

// best runs fn reps times and returns its best wall time and its best CPU time (all of the
// process's threads, garbage collection included), in seconds.
func best(reps int, fn func()) (wall, cpu float64) {
	wall, cpu = math.Inf(1), math.Inf(1)
	for range reps {
		t0, c0 := time.Now(), processCPU()
		fn()
		wall = min(wall, time.Since(t0).Seconds())
		cpu = min(cpu, processCPU()-c0)
	}
	return wall, cpu
}

// runFaiss runs cmd (index_faiss.py) with t threads for trial r, its JSON written to dir, and
// returns its result.
func runFaiss(cmd, dir string, t, r, n, d, nq, k, reps int) faissResult {
	out := filepath.Join(dir, fmt.Sprintf("faiss_%d_trial%d.json", t, r))
	args := append(strings.Fields(cmd), "run", "--dir", dir, "--n", strconv.Itoa(n), "--d", strconv.Itoa(d),
		"--nq", strconv.Itoa(nq), "--k", strconv.Itoa(k), "--reps", strconv.Itoa(reps), "--out", out)
	c := exec.Command(args[0], args[1:]...)
	ts := strconv.Itoa(t)
	c.Env = append(os.Environ(), "OMP_NUM_THREADS="+ts, "OPENBLAS_NUM_THREADS="+ts, "MKL_NUM_THREADS="+ts)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	check(c.Run())
	b, err := os.ReadFile(out)
	check(err)
	var f faissResult
	check(json.Unmarshal(b, &f))
	return f
}

// loadavg returns the system's load averages over 1, 5 and 15 minutes, as /proc/loadavg says.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// processCPU returns the CPU time the process has used, user and system, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// overlap counts the results whose ID is among want (the same top-k set, in any order).
func overlap(res []pinrec.Result, want []int) int {
	set := map[string]bool{}
	for _, w := range want {
		set[strconv.Itoa(w)] = true
	}
	c := 0
	for _, r := range res {
		if set[r.ID] {
			c++
		}
	}
	return c
}

func readF32(path string, count int) []float32 {
	b, err := os.ReadFile(path)
	check(err)
	if len(b) != 4*count {
		log.Fatalf("%s: %d bytes, want %d", path, len(b), 4*count)
	}
	if count == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), count) // little-endian host
}

func readBandwidth(path string) map[int]float64 {
	bw := map[int]float64{}
	if path == "" {
		return bw
	}
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var t int
		var g float64
		if _, err := fmt.Sscanf(sc.Text(), "bandwidth threads=%d gbps=%g", &t, &g); err == nil {
			bw[t] = max(bw[t], g)
		}
	}
	return bw
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
