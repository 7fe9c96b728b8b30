package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"pinrec"
	"pinrec/ann"
	"pinrec/dupes"
	"pinrec/internal/synth"
)

type speedResult struct {
	n                  int
	buildSec           float64
	searchSec, findSec float64 // CPU time of this process (user + system): less moved by other load than wall time
	searchWall         float64
	findWall           float64
	groups             int
}

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// measureSpeed times dupes.Find through the approximate index on n synthetic vectors (5% of
// them near copies of others) against one approximate search (Similar, k = dupes.DefaultK) per
// item with the same number of workers.
func measureSpeed(ctx context.Context, n, dim, workers int, seed uint64) (*speedResult, error) {
	fmt.Printf("\nspeed: %d synthetic %d-d vectors (clustered, non-negative, 5%% near copies), approximate index (package ann, defaults), %d workers\n", n, dim, workers)
	ix, err := pinrec.NewIndex(dim, pinrec.WithCapacity(n))
	if err != nil {
		return nil, err
	}
	g := synth.New(seed, dim, 32, 64)
	rng := rand.New(rand.NewPCG(seed, 5))
	var vecs [][]float32
	for i := range n {
		var v []float32
		if i > 0 && rng.Float64() < 0.05 {
			src := vecs[rng.IntN(len(vecs))]
			v = make([]float32, dim)
			norm := 0.0
			for j := range v {
				norm += float64(src[j]) * float64(src[j])
			}
			sigma := 0.02 * math.Sqrt(norm/float64(dim)) // about 2% of the vector's length
			for j := range v {
				v[j] = src[j] + float32(rng.NormFloat64()*sigma)
			}
		} else {
			v = g.Draw()
		}
		vecs = append(vecs, v)
		if err := ix.Add(pinrec.Item{ID: fmt.Sprintf("v%07d", i), Vector: v}); err != nil {
			return nil, err
		}
	}
	vecs = nil
	start := time.Now()
	a, err := ann.Build(ctx, ix, ann.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	r := &speedResult{n: n, buildSec: time.Since(start).Seconds()}
	fmt.Printf("  build %.1f s (not counted below)\n", r.buildSec)

	ids := a.IDs()
	start = time.Now()
	cpu := cpuSeconds()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				if _, err := a.Similar(ctx, ids[i], dupes.DefaultK); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	r.searchWall, r.searchSec = time.Since(start).Seconds(), cpuSeconds()-cpu
	fmt.Printf("  one approximate search per item (k=%d): %.2f s CPU, %.2f s wall (%.0f searches/s)\n", dupes.DefaultK, r.searchSec, r.searchWall, float64(n)/r.searchWall)

	start, cpu = time.Now(), cpuSeconds()
	rep, err := dupes.Find(ctx, a, dupes.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	r.findWall, r.findSec = time.Since(start).Seconds(), cpuSeconds()-cpu
	r.groups = len(rep.Near)
	fmt.Printf("  dupes.Find (calibrated threshold %.4g, %s): %.2f s CPU, %.2f s wall, %d searches, %d near groups (%d items)\n",
		rep.Calibration.Threshold, rep.Calibration.Rule, r.findSec, r.findWall, rep.Searches, len(rep.Near), countMembers(rep.Near))
	return r, nil
}

func countMembers(gs []dupes.Group) int {
	n := 0
	for _, g := range gs {
		n += len(g.Members)
	}
	return n
}
