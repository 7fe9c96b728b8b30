// Command benchdupes measures near-duplicate grouping (package pinrec/dupes) the way re-pins
// arise: distinct pictures (Fashion-MNIST test images, enlarged to 112x112, and the
// repository's test photos), edited copies of some of them (exact copy, resize 50-200%, JPEG
// quality 30-95, crop up to 10%, brightness and contrast +-20%, a small text caption, and the
// harder horizontal flip), mixed among the rest; each picture embedded with the ResNet50 model
// (seeded RANDOM weights: no pretrained weights exist here), the raw-pixel baseline and a
// 64-bit difference hash (dHash); groups found with the calibrated threshold; pairwise
// precision and recall per kind of edit. Then the speed of grouping synthetic vectors through
// the approximate index against one approximate search per item.
//
// `make bench-dupes` runs it (bench/dupes/run.sh). The last lines are name=value pairs.
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/image/draw"

	"pinrec"
	"pinrec/dupes"
	"pinrec/internal/cpuinfo"
	"pinrec/internal/fashionmnist"
)

// pic is one picture of the collection.
type pic struct {
	id    string
	img   image.Image
	group int    // the distinct picture it shows (ground truth)
	edit  string // "" for a distinct picture itself
	param string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchdupes: ")
	modelDir := flag.String("model", "models/resnet50", "model folder (random weights)")
	dataDir := flag.String("data", fashionmnist.DefaultDir, "Fashion-MNIST folder (make dataset)")
	photos := flag.String("photos", "testdata/images/ok", "folder of the repository's test photos")
	distinct := flag.Int("distinct", 1000, "distinct Fashion-MNIST pictures")
	originals := flag.Int("originals", 150, "of them, pictures that get edited copies (the photos always do)")
	copies := flag.Int("copies", 2, "edited copies of each such picture (kinds taken in turn)")
	synthN := flag.Int("synth-n", 20000, "synthetic vectors for the speed part (0: skip it)")
	synthDim := flag.Int("synth-dim", 2048, "their dimension")
	threads := flag.Int("threads", 2, "TensorFlow intra-op threads and search workers")
	seed := flag.Uint64("seed", 1, "seed of every random choice")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("cpu: %s\n", cpuinfo.Read())
	fmt.Printf("command: %s\n", strings.Join(os.Args, " "))

	pics, err := collection(*dataDir, *photos, *distinct, *originals, *copies, *seed)
	if err != nil {
		log.Fatal(err)
	}
	nCopies := 0
	for _, p := range pics {
		if p.edit != "" {
			nCopies++
		}
	}
	fmt.Printf("collection: %d pictures: %d distinct, %d edited copies of %d of them\n", len(pics), len(pics)-nCopies, nCopies, min(*originals, *distinct)+countPhotos(pics))

	type method struct {
		name  string
		embed func([]image.Image) ([][]float32, error)
	}
	methods := []method{
		{"model", func(imgs []image.Image) ([][]float32, error) {
			e, err := pinrec.NewEmbedder(*modelDir, pinrec.WithTensorFlowThreads(*threads, 1), pinrec.WithBatchSize(16))
			if err != nil {
				return nil, err
			}
			defer e.Close()
			fmt.Printf("model weights: %s\n", e.Info().Weights)
			return e.Embed(ctx, imgs...)
		}},
		{"pixels", func(imgs []image.Image) ([][]float32, error) {
			e, err := pinrec.NewPixelEmbedder(16)
			if err != nil {
				return nil, err
			}
			defer e.Close()
			return e.Embed(ctx, imgs...)
		}},
		{"pixels-norm", func(imgs []image.Image) ([][]float32, error) {
			out := make([][]float32, len(imgs))
			for i, im := range imgs {
				out[i] = normPixels(im)
			}
			return out, nil
		}},
		{"dhash", func(imgs []image.Image) ([][]float32, error) {
			out := make([][]float32, len(imgs))
			for i, im := range imgs {
				out[i] = dHash(im)
			}
			return out, nil
		}},
	}
	imgs := make([]image.Image, len(pics))
	for i, p := range pics {
		imgs[i] = p.img
	}
	var results []score
	for _, m := range methods {
		start := time.Now()
		vecs, err := m.embed(imgs)
		if err != nil {
			log.Fatalf("%s: %v", m.name, err)
		}
		embedSec := time.Since(start).Seconds()
		ix, err := pinrec.NewIndex(len(vecs[0]))
		if err != nil {
			log.Fatal(err)
		}
		for i, p := range pics {
			if err := ix.Add(pinrec.Item{ID: p.id, Vector: vecs[i]}); err != nil {
				log.Fatal(err)
			}
		}
		start = time.Now()
		rep, err := dupes.Find(ctx, ix, dupes.WithWorkers(*threads))
		if err != nil {
			log.Fatalf("%s: %v", m.name, err)
		}
		s := scoreReport(m.name, pics, rep)
		fmt.Printf("\n%s: embedded %d pictures in %.1f s (%.1f/s), grouped in %.2f s\n", m.name, len(pics), embedSec, float64(len(pics))/embedSec, time.Since(start).Seconds())
		fmt.Printf("  threshold %.4g (%s): %s\n", rep.Calibration.Threshold, rep.Calibration.Rule, rep.Calibration.Explanation)
		fmt.Printf("  %d near groups, %d exact groups\n", len(rep.Near), len(rep.Exact))
		describeDistances(pics, vecs, ix)
		// Control: the distinct pictures alone, where every group is a false one.
		alone, err := pinrec.NewIndex(len(vecs[0]))
		if err != nil {
			log.Fatal(err)
		}
		for i, p := range pics {
			if p.edit == "" {
				if err := alone.Add(pinrec.Item{ID: p.id, Vector: vecs[i]}); err != nil {
					log.Fatal(err)
				}
			}
		}
		ctl, err := dupes.Find(ctx, alone, dupes.WithWorkers(*threads))
		if err != nil {
			log.Fatal(err)
		}
		s.controlGroups, s.controlItems = len(ctl.Near)+len(ctl.Exact), countMembers(ctl.Near)+countMembers(ctl.Exact)
		fmt.Printf("  control, the %d distinct pictures alone: threshold %.4g (%s), %d groups of %d pictures\n",
			alone.Len(), ctl.Calibration.Threshold, ctl.Calibration.Rule, s.controlGroups, s.controlItems)
		results = append(results, s)
	}
	printTable(results)

	var speed *speedResult
	if *synthN > 0 {
		speed, err = measureSpeed(ctx, *synthN, *synthDim, *threads, *seed)
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("\nload: %s\n", loadAvg())
	fmt.Println("# headline: the ResNet50 model embedding (weights as printed above: seeded RANDOM weights here);")
	fmt.Println("# _pixels: the raw-pixel baseline (16x16 RGB); _pixels_norm: the same standardised per picture")
	fmt.Println("# (a benchmark-only signature blind to brightness and contrast); _dhash: a 64-bit difference hash")
	for _, s := range results {
		suffix := map[string]string{"model": "", "pixels": "_pixels", "pixels-norm": "_pixels_norm", "dhash": "_dhash"}[s.method]
		fmt.Printf("dupes_precision%s=%.4f\n", suffix, s.precision)
		fmt.Printf("dupes_recall%s=%.4f\n", suffix, s.mildRecall)
		fmt.Printf("dupes_flip_recall%s=%.4f\n", suffix, s.recall["flip"])
		fmt.Printf("dupes_control_groups%s=%d\n", suffix, s.controlGroups)
	}
	if speed != nil {
		fmt.Printf("dupes_synth_n=%d\n", speed.n)
		fmt.Println("# speed in CPU seconds of this process (both workers), which other load moves less than wall time")
		fmt.Printf("dupes_seconds_per_item=%.6f\n", speed.findSec/float64(speed.n))
		fmt.Printf("dupes_ratio_vs_search=%.3f\n", speed.findSec/speed.searchSec)
		fmt.Printf("dupes_wall_ratio_vs_search=%.3f\n", speed.findWall/speed.searchWall)
		fmt.Println("# dupes_1m_seconds, dupes_1m_cpu_seconds: EXTRAPOLATED linearly from dupes_synth_n (wall and CPU time per item x 1,000,000), not measured")
		fmt.Printf("dupes_1m_seconds=%.0f\n", speed.findWall/float64(speed.n)*1e6)
		fmt.Printf("dupes_1m_seconds_extrapolated_from_n=%d\n", speed.n)
		fmt.Printf("dupes_1m_cpu_seconds=%.0f\n", speed.findSec/float64(speed.n)*1e6)
	}
}

func countPhotos(pics []pic) int {
	n := 0
	for _, p := range pics {
		if p.edit == "" && strings.HasPrefix(p.id, "photo-") {
			n++
		}
	}
	return n
}

// collection builds the pictures: distinct Fashion-MNIST images and the photos, then edited
// copies of the first originals of them (the photos included), kinds taken in turn, in a
// shuffled order.
func collection(dataDir, photoDir string, distinct, originals, copies int, seed uint64) ([]pic, error) {
	items, err := loadFashion(dataDir)
	if err != nil {
		return nil, fmt.Errorf("%w (make dataset installs Fashion-MNIST)", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0xd0d0))
	perm := rng.Perm(len(items))
	var pics []pic
	for _, name := range []string{"city-180x300.jpg", "fabric-224x224.jpg", "flowers-256x192.png", "landscape-320x240.jpg"} {
		// city-90x150 and landscape-160x120 are smaller copies of two of these: left out, so
		// that every distinct picture is distinct.
		img, err := pinrec.DecodeFile(filepath.Join(photoDir, name))
		if err != nil {
			return nil, err
		}
		pics = append(pics, pic{id: "photo-" + strings.TrimSuffix(name, filepath.Ext(name)), img: img})
	}
	for _, i := range perm[:min(distinct, len(perm))] {
		big := image.NewRGBA(image.Rect(0, 0, 112, 112))
		draw.BiLinear.Scale(big, big.Bounds(), items[i], items[i].Bounds(), draw.Src, nil)
		pics = append(pics, pic{id: fmt.Sprintf("fm-%05d", i), img: big})
	}
	for g := range pics {
		pics[g].group = g
	}
	nOrig := min(len(pics), originals+4)
	turn := 0
	for g := range nOrig {
		for c := range copies {
			e := edits[(turn)%len(edits)]
			turn++
			img, param := e.apply(pics[g].img, rng)
			pics = append(pics, pic{id: fmt.Sprintf("%s~%s%d", pics[g].id, e.name, c), img: img, group: g, edit: e.name, param: param})
		}
	}
	rng.Shuffle(len(pics), func(i, j int) { pics[i], pics[j] = pics[j], pics[i] })
	return pics, nil
}

// score is one method's figures.
type score struct {
	method     string
	pairs      int                // predicted pairs
	precision  float64            // of all predicted pairs
	mildRecall float64            // copies of mild edits grouped with their original
	recall     map[string]float64 // per edit: copies grouped with their original
	prec       map[string]float64 // per edit: predicted pairs holding such a copy that are right
	copies     map[string]int
	falseDist  int // predicted pairs of two distinct pictures (neither a copy)
	// controlGroups and controlItems: groups found among the distinct pictures alone.
	controlGroups, controlItems int
}

// scoreReport scores a report's groups (near groups, and exact groups outside them) against
// the truth: pairwise precision and, per kind of edit, the share of copies that share a group
// with their original.
func scoreReport(name string, pics []pic, rep *dupes.Report) score {
	byID := make(map[string]pic, len(pics))
	for _, p := range pics {
		byID[p.id] = p
	}
	comp := make(map[string]int)
	n := 0
	for _, g := range rep.Near {
		for _, m := range g.Members {
			comp[m.ID] = n
		}
		n++
	}
	for _, g := range rep.Exact {
		if _, ok := comp[g.Representative]; ok {
			continue
		}
		for _, m := range g.Members {
			comp[m.ID] = n
		}
		n++
	}
	members := make([][]string, n)
	for id, c := range comp {
		members[c] = append(members[c], id)
	}
	s := score{method: name, recall: map[string]float64{}, prec: map[string]float64{}, copies: map[string]int{}}
	right, total := 0, 0
	pairRight, pairTotal := map[string]int{}, map[string]int{}
	for _, ms := range members {
		for a := range ms {
			for b := a + 1; b < len(ms); b++ {
				pa, pb := byID[ms[a]], byID[ms[b]]
				ok := pa.group == pb.group
				total++
				if ok {
					right++
				}
				if pa.edit == "" && pb.edit == "" {
					s.falseDist++
				}
				for _, e := range uniq(pa.edit, pb.edit) {
					pairTotal[e]++
					if ok {
						pairRight[e]++
					}
				}
			}
		}
	}
	s.pairs = total
	s.precision = ratio(right, total, 1)
	// originals' IDs by group
	orig := make(map[int]string)
	for _, p := range pics {
		if p.edit == "" {
			orig[p.group] = p.id
		}
	}
	found := map[string]int{}
	mildFound, mildTotal := 0, 0
	for _, p := range pics {
		if p.edit == "" {
			continue
		}
		s.copies[p.edit]++
		c1, ok1 := comp[p.id]
		c2, ok2 := comp[orig[p.group]]
		hit := ok1 && ok2 && c1 == c2
		if hit {
			found[p.edit]++
		}
		if isMild(p.edit) {
			mildTotal++
			if hit {
				mildFound++
			}
		}
	}
	for e, n := range s.copies {
		s.recall[e] = ratio(found[e], n, 0)
		s.prec[e] = ratio(pairRight[e], pairTotal[e], 1)
	}
	s.mildRecall = ratio(mildFound, mildTotal, 0)
	return s
}

func uniq(a, b string) []string {
	var out []string
	if a != "" {
		out = append(out, a)
	}
	if b != "" && b != a {
		out = append(out, b)
	}
	return out
}

func isMild(name string) bool {
	for _, e := range edits {
		if e.name == name {
			return e.mild
		}
	}
	return false
}

func ratio(a, b int, empty float64) float64 {
	if b == 0 {
		return empty
	}
	return float64(a) / float64(b)
}

// printTable prints recall and precision per edit and method.
func printTable(results []score) {
	fmt.Println("\nper edit: recall = copies grouped with their original; precision = predicted pairs holding such a copy that are right")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "method\tedit\tcopies\trecall\tprecision\t")
	for _, s := range results {
		for _, e := range edits {
			fmt.Fprintf(w, "%s\t%s\t%d\t%.3f\t%.3f\t\n", s.method, e.name, s.copies[e.name], s.recall[e.name], s.prec[e.name])
		}
		fmt.Fprintf(w, "%s\tmild (all but flip)\t\t%.3f\t\t\n", s.method, s.mildRecall)
		fmt.Fprintf(w, "%s\tall pairs\t%d\t\t%.4f\t(%d pairs of two distinct pictures)\n", s.method, s.pairs, s.precision, s.falseDist)
	}
	w.Flush()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
