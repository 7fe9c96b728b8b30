// Command benchembed times pinrec's embedding path (decode, resize, infer) from Go on a folder of
// images, for tools/bench_embed.sh, which runs Python Keras on the same images beside it.
//
//	benchembed -model models/resnet50 -images DIR -intra 2 -inter 1 -batch 1,8 -repeat 3
//
// For each batch size it opens an Embedder, warms it up, then embeds every image of DIR -repeat
// times through EmbedFiles (decoding and preprocessing in goroutines while the session runs the
// previous batch) and prints the best rate as name=value lines: go_b<N>_img_s, and the least
// CPU time per image: go_b<N>_cpu_ms_per_img. With -serial it
// also times the plain loop (DecodeFile, Preprocess, EmbedInputs per batch, no overlap):
// go_serial_b<N>_img_s.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pinrec"
)

func main() {
	model := flag.String("model", pinrec.DefaultModelDir(), "model directory")
	images := flag.String("images", "", "folder of images (all files in it)")
	intra := flag.Int("intra", 0, "TensorFlow intra-op threads (0: default)")
	inter := flag.Int("inter", 0, "TensorFlow inter-op threads (0: default)")
	batches := flag.String("batch", "1,8", "comma-separated batch sizes")
	repeat := flag.Int("repeat", 3, "timed passes per batch size (best is kept)")
	serial := flag.Bool("serial", false, "also time the serial loop without overlap")
	workers := flag.Int("workers", 0, "decoding goroutines of EmbedFiles (0: pinrec's default, GOMAXPROCS)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchembed: ")

	entries, err := os.ReadDir(*images)
	if err != nil {
		log.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(*images, e.Name()))
		}
	}
	slices.Sort(paths)
	if len(paths) == 0 {
		log.Fatalf("no images in %s", *images)
	}
	for _, s := range strings.Split(*batches, ",") {
		bs, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || bs < 1 {
			log.Fatalf("bad batch size %q", s)
		}
		opts := []pinrec.EmbedderOption{pinrec.WithThreads(*intra, *inter), pinrec.WithBatchSize(bs)}
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
}

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
