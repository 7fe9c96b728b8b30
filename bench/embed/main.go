// Command benchembed times pinrec's embedding path (decode, resize, infer) from Go on a folder of
// images, for bench/embed/run.sh, which runs Python Keras on the same images beside it.
//
//	benchembed -model models/resnet50 -images DIR -intra 2 -inter 1 -batch 1,8 -repeat 3
//
// For each batch size it opens an Embedder, warms it up, then embeds every image of DIR -repeat
// times through EmbedFiles (decoding and preprocessing in goroutines while the session runs the
// previous batch) and prints the best rate as name=value lines: go_b<N>_img_s, and the least
// CPU time per image: go_b<N>_cpu_ms_per_img. With -serial it
// also times the plain loop (DecodeFile, Preprocess, EmbedInputs per batch, no overlap):
// go_serial_b<N>_img_s.
//
// With -fast it then prints the CPU (cpu=, model and features) and compares WithFastMode (oneDNN
// bfloat16 auto mixed precision) with float32 at the last batch size, passes alternating between
// the two: fast_mode_speedup (best rate over best rate); how far the answers agree on the
// images, which are distinct pictures (internal/fidelity): fast_mode_photos_top10_overlap (each
// image's top-10 among the others, fast index and queries against float32 ones),
// fast_mode_photos_mixed_top10_overlap (float32 queries against the fast index),
// fast_mode_worst_cosine, fast_mode_discriminative_ratio (the largest, over images, of ||fast -
// fp32|| over the distance to the nearest other image's fp32 vector), fast_mode_max_abs_diff;
// and the network alone on decoded inputs: inference_b<N>_img_s and inference_gflop_s (8.2
// GFLOP per 224x224 ResNet50 image: 4.1 GMACs). With -fidelity-images DIR it compares the
// top-10 lists on that folder's pictures too (fast_mode_pins_* lines).
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pinrec"
	"pinrec/internal/cpuinfo"
	"pinrec/internal/fidelity"
)

func main() {
	model := flag.String("model", "models/resnet50", "model directory")
	images := flag.String("images", "", "folder of images (all files in it)")
	intra := flag.Int("intra", 0, "TensorFlow intra-op threads (0: default)")
	inter := flag.Int("inter", 0, "TensorFlow inter-op threads (0: default)")
	batches := flag.String("batch", "1,8", "comma-separated batch sizes")
	repeat := flag.Int("repeat", 3, "timed passes per batch size (best is kept)")
	serial := flag.Bool("serial", false, "also time the serial loop without overlap")
	workers := flag.Int("workers", 0, "decoding goroutines of EmbedFiles (0: pinrec's default, GOMAXPROCS)")
	fast := flag.Bool("fast", false, "also compare WithFastMode with float32 (speed and fidelity) at the last batch size")
	pins := flag.String("fidelity-images", "", "with -fast, also compare the two precisions' top-10 lists on this folder of distinct pictures (searched recursively)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchembed: ")

	paths, err := imageFiles(*images)
	if err != nil {
		log.Fatal(err)
	}
	slices.Sort(paths)
	if len(paths) == 0 {
		log.Fatalf("no images in %s", *images)
	}
	lastBatch := 0
	for _, s := range strings.Split(*batches, ",") {
		bs, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || bs < 1 {
			log.Fatalf("bad batch size %q", s)
		}
		lastBatch = bs
		opts := []pinrec.EmbedderOption{pinrec.WithTensorFlowThreads(*intra, *inter), pinrec.WithBatchSize(bs)}
		if *workers > 0 {
			opts = append(opts, pinrec.WithDecodeWorkers(*workers))
		}
		e, err := pinrec.NewEmbedder(*model, opts...)
		if err != nil {
			log.Fatal(err)
		}
		ctx := context.Background()
		// Warm-up: the first runs allocate and pick kernels.
		if _, err := e.EmbedFiles(ctx, paths[:min(len(paths), 2*bs)]); err != nil {
			log.Fatal(err)
		}
		rate, cpu := best(*repeat, len(paths), func() error {
			_, err := e.EmbedFiles(ctx, paths)
			return err
		})
		fmt.Printf("go_b%d_img_s=%.3f\n", bs, rate)
		fmt.Printf("go_b%d_cpu_ms_per_img=%.1f\n", bs, cpu)
		if *serial {
			rate, cpu := best(*repeat, len(paths), func() error { return serialLoop(ctx, e, paths, bs) })
			fmt.Printf("go_serial_b%d_img_s=%.3f\n", bs, rate)
			fmt.Printf("go_serial_b%d_cpu_ms_per_img=%.1f\n", bs, cpu)
		}
		if err := e.Close(); err != nil {
			log.Fatal(err)
		}
	}
	if *fast {
		opts := []pinrec.EmbedderOption{pinrec.WithTensorFlowThreads(*intra, *inter), pinrec.WithBatchSize(lastBatch)}
		if *workers > 0 {
			opts = append(opts, pinrec.WithDecodeWorkers(*workers))
		}
		fmt.Printf("cpu=%s\n", cpuinfo.Read())
		compareFast(*model, paths, lastBatch, *repeat, opts)
		if *pins != "" {
			pinPaths, err := imageFiles(*pins)
			if err != nil {
				log.Fatal(err)
			}
			compareTopK(*model, pinPaths, opts)
		}
	}
}

// imageFiles lists the regular files under dir, recursively, sorted.
func imageFiles(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	slices.Sort(paths)
	return paths, err
}

// compareTopK embeds paths, distinct pictures, with float32 and with the fast mode and prints
// how far the two indexes' answers agree: fast_mode_pins_* lines (see internal/fidelity).
func compareTopK(model string, paths []string, opts []pinrec.EmbedderOption) {
	ctx := context.Background()
	embed := func(extra ...pinrec.EmbedderOption) [][]float32 {
		e, err := pinrec.NewEmbedder(model, append(slices.Clone(opts), extra...)...)
		if err != nil {
			log.Fatal(err)
		}
		defer e.Close()
		v, err := e.EmbedFiles(ctx, paths)
		if err != nil {
			log.Fatal(err)
		}
		return v
	}
	r := fidelity.Compare(embed(), embed(pinrec.WithFastMode()), nil, 10)
	fmt.Printf("fast_mode_pins=%d\n", r.Images)
	fmt.Printf("fast_mode_pins_top10_overlap=%.4f\n", r.TopKOverlap)
	fmt.Printf("fast_mode_pins_mixed_top10_overlap=%.4f\n", r.MixedTopKOverlap)
	fmt.Printf("fast_mode_pins_top1_agreement=%.4f\n", r.Top1Agreement)
	fmt.Printf("fast_mode_pins_worst_cosine=%.7f\n", r.WorstCosine)
	fmt.Printf("fast_mode_pins_discriminative_ratio=%.5f\n", r.DiscriminativeRatio)
}

// compareFast prints the fast mode's speed and fidelity against float32 (see the package doc).
func compareFast(model string, paths []string, bs, repeat int, opts []pinrec.EmbedderOption) {
	ctx := context.Background()
	open := func(extra ...pinrec.EmbedderOption) *pinrec.Embedder {
		e, err := pinrec.NewEmbedder(model, append(slices.Clone(opts), extra...)...)
		if err != nil {
			log.Fatal(err)
		}
		return e
	}
	fp32, fast := open(), open(pinrec.WithFastMode())
	defer fp32.Close()
	defer fast.Close()
	embed := func(e *pinrec.Embedder) [][]float32 {
		v, err := e.EmbedFiles(ctx, paths)
		if err != nil {
			log.Fatal(err)
		}
		return v
	}
	want, got := embed(fp32), embed(fast) // also the warm-up
	var rate32, rateFast float64
	for range max(repeat, 1) {
		r, _ := best(1, len(paths), func() error { embed(fp32); return nil })
		rate32 = max(rate32, r)
		r, _ = best(1, len(paths), func() error { embed(fast); return nil })
		rateFast = max(rateFast, r)
	}
	f := fidelity.Compare(want, got, nil, 10)
	fmt.Printf("go_fp32_b%d_img_s=%.3f\n", bs, rate32)
	fmt.Printf("go_fast_b%d_img_s=%.3f\n", bs, rateFast)
	fmt.Printf("fast_mode_speedup=%.3f\n", rateFast/rate32)
	fmt.Printf("fast_mode_photos_top10_overlap=%.4f\n", f.TopKOverlap)
	fmt.Printf("fast_mode_photos_mixed_top10_overlap=%.4f\n", f.MixedTopKOverlap)
	fmt.Printf("fast_mode_worst_cosine=%.7f\n", f.WorstCosine)
	fmt.Printf("fast_mode_discriminative_ratio=%.5f\n", f.DiscriminativeRatio)
	fmt.Printf("fast_mode_max_abs_diff=%.3g\n", f.MaxAbsDiff)

	// The network alone, on inputs decoded and preprocessed beforehand.
	inputs := make([][]float32, len(paths))
	for i, p := range paths {
		img, err := pinrec.DecodeFile(p)
		if err != nil {
			log.Fatal(err)
		}
		inputs[i] = fp32.Preprocess(img)
	}
	rate, cpu := best(repeat, len(inputs), func() error {
		_, err := fp32.EmbedInputs(ctx, inputs)
		return err
	})
	fmt.Printf("inference_b%d_img_s=%.3f\n", bs, rate)
	fmt.Printf("inference_b%d_cpu_ms_per_img=%.1f\n", bs, cpu)
	fmt.Printf("inference_gflop_s=%.1f\n", rate*resnet50GFLOP)
}

// resnet50GFLOP is the arithmetic of one 224x224 ResNet50 image: about 4.1 G multiply-adds.
const resnet50GFLOP = 8.2

// best runs pass n times and returns the best rate in images per second, and the least CPU time
// (user+system, all threads of the process) per image in milliseconds: on a busy machine the
// CPU time varies less than the wall time.
func best(n, images int, pass func() error) (rate, cpuMs float64) {
	cpuMs = math.Inf(1)
	for range max(n, 1) {
		start, cpu0 := time.Now(), cpuTime()
		if err := pass(); err != nil {
			log.Fatal(err)
		}
		rate = max(rate, float64(images)/time.Since(start).Seconds())
		cpuMs = min(cpuMs, (cpuTime()-cpu0).Seconds()*1000/float64(images))
	}
	return rate, cpuMs
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serialLoop is the straightforward loop, as the Python side does it: decode and preprocess a
// batch, then run it.
func serialLoop(ctx context.Context, e *pinrec.Embedder, paths []string, bs int) error {
	for start := 0; start < len(paths); start += bs {
		var ins [][]float32
		for _, p := range paths[start:min(start+bs, len(paths))] {
			img, err := pinrec.DecodeFile(p)
			if err != nil {
				return err
			}
			ins = append(ins, e.Preprocess(img))
		}
		if _, err := e.EmbedInputs(ctx, ins); err != nil {
			return err
		}
	}
	return nil
}
