package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pinrec"
	"pinrec/web"
)

// answer is what query and similar print with -json: the web API's answer (package
// pinrec/web), one type for both, without the web page's links.
type answer = web.Answer

// searchFlags are the flags query and similar share.
type searchFlags struct {
	store storeFlags
	grid  string
	k     int
	json  bool
	crop  *pinrec.Rect // query -crop
	dupes string       // -dupes hide|show (collapse.go)
	view  *dupesView   // what hiding near-duplicates did, for report
}

func (f *searchFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
}) {
	f.store.register(fs, "(required)")
	fs.IntVar(&f.k, "k", 5, "number of results")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.grid, "grid", "", "also write a PNG `file`: the query on the left, the results beside it")
	fs.StringVar(&f.dupes, "dupes", dupesHide, "hide: near-duplicates of higher-ranked results (and of the query) are left out, \"N similar hidden\"; show: list every result, near-duplicates marked")
}

func (f *searchFlags) check() error {
	if err := f.store.check(); err != nil {
		return err
	}
	if f.k < 1 {
		return usagef("-k %d: want at least 1", f.k)
	}
	if f.dupes != dupesHide && f.dupes != dupesShow {
		return usagef("-dupes %q: want hide or show", f.dupes)
	}
	return nil
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", "[-model DIR] -index FILE [-k 5] [-crop x,y,w,h] [-json] [-grid OUT.png] IMAGE", stdout)
	var f searchFlags
	f.register(fs)
	cropFlag := fs.String("crop", "", "embed only this part of IMAGE: `x,y,w,h` in pixels of the upright image (after EXIF orientation)")
	modelDir := fs.String("model", defaultModelDir(), "model `folder`; must be the one the index was built with")
	pos, err := parseArgs(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if *cropFlag != "" {
		r, err := pinrec.ParseRect(*cropFlag)
		if err != nil {
			return usagef("-crop: %v", err)
		}
		f.crop = &r
	}
	ix, err := openStore(ctx, f.store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	img, err := pinrec.DecodeFile(pos[0])
	if err != nil {
		return err
	}
	if f.crop != nil {
		if err := f.crop.In(img.Bounds().Dx(), img.Bounds().Dy()); err != nil {
			return fmt.Errorf("-crop: %w", err)
		}
	}
	enc, err := embedderFor(f.store.String(), ix, *modelDir, 0)
	if err != nil {
		return err
	}
	defer enc.Close()
	var vec []float32
	if f.crop != nil {
		vec, err = enc.EmbedCrop(ctx, img, *f.crop)
	} else {
		var vecs [][]float32
		if vecs, err = enc.Embed(ctx, img); err == nil {
			vec = vecs[0]
		}
	}
	if err != nil {
		return err
	}
	// Pins, each once; with region items (index -regions N), at their best part (regions.go).
	// Near-duplicates of higher-ranked results hidden unless -dupes show (collapse.go).
	results, view, err := collapsedSearch(ctx, ix, vec, f.k, f.dupes, func(n int) ([]pinrec.Result, error) {
		return pinrec.SearchPins(ctx, ix, vec, n)
	})
	if err != nil {
		return err
	}
	f.view = view
	return report(stdout, stderr, ix, f, pos[0], pos[0], results)
}

func runSimilar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("similar", "-index FILE [-k 5] [-json] [-grid OUT.png] [-rank visual|hybrid | -user U] ID", stdout)
	var f searchFlags
	f.register(fs)
	rank := fs.String("rank", "visual", "visual: by distance; hybrid: re-ranked with the likes and saves of pinrec engage (-json shows the score's components)")
	engageDB := fs.String("db", "", "engagement database `file` for -rank hybrid (default: INDEX.engage.db)")
	user := fs.String("user", "", "personalise for this `user`: re-rank by closeness to their interests too (pinrec foryou; -json shows the score's components)")
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if *rank != "visual" && *rank != "hybrid" {
		return usagef("-rank %q: want visual or hybrid", *rank)
	}
	ix, err := openStore(ctx, f.store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	id := pos[0]
	if !ix.Has(id) {
		return fmt.Errorf("no item %q in %s (pinrec ls -index %s lists the IDs)", id, f.store, f.store)
	}
	if *user != "" {
		if *rank != "visual" {
			return usagef("-user and -rank hybrid are two rankings: give one")
		}
		return similarPersonal(ctx, stdout, stderr, ix, f, *engageDB, *user, id)
	}
	if *rank == "hybrid" {
		return similarRanked(ctx, stdout, stderr, ix, f, *engageDB, id)
	}
	self, err := ix.Get(id)
	if err != nil {
		return err
	}
	results, view, err := collapsedSearch(ctx, ix, self.Vector, f.k, f.dupes, func(n int) ([]pinrec.Result, error) {
		return pinrec.SimilarPins(ctx, ix, id, n)
	})
	if err != nil && !errors.Is(err, pinrec.ErrEmptyIndex) {
		return err
	}
	f.view = view
	return report(stdout, stderr, ix, f, id, imagePath(ix, id, nil), results)
}

// imagePath is where the image of an indexed item lives: the path index recorded, or the ID
// under the indexed folder when that file has moved. meta may be nil (it is then looked up).
func imagePath(ix pinrec.Store, id string, meta map[string]string) string {
	if meta == nil {
		if it, err := ix.Get(id); err == nil {
			meta = it.Meta
		}
	}
	if p := meta[metaPath]; p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if root := ix.Info()[infoRoot]; root != "" {
		return filepath.Join(root, filepath.FromSlash(id))
	}
	return meta[metaPath]
}

// report prints the results as a table or JSON and writes the grid.
func report(stdout, stderr io.Writer, ix pinrec.Store, f searchFlags, query, queryImage string, results []pinrec.Result) error {
	ans := web.NewAnswer(query, f.crop, results)
	if f.grid != "" {
		cells := make([]gridCell, len(results))
		for i, r := range results {
			cells[i] = gridCell{path: imagePath(ix, r.ID, r.Meta), name: r.ID, rank: i + 1, distance: r.Distance, region: r.Region}
		}
		if err := writeGrid(f.grid, gridCell{path: queryImage, name: query, region: f.crop}, cells, gridFooter(ix)); err != nil {
			return err
		}
	}
	if f.json {
		if f.view != nil && !f.view.show {
			ans.Hidden = f.view.count
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ans); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "query: %s\n", query)
		fmt.Fprintf(stdout, "%4s  %12s  %s\n", "rank", "distance", "id")
		for _, r := range ans.Results {
			fmt.Fprintf(stdout, "%4d  %12.4f  %s%s%s\n", r.Rank, r.Distance, r.ID, regionText(r.Region), f.view.note(r.ID))
		}
		if s := f.view.summary(); s != "" {
			fmt.Fprintln(stdout, s)
		}
	}
	if f.grid != "" {
		fmt.Fprintf(stderr, "wrote %s\n", f.grid)
	}
	return nil
}

// gridFooter says what made the grid: the index and its embedding.
func gridFooter(ix pinrec.Store) string {
	in := ix.Info()
	what := fmt.Sprintf("ResNet50 embeddings (%s-d), weights: %s", in[infoDim], in[infoWeights])
	if in[infoEmbedding] == "pixels" {
		what = fmt.Sprintf("raw-pixel baseline (%sx%s RGB, %s-d)", in[infoInputSize], in[infoInputSize], in[infoDim])
	}
	return fmt.Sprintf("pinrec: nearest of %d items by Euclidean distance d; %s", ix.Len(), what)
}
