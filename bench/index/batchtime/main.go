// Command batchtime times Index.SearchBatch on one data set with several kernel sets side by
// side: for each repetition it runs the batch once per set (kernel.Limit, as PINREC_KERNEL
// would choose), so that a loaded machine's slow moments fall on every set alike, and prints
// each run's wall and CPU time, page faults, context switches (the process's, and the
// searching thread's own), bytes allocated and garbage collections, then the best and the
// median per set. It checks that every set
// returns the same results.
//
//	batchtime -dir D -n 200000 -nq 6000 -sets avx512bw,avx512vnni -reps 3
//
// D holds base.f32 and queries.f32 (float32, row-major, little-endian), as written by
// bench/synth_embeddings.py or bench/index/index_faiss.py gen. With -filter, the batch runs
// with a filter that looks each candidate up in a map and keeps it, as the approximate index's
// calibration does (its exact top 10 of held-out items).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"pinrec"
	"pinrec/internal/cpuinfo"
	"pinrec/internal/kernel"
)

func main() {
	dir := flag.String("dir", "", "folder with base.f32 and queries.f32")
	n := flag.Int("n", 200000, "rows")
	d := flag.Int("d", 2048, "dimension")
	nq := flag.Int("nq", 6000, "queries in the batch")
	k := flag.Int("k", 10, "results per query")
	reps := flag.Int("reps", 3, "repetitions of each set")
	sets := flag.String("sets", "avx512bw,avx512vnni", "kernel limits (PINREC_KERNEL values; \"all\" for none), comma-separated")
	threads := flag.Int("threads", 1, "GOMAXPROCS")
	filter := flag.Bool("filter", false, "search with a filter that keeps every row after a map lookup")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the batches to this file")
	flag.Parse()
	log.SetFlags(0)
	runtime.GOMAXPROCS(*threads)
	runtime.LockOSThread() // so that the thread's own resource usage is the batch's

	base := readF32(filepath.Join(*dir, "base.f32"), *n**d)
	all := readF32(filepath.Join(*dir, "queries.f32"), -1)
	if len(all) < *nq**d {
		log.Fatalf("queries.f32 holds %d queries, want %d", len(all) / *d, *nq)
	}
	qs := make([][]float32, *nq)
	for j := range qs {
		qs[j] = all[j**d : (j+1)**d]
	}
	ix, err := pinrec.NewIndex(*d, pinrec.WithCapacity(*n))
	check(err)
	items := make([]pinrec.Item, 0, 1000)
	for lo := 0; lo < *n; lo += 1000 {
		items = items[:0]
		for i := lo; i < min(*n, lo+1000); i++ {
			items = append(items, pinrec.Item{ID: strconv.Itoa(i), Vector: base[i**d : (i+1)**d]})
		}
		check(ix.Add(items...))
	}
	var opts []pinrec.SearchOption
	if *filter {
		held := map[string]bool{"held-out": true}
		opts = append(opts, pinrec.WithFilter(func(id string, _ map[string]string) bool { return !held[id] }))
	}

	fmt.Printf("batchtime: N=%d d=%d k=%d, batch of %d, %d repetitions, GOMAXPROCS=%d, filter=%v; Go %s\n",
		*n, *d, *k, *nq, *reps, *threads, *filter, runtime.Version())
	fmt.Printf("CPU: %s\n", cpuinfo.Read())
	fmt.Printf("load average before: %s\n", loadavg())
	if *profile != "" {
		f, err := os.Create(*profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() {
			pprof.StopCPUProfile()
			check(f.Close())
		}()
	}
	names := strings.Split(*sets, ",")
	walls := make([][]float64, len(names))
	cpus := make([][]float64, len(names))
	var first [][]pinrec.Result
	ctx := context.Background()
	for r := range *reps {
		for s, name := range names {
			limit := name
			if limit == "all" {
				limit = ""
			}
			kernel.Limit(limit)
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			t0, u0, th0 := time.Now(), usage(syscall.RUSAGE_SELF), usage(rusageThread)
			res, err := ix.SearchBatch(ctx, qs, *k, opts...)
			check(err)
			wall, u, th := time.Since(t0).Seconds(), usage(syscall.RUSAGE_SELF), usage(rusageThread)
			runtime.ReadMemStats(&m1)
			cpu := seconds(u.Utime) + seconds(u.Stime) - seconds(u0.Utime) - seconds(u0.Stime)
			walls[s] = append(walls[s], wall)
			cpus[s] = append(cpus[s], cpu)
			fmt.Printf("rep %d %-12s int16 %-11s wall %8.3f s  cpu %8.3f s  page faults %6d  switches %4d voluntary %4d forced (this thread %d, %d)  allocated %.1f MB  collections %d  load %s\n",
				r, name, kernel.I16Name, wall, cpu, u.Minflt-u0.Minflt, u.Nvcsw-u0.Nvcsw, u.Nivcsw-u0.Nivcsw,
				th.Nvcsw-th0.Nvcsw, th.Nivcsw-th0.Nivcsw, float64(m1.TotalAlloc-m0.TotalAlloc)/1e6, m1.NumGC-m0.NumGC, loadavg())
			if first == nil {
				first = res
			} else if !same(first, res) {
				log.Fatalf("set %s: results differ from the first set's", name)
			}
		}
	}
	fmt.Printf("load average after: %s\n", loadavg())
	for s, name := range names {
		fmt.Printf("%-12s wall best %.3f median %.3f s; cpu best %.3f median %.3f s\n", name,
			slices.Min(walls[s]), median(walls[s]), slices.Min(cpus[s]), median(cpus[s]))
	}
	for s, name := range names {
		key := strings.ReplaceAll(name, "+", "_")
		fmt.Printf("batch_wall_s_%s=%.3f\nbatch_cpu_s_%s=%.3f\n", key, slices.Min(walls[s]), key, slices.Min(cpus[s]))
	}
}

// same reports whether two batches' results have the same IDs in the same order.
func same(a, b [][]pinrec.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for j := range a {
		if len(a[j]) != len(b[j]) {
			return false
		}
		for i := range a[j] {
			if a[j][i].ID != b[j][i].ID || a[j][i].Distance != b[j][i].Distance {
				return false
			}
		}
	}
	return true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

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

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage (main locks its thread).
const rusageThread = 1

// usage returns the resource usage so far of the process (all threads) or of this thread.
func usage(who int) syscall.Rusage {
	var ru syscall.Rusage
	check(syscall.Getrusage(who, &ru))
	return ru
}

func seconds(t syscall.Timeval) float64 {
	return float64(t.Nano()) / 1e9
}

// readF32 reads count float32s from path (all of them for count < 0).
func readF32(path string, count int) []float32 {
	b, err := os.ReadFile(path)
	check(err)
	if count < 0 {
		count = len(b) / 4
	}
	if len(b) < 4*count {
		log.Fatalf("%s: %d bytes, want at least %d", path, len(b), 4*count)
	}
	if count == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), count) // little-endian host
}

func check(err error) {
	if err != nil {
		log.Panic(err)
	}
}
