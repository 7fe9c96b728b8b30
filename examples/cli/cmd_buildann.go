package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"pinrec"
	"pinrec/ann"
)

// runBuildANN builds the approximate index (package ann: an HNSW graph over compact codes,
// with an exact re-rank) of an index file and saves it as an index file of kind "hnsw",
// which every command then opens like a flat one.
func runBuildANN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build-ann", "-index FILE [-target-recall R] [-m M] [-ef N] [-efc N] [-codec sq8|pca512-sq8|none] [-threads N] [-out FILE]", stdout)
	index := fs.String("index", "", "index `file` to build from (flat or hnsw; required)")
	out := fs.String("out", "", "output `file` (default: replace -index)")
	m := fs.Int("m", ann.DefaultM, "graph degree M (2M links per node on level 0)")
	target := fs.Float64("target-recall", ann.DefaultTargetRecall, "recall@10 the default efSearch is calibrated for, measured on held-out items (0: do not measure)")
	ef := fs.Int("ef", 0, "default efSearch recorded in the file, measured but not calibrated (default: the smallest reaching -target-recall)")
	efc := fs.Int("efc", ann.DefaultEfConstruction, "efConstruction (beam width while building)")
	codec := fs.String("codec", ann.CodecSQ8, "compact codes the graph runs on: sq8, pca512-sq8 or none (float32)")
	threads := fs.Int("threads", 0, "build goroutines (default: all CPUs)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := requireIndexFlag(*index); err != nil {
		return err
	}
	if *out == "" {
		*out = *index
	}
	opts := []ann.Option{ann.WithM(*m), ann.WithEfConstruction(*efc), ann.WithCodec(*codec), ann.WithWorkers(*threads), ann.WithTargetRecall(*target)}
	if *ef != 0 {
		opts = append(opts, ann.WithEfSearch(*ef))
	}
	if _, err := ann.New(1, opts...); err != nil {
		return usagef("%v (%s -h for help)", err, fs.Name())
	}
	// The vectors stay in the file's mapping; the graph and codes are built in RAM.
	ix, err := pinrec.Load(*index, pinrec.WithMmap())
	if err != nil {
		return err
	}
	defer ix.Close()
	if ix.Len() == 0 {
		return fmt.Errorf("index %s is empty", *index)
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	next := 10
	opts = append(opts, ann.WithProgress(func(done, total int) {
		if done*100 >= next*total {
			fmt.Fprintf(stderr, "build-ann: %d/%d items (%d%%), %.0f s\n", done, total, done*100/total, time.Since(start).Seconds())
			next = done*100/total + 10
		}
	}))
	a, err := ann.Build(sigCtx, ix, opts...)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			return fmt.Errorf("build-ann: %w (nothing written)", errInterrupted)
		}
		return err
	}
	built := time.Since(start)
	if err := a.Save(*out); err != nil {
		return err
	}
	for _, m := range removeStaleTemps(*out) { // left by a killed save (staletemp.go)
		fmt.Fprintf(stderr, "pinrec: removed %s, left by a save that was killed\n", m)
	}
	st := a.Stats()
	fmt.Fprintf(stdout, "built %s: %d items, M=%s efConstruction=%s efSearch=%s codec=%s, graph and codes %s bytes in RAM, %.1f s\n",
		*out, ix.Len(), st["m"], st["ef_construction"], st["ef_search"], st["codec"], st["memory_bytes"], built.Seconds())
	if c := a.Calibration(); c.Queries > 0 {
		verdict := ""
		// The recording items did not choose efSearch, so a recall a little under the target is
		// sampling error; sqrt(r(1-r)/n) bounds the standard error of a mean of per-query recalls.
		se := math.Sqrt(c.Recall * (1 - c.Recall) / float64(c.Queries))
		switch {
		case *ef == 0 && c.Recall < c.Target-3*se:
			verdict = fmt.Sprintf(" (below the target %.2f)", c.Target)
		case *ef == 0 && c.Recall < c.Target:
			verdict = fmt.Sprintf(" (the target %.2f within sampling error: standard error %.4f)", c.Target, se)
		}
		fmt.Fprintf(stdout, "recall@10 %.4f at efSearch %d on %d held-out items%s\n", c.Recall, c.EfSearch, c.Queries, verdict)
	}
	return nil
}
