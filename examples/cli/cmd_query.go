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
)

// answer is what query and similar print with -json.
type answer struct {
	Query   string      `json:"query"`
	Results []rankedRow `json:"results"`
}

type rankedRow struct {
	Rank     int     `json:"rank"`
	ID       string  `json:"id"`
	Distance float32 `json:"distance"`
}

// searchFlags are the flags query and similar share.
type searchFlags struct {
	index, grid string
	k           int
	json        bool
}

func (f *searchFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.index, "index", "", "index `file` (required)")
	fs.IntVar(&f.k, "k", 5, "number of results")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.grid, "grid", "", "also write a PNG `file`: the query on the left, the results beside it")
}

func (f *searchFlags) check() error {
	if err := requireIndexFlag(f.index); err != nil {
		return err
	}
	if f.k < 1 {
		return usagef("-k %d: want at least 1", f.k)
	}
	return nil
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", "[-model DIR] -index FILE [-k 5] [-json] [-grid OUT.png] IMAGE", stdout)
	var f searchFlags
	f.register(fs)
	modelDir := fs.String("model", pinrec.DefaultModelDir(), "model `folder`; must be the one the index was built with")
	pos, err := parseArgs(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	ix, err := loadIndex(f.index)
	if err != nil {
		return err
	}
	defer ix.Close()
	img, err := pinrec.DecodeFile(pos[0])
	if err != nil {
		return err
	}
	enc, err := encoderFor(f.index, ix, *modelDir, 0)
	if err != nil {
		return err
	}
	defer enc.Close()
	vecs, err := enc.encode(ctx, [][]float32{enc.prepare(img)})
	if err != nil {
		return err
	}
	results, err := ix.Search(ctx, vecs[0], f.k)
	if err != nil {
		return err
	}
	return report(stdout, stderr, ix, f, pos[0], pos[0], results)
}

func runSimilar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("similar", "-index FILE [-k 5] [-json] [-grid OUT.png] ID", stdout)
	var f searchFlags
	f.register(fs)
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	ix, err := loadIndex(f.index)
	if err != nil {
		return err
	}
	defer ix.Close()
	id := pos[0]
	if !ix.Has(id) {
		return fmt.Errorf("no item %q in %s (pinrec ls -index %s lists the IDs)", id, f.index, f.index)
	}
	results, err := ix.Similar(ctx, id, f.k)
	if err != nil && !errors.Is(err, pinrec.ErrEmptyIndex) {
		return err
	}
	return report(stdout, stderr, ix, f, id, imagePath(ix, id, nil), results)
}

// loadIndex opens an index file for reading.
func loadIndex(path string) (*pinrec.Index, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("index %s: %w", path, errors.Unwrap(err))
	}
	return pinrec.Load(path)
}

// imagePath is where the image of an indexed item lives: the path index recorded, or the ID
// under the indexed folder when that file has moved. meta may be nil (it is then looked up).
func imagePath(ix *pinrec.Index, id string, meta map[string]string) string {
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
func report(stdout, stderr io.Writer, ix *pinrec.Index, f searchFlags, query, queryImage string, results []pinrec.Result) error {
	rows := make([]rankedRow, len(results))
	for i, r := range results {
		rows[i] = rankedRow{Rank: i + 1, ID: r.ID, Distance: r.Distance}
	}
	if f.grid != "" {
		cells := make([]gridCell, len(results))
		for i, r := range results {
			cells[i] = gridCell{path: imagePath(ix, r.ID, r.Meta), name: r.ID, rank: i + 1, distance: r.Distance}
		}
		if err := writeGrid(f.grid, gridCell{path: queryImage, name: query}, cells, gridFooter(ix)); err != nil {
			return err
		}
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(answer{Query: query, Results: rows}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "query: %s\n", query)
		fmt.Fprintf(stdout, "%4s  %12s  %s\n", "rank", "distance", "id")
		for _, r := range rows {
			fmt.Fprintf(stdout, "%4d  %12.4f  %s\n", r.Rank, r.Distance, r.ID)
		}
	}
	if f.grid != "" {
		fmt.Fprintf(stderr, "wrote %s\n", f.grid)
	}
	return nil
}

// gridFooter says what made the grid: the index and its embedding.
func gridFooter(ix *pinrec.Index) string {
	in := ix.Info()
	what := fmt.Sprintf("ResNet50 embeddings (%s-d), weights: %s", in[infoDim], in[infoWeights])
	if in[infoEmbedding] == "pixels" {
		what = fmt.Sprintf("raw-pixel baseline (%sx%s RGB, %s-d)", in[infoInputSize], in[infoInputSize], in[infoDim])
	}
	return fmt.Sprintf("pinrec: nearest of %d items by Euclidean distance d; %s", ix.Len(), what)
}
