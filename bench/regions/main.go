// Command benchregions measures region items and crop queries on a SIMULATION built from
// Fashion-MNIST, for `make bench-regions` (bench/regions/run.sh). No labelled photos of
// several objects exist here, so it makes them: "outfit" pins of 2-4 Fashion-MNIST items of
// different classes placed on a 224x224 canvas (fixed seed; positions in a jittered 2x2 layout,
// side 80-112 px, so items overlap now and then), and single-item pins (one item, side
// 150-200 px). It reports:
//
//   - item queries (one item rendered as a single-item pin, never indexed): recall@10 of the
//     outfits holding an item of the query's class ("class" queries, other instances of the
//     class) or holding the very item ("item" queries, the exact item), searching outfit pins
//     only, with whole-image vectors only (Index.Search) and with region items (SearchPins
//     over an index that also holds up to -regions region items per pin);
//   - crop queries (one item's box, with a margin of 1/8 of its side, cut out of an outfit with
//     pinrec.Crop, as Embedder.EmbedCrop does): precision@10
//     of single-item pins of the item's class, next to the whole outfit as the query;
//   - index time of all pins with regions over without (best of -repeat, alternating).
//
// The last lines are name=value pairs: region_recall_at_10, whole_recall_at_10, region_gain,
// crop_precision_at_10, regions_index_cost.
//
//	benchregions -model models/resnet50 -outfits 100 -singles 100 -queries 40 -crops 30 -regions 8
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"log"
	"math"
	"math/rand/v2"
	"time"

	"golang.org/x/image/draw"

	"pinrec"
	"pinrec/internal/fashionmnist"
)

const canvas = 224

var classes = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

type item struct {
	img   *image.Gray // 28x28
	label int
}

type placed struct {
	item int // index into items
	box  pinrec.Rect
}

type pin struct {
	id     string
	img    *image.RGBA
	parts  []placed
	outfit bool
}

func main() {
	dataDir := flag.String("data", fashionmnist.DefaultDir, "folder of the Fashion-MNIST idx files")
	modelDir := flag.String("model", "models/resnet50", "model folder")
	nOutfits := flag.Int("outfits", 100, "outfit pins")
	nSingles := flag.Int("singles", 100, "single-item pins")
	nQueries := flag.Int("queries", 40, "item queries (half class, half exact item)")
	nCrops := flag.Int("crops", 30, "crop queries")
	nRegions := flag.Int("regions", 8, "region items per pin")
	repeat := flag.Int("repeat", 1, "index timings: best of this many (alternating with and without regions)")
	threads := flag.Int("threads", 0, "TensorFlow intra-op threads (0: one per core)")
	seed := flag.Uint64("seed", 1, "seed of the simulation")
	flag.Parse()
	ctx := context.Background()
	start := time.Now()

	items, err := loadItems(*dataDir)
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(*seed, 2026))
	perm := r.Perm(len(items))
	next := 0
	take := func() int { next++; return perm[next-1] }

	var pins []pin
	for i := range *nOutfits {
		pins = append(pins, makeOutfit(fmt.Sprintf("outfit%04d", i), items, take, r))
	}
	for i := range *nSingles {
		k := take()
		side := 150 + r.IntN(51)
		box := pinrec.Rect{X: r.IntN(canvas - side + 1), Y: r.IntN(canvas - side + 1), W: side, H: side}
		img := blank()
		paint(img, items[k].img, box)
		pins = append(pins, pin{id: fmt.Sprintf("single%04d", i), img: img, parts: []placed{{k, box}}})
	}
	// Item queries: half class queries (fresh items), half exact items of outfits.
	type query struct {
		img    *image.RGBA
		label  int
		item   int // exact-item queries: the item; -1 for class queries
		relSet map[string]bool
	}
	var queries []query
	for q := range *nQueries {
		var k, exact int
		if q%2 == 0 {
			k, exact = take(), -1
		} else {
			o := pins[r.IntN(*nOutfits)]
			k = o.parts[r.IntN(len(o.parts))].item
			exact = k
		}
		img := blank()
		paint(img, items[k].img, pinrec.Rect{X: 22, Y: 22, W: 180, H: 180})
		rel := map[string]bool{}
		for _, p := range pins[:*nOutfits] {
			for _, part := range p.parts {
				if (exact < 0 && items[part.item].label == items[k].label) || part.item == exact {
					rel[p.id] = true
				}
			}
		}
		queries = append(queries, query{img, items[k].label, exact, rel})
	}

	e, err := pinrec.NewEmbedder(*modelDir, pinrec.WithTensorFlowThreads(*threads, 1), pinrec.WithBatchSize(8))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	info := e.Info()
	fmt.Printf("benchregions: SIMULATION from Fashion-MNIST (not real photos): %d outfit pins of 2-4 items, %d single-item pins, %d item queries, %d crop queries, up to %d region items per pin; seed %d\n",
		*nOutfits, *nSingles, *nQueries, *nCrops, *nRegions, *seed)
	fmt.Printf("benchregions: model weights: %s\n", info.Weights)
	imgs := make([]image.Image, len(pins))
	for i, p := range pins {
		imgs[i] = p.img
	}
	// Warm-up (the first runs of a session are slow).
	if _, err := e.EmbedFeatures(ctx, imgs[:8]...); err != nil {
		log.Fatal(err)
	}
	if _, err := e.Embed(ctx, imgs[:8]...); err != nil {
		log.Fatal(err)
	}

	var whole, withRegions *pinrec.Index
	bestWhole, bestRegions := time.Duration(1<<62), time.Duration(1<<62)
	nRegionItems := 0
	for range max(*repeat, 1) {
		t0 := time.Now()
		ix, err := pinrec.NewIndex(info.Dim)
		if err != nil {
			log.Fatal(err)
		}
		vecs, err := e.Embed(ctx, imgs...)
		if err != nil {
			log.Fatal(err)
		}
		for i, p := range pins {
			if err := ix.Add(pinrec.Item{ID: p.id, Vector: vecs[i], Meta: pinMeta(p)}); err != nil {
				log.Fatal(err)
			}
		}
		bestWhole, whole = min(bestWhole, time.Since(t0)), ix

		t0 = time.Now()
		rx, err := pinrec.NewIndex(info.Dim)
		if err != nil {
			log.Fatal(err)
		}
		fs, err := e.EmbedFeatures(ctx, imgs...)
		if err != nil {
			log.Fatal(err)
		}
		nRegionItems = 0
		for i, p := range pins {
			regs, err := pinrec.Regions(imgs[i], fs[i].Map, *nRegions, nil)
			if err != nil {
				log.Fatal(err)
			}
			nRegionItems += len(regs)
			if err := pinrec.PutPin(rx, pinrec.Item{ID: p.id, Vector: fs[i].Vector, Meta: pinMeta(p)}, regs); err != nil {
				log.Fatal(err)
			}
		}
		bestRegions, withRegions = min(bestRegions, time.Since(t0)), rx
	}
	fmt.Printf("benchregions: indexed %d pins: %.1f s without regions, %.1f s with %d region items (best of %d)\n",
		len(pins), bestWhole.Seconds(), bestRegions.Seconds(), nRegionItems, max(*repeat, 1))

	// Item queries.
	qimgs := make([]image.Image, len(queries))
	for i, q := range queries {
		qimgs[i] = q.img
	}
	qvecs, err := e.Embed(ctx, qimgs...)
	if err != nil {
		log.Fatal(err)
	}
	outfitsOnly := pinrec.WithMeta("set", "outfit")
	var recW, recR [2]float64
	var cnt [2]int
	rawRegions, rawAll := 0, 0
	for i, q := range queries {
		raw, err := withRegions.Search(ctx, qvecs[i], 10, outfitsOnly)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range raw {
			if _, ok := pinrec.IsRegion(r.Meta); ok {
				rawRegions++
			}
		}
		rawAll += len(raw)
		wres, err := whole.Search(ctx, qvecs[i], 10, outfitsOnly)
		if err != nil {
			log.Fatal(err)
		}
		rres, err := pinrec.SearchPins(ctx, withRegions, qvecs[i], 10, outfitsOnly)
		if err != nil {
			log.Fatal(err)
		}
		kind := 0
		if q.item >= 0 {
			kind = 1
		}
		recW[kind] += recall(wres, q.relSet)
		recR[kind] += recall(rres, q.relSet)
		cnt[kind]++
	}
	for k, name := range []string{"class", "item"} {
		if cnt[k] > 0 {
			fmt.Printf("benchregions: %s queries (%d): recall@10 of outfits holding the %s: whole-image %.3f, with regions %.3f\n",
				name, cnt[k], map[int]string{0: "class", 1: "exact item"}[k], recW[k]/float64(cnt[k]), recR[k]/float64(cnt[k]))
		}
	}
	// Where region vectors sit: their distance to their own pin's vector, next to the distance
	// between a pin and its nearest other pin.
	var toOwn, toNearest float64
	var nOwn, nPins int
	for _, p := range pins {
		it, err := withRegions.Get(p.id)
		if err != nil {
			log.Fatal(err)
		}
		for _, rid := range pinrec.RegionIDs(withRegions, p.id) {
			reg, err := withRegions.Get(rid)
			if err != nil {
				log.Fatal(err)
			}
			toOwn += dist(reg.Vector, it.Vector)
			nOwn++
		}
		near, err := whole.Similar(ctx, p.id, 1)
		if err != nil {
			log.Fatal(err)
		}
		toNearest += float64(near[0].Distance)
		nPins++
	}
	fmt.Printf("benchregions: region items among the raw top-10 of item queries: %d of %d; mean distance of a region item to its own pin %.2f, of a pin to its nearest other pin %.2f\n",
		rawRegions, rawAll, toOwn/float64(max(nOwn, 1)), toNearest/float64(max(nPins, 1)))
	wholeRecall := (recW[0] + recW[1]) / float64(cnt[0]+cnt[1])
	regionRecall := (recR[0] + recR[1]) / float64(cnt[0]+cnt[1])

	// Crop queries: one item's box out of an outfit; precision@10 of single-item pins of its class.
	// The crop is the item's box with a margin of 1/8 of its side (clipped to the canvas), as a
	// person would draw it; single-item pins show their item on about 80% of the canvas.
	singlesOnly := pinrec.WithMeta("set", "single")
	var cropPrec, outfitPrec float64
	var cropImgs []image.Image
	var cropOf []placed
	var cropOutfit []pin
	for c := range *nCrops {
		o := pins[(c*7)%*nOutfits]
		part := o.parts[c%len(o.parts)]
		m := part.box.W / 8
		x0, y0 := max(part.box.X-m, 0), max(part.box.Y-m, 0)
		x1, y1 := min(part.box.X+part.box.W+m, canvas), min(part.box.Y+part.box.H+m, canvas)
		ci, err := pinrec.Crop(o.img, pinrec.Rect{X: x0, Y: y0, W: x1 - x0, H: y1 - y0})
		if err != nil {
			log.Fatal(err)
		}
		cropImgs, cropOf, cropOutfit = append(cropImgs, ci), append(cropOf, part), append(cropOutfit, o)
	}
	cvecs, err := e.Embed(ctx, cropImgs...) // what Embedder.EmbedCrop does, in batches
	if err != nil {
		log.Fatal(err)
	}
	for c, cv := range cvecs {
		o, part := cropOutfit[c], cropOf[c]
		label := items[part.item].label
		res, err := whole.Search(ctx, cv, 10, singlesOnly)
		if err != nil {
			log.Fatal(err)
		}
		cropPrec += precision(res, pins, items, label)
		ov, err := whole.Get(o.id)
		if err != nil {
			log.Fatal(err)
		}
		res, err = whole.Search(ctx, ov.Vector, 10, singlesOnly)
		if err != nil {
			log.Fatal(err)
		}
		outfitPrec += precision(res, pins, items, label)
	}
	cropPrec /= float64(max(*nCrops, 1))
	outfitPrec /= float64(max(*nCrops, 1))
	fmt.Printf("benchregions: crop queries (%d): precision@10 of single-item pins of the item's class: crop %.3f, whole outfit as the query %.3f (chance %.3f)\n",
		*nCrops, cropPrec, outfitPrec, 0.1)
	fmt.Printf("benchregions: %.0f s in all\n", time.Since(start).Seconds())

	gain := 0.0
	if wholeRecall > 0 {
		gain = regionRecall / wholeRecall
	}
	fmt.Printf("region_recall_at_10=%.3f\n", regionRecall)
	fmt.Printf("whole_recall_at_10=%.3f\n", wholeRecall)
	fmt.Printf("region_gain=%.2f\n", gain)
	fmt.Printf("crop_precision_at_10=%.3f\n", cropPrec)
	fmt.Printf("regions_index_cost=%.2f\n", bestRegions.Seconds()/bestWhole.Seconds())
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func pinMeta(p pin) map[string]string {
	if p.outfit {
		return map[string]string{"set": "outfit"}
	}
	return map[string]string{"set": "single"}
}

// recall is the share of the relevant outfits found in res, out of at most len(res).
func recall(res []pinrec.Result, rel map[string]bool) float64 {
	if len(rel) == 0 {
		return 0
	}
	hit := 0
	for _, r := range res {
		if rel[r.ID] {
			hit++
		}
	}
	return float64(hit) / float64(min(len(rel), 10))
}

func precision(res []pinrec.Result, pins []pin, items []item, label int) float64 {
	byID := map[string]pin{}
	for _, p := range pins {
		byID[p.id] = p
	}
	hit := 0
	for _, r := range res {
		if items[byID[r.ID].parts[0].item].label == label {
			hit++
		}
	}
	return float64(hit) / 10
}

// makeOutfit places 2-4 items of different classes in a jittered 2x2 layout.
func makeOutfit(id string, items []item, take func() int, r *rand.Rand) pin {
	n := 2 + r.IntN(3)
	slots := r.Perm(4)[:n]
	img := blank()
	var parts []placed
	used := map[int]bool{}
	for _, s := range slots {
		k := take()
		for used[items[k].label] {
			k = take()
		}
		used[items[k].label] = true
		side := 80 + r.IntN(33)
		cx := canvas/4 + (s%2)*canvas/2 + r.IntN(41) - 20
		cy := canvas/4 + (s/2)*canvas/2 + r.IntN(41) - 20
		x := min(max(cx-side/2, 0), canvas-side)
		y := min(max(cy-side/2, 0), canvas-side)
		box := pinrec.Rect{X: x, Y: y, W: side, H: side}
		paint(img, items[k].img, box)
		parts = append(parts, placed{k, box})
	}
	return pin{id: id, img: img, parts: parts, outfit: true}
}

func blank() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, canvas, canvas))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

// paint scales a 28x28 item into box, keeping the lighter pixel where items overlap (items are
// light on a black background).
func paint(dst *image.RGBA, src *image.Gray, box pinrec.Rect) {
	scaled := image.NewGray(image.Rect(0, 0, box.W, box.H))
	draw.BiLinear.Scale(scaled, scaled.Bounds(), src, src.Bounds(), draw.Src, nil)
	for y := range box.H {
		for x := range box.W {
			v := scaled.GrayAt(x, y).Y
			o := dst.RGBAAt(box.X+x, box.Y+y)
			if v > o.R {
				dst.SetRGBA(box.X+x, box.Y+y, color.RGBA{v, v, v, 255})
			}
		}
	}
}

// loadItems reads the Fashion-MNIST test split.
func loadItems(dir string) ([]item, error) {
	m, labels, err := fashionmnist.Load(dir, fashionmnist.Test)
	if err != nil {
		return nil, err
	}
	out := make([]item, m.N)
	for i := range out {
		out[i] = item{img: m.Gray(i), label: int(labels[i])}
	}
	return out, nil
}
