package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"pinrec"
	"pinrec/dupes"
)

// dupesAnswer is what dupes prints with -json: the library's report, which says how the
// threshold was chosen.
type dupesAnswer struct {
	Index string `json:"index"`
	*dupes.Report
}

func runDupes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dupes", "-index FILE [-threshold auto|D] [-k 8] [-ef N] [-json] [-grid OUT.png] [-rows 20]", stdout)
	var store storeFlags
	store.register(fs, "(required)")
	threshold := fs.String("threshold", "auto", "near-duplicate `distance`: auto (calibrated from the index's nearest-neighbour distances) or a number; 0 reports exact duplicates only")
	k := fs.Int("k", dupes.DefaultK, "neighbours each item's first search asks for (more are fetched while the k-th is within the threshold)")
	ef := fs.Int("ef", 0, "approximate index: efSearch of the self-join's searches (0: the index's default)")
	asJSON := fs.Bool("json", false, "print one JSON object (groups, members, distances, the calibration)")
	grid := fs.String("grid", "", "also write a PNG `file`: one row per group, largest first, the representative framed")
	rows := fs.Int("rows", 20, "groups drawn in the -grid PNG")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	opts := []dupes.Option{dupes.WithK(*k), dupes.WithEffort(*ef)}
	switch {
	case *k < 1:
		return usagef("-k %d: want at least 1", *k)
	case *ef < 0:
		return usagef("-ef %d: want 0 or more", *ef)
	case *rows < 1:
		return usagef("-rows %d: want at least 1", *rows)
	case *threshold != "auto":
		t, err := strconv.ParseFloat(*threshold, 32)
		if err != nil || !(t >= 0) || t > 3.4e38 {
			return usagef("-threshold %q: want auto or a distance of 0 or more", *threshold)
		}
		opts = append(opts, dupes.WithThreshold(float32(t)))
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	start, last := time.Now(), time.Now()
	opts = append(opts, dupes.WithProgress(func(done, total int) {
		if time.Since(last) >= progressEvery && done < total {
			last = time.Now()
			fmt.Fprintf(stderr, "pinrec dupes: searched %d/%d items (%.0f/s)\n", done, total, float64(done)/time.Since(start).Seconds())
		}
	}))
	rep, err := dupes.Find(ctx, ix, opts...)
	if err != nil {
		return err
	}
	if *grid != "" {
		if err := writeDupesGrid(*grid, ix, rep, *rows); err != nil {
			return err
		}
		defer fmt.Fprintf(stderr, "wrote %s\n", *grid)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(dupesAnswer{Index: store.String(), Report: rep})
	}
	printDupes(stdout, rep)
	return nil
}

// printDupes prints the report as text: the threshold and why, then the groups.
func printDupes(w io.Writer, rep *dupes.Report) {
	c := rep.Calibration
	fmt.Fprintf(w, "threshold %.4g (%s): %s\n", c.Threshold, c.Rule, c.Explanation)
	fmt.Fprintf(w, "%d items: %d near-duplicate groups (%d items), %d exact-duplicate groups (%d items)\n",
		rep.Items, len(rep.Near), members(rep.Near), len(rep.Exact), members(rep.Exact))
	for i, g := range rep.Near {
		fmt.Fprintf(w, "\nnear %d: %d items\n", i+1, len(g.Members))
		printMembers(w, g)
	}
	for i, g := range rep.Exact {
		fmt.Fprintf(w, "\nexact %d: %d items\n", i+1, len(g.Members))
		printMembers(w, g)
	}
}

func printMembers(w io.Writer, g dupes.Group) {
	for i, m := range g.Members {
		what := ""
		switch {
		case i == 0:
			what = "  (representative)"
		case m.Exact != "":
			what = "  (" + m.Exact + ")"
		}
		fmt.Fprintf(w, "  %10.4f  %s%s\n", m.Distance, m.ID, what)
	}
}

func members(gs []dupes.Group) int {
	n := 0
	for _, g := range gs {
		n += len(g.Members)
	}
	return n
}

// writeDupesGrid draws up to rows groups (near first, then exact), one per row: the
// representative framed in blue, then the members by distance (at most perRow+1 cells; the
// JSON and text outputs list every member).
func writeDupesGrid(out string, ix pinrec.Store, rep *dupes.Report, rows int) error {
	regular, err := newFace(goregular.TTF)
	if err != nil {
		return err
	}
	bold, err := newFace(gobold.TTF)
	if err != nil {
		return err
	}
	type row struct {
		title string
		g     dupes.Group
	}
	var list []row
	for i, g := range rep.Near {
		list = append(list, row{fmt.Sprintf("near %d", i+1), g})
	}
	for i, g := range rep.Exact {
		list = append(list, row{fmt.Sprintf("exact %d", i+1), g})
	}
	list = list[:min(len(list), rows)]
	cols := 1
	for _, it := range list {
		cols = max(cols, min(len(it.g.Members), 1+perRow))
	}
	w := max(pad+cols*(thumb+pad), 3*thumb)
	h := pad + max(len(list), 1)*(thumb+captionH+pad) + footerH
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(colBackground), image.Point{}, draw.Src)
	for r, it := range list {
		y := pad + r*(thumb+captionH+pad)
		for c, m := range it.g.Members[:min(len(it.g.Members), cols)] {
			first := fmt.Sprintf("d = %s", formatDistance(m.Distance))
			frame, frameW := colFrame, 1
			if c == 0 {
				first = fmt.Sprintf("%s: %d items", it.title, len(it.g.Members))
				frame, frameW = colQuery, 3
			} else if m.Exact != "" {
				first += " " + m.Exact
			}
			drawDupeCell(dst, image.Pt(pad+c*(thumb+pad), y), imagePath(ix, m.ID, nil), first, m.ID, frame, frameW, bold, regular)
		}
	}
	small, err := newFaceSize(goregular.TTF, fontSize-2)
	if err != nil {
		return err
	}
	footer := fmt.Sprintf("pinrec dupes: threshold %.4g (%s), %d near and %d exact groups among %d items",
		rep.Calibration.Threshold, rep.Calibration.Rule, len(rep.Near), len(rep.Exact), rep.Items)
	drawText(dst, small, colSubtle, image.Pt(pad, h-pad+2), fit(small, footer, w-2*pad))
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	if err := png.Encode(f, dst); err != nil {
		f.Close()
		return fmt.Errorf("grid %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("grid %s: %w", out, err)
	}
	return nil
}

// drawDupeCell draws one thumbnail with a frame and two caption lines.
func drawDupeCell(dst *image.RGBA, at image.Point, path, first, name string, frame color.Color, frameW int, bold, regular font.Face) {
	box := image.Rectangle{Min: at, Max: at.Add(image.Pt(thumb, thumb))}
	fill(dst, box.Inset(-frameW), frame)
	fill(dst, box, colMat)
	if src, err := pinrec.DecodeFile(path); err != nil {
		drawText(dst, regular, colSubtle, image.Pt(box.Min.X+8, box.Min.Y+thumb/2), fit(regular, "image unavailable", thumb-16))
	} else {
		drawThumb(dst, box, src)
	}
	base := box.Max.Y + frameW + 17
	drawText(dst, bold, colText, image.Pt(box.Min.X, base), fit(bold, first, thumb))
	drawText(dst, regular, colSubtle, image.Pt(box.Min.X, base+19), fit(regular, shortName(name), thumb))
}

// metaHash is the item metadata key of the file's hex SHA-256, which index writes: equal
// values are exact duplicates (the same bytes).
const metaHash = dupes.MetaHash

// sourceIDs lists the IDs of sources.
func sourceIDs(sources []source) []string {
	out := make([]string, len(sources))
	for i, s := range sources {
		out[i] = s.id
	}
	return out
}

// fileHash is the hex SHA-256 of a file's bytes (dupes.MetaHash), or "" when it cannot be read.
func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reportNewDupes prints, for each newly indexed item, the items of ix it nearly or exactly
// duplicates (index -report-dupes). A pair of new items is printed once.
func reportNewDupes(ctx context.Context, w io.Writer, ix pinrec.Store, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	cal, err := dupesThreshold(ctx, ix)
	if err != nil {
		return err
	}
	fresh := make(map[string]bool, len(ids))
	for _, id := range ids {
		fresh[id] = true
	}
	found := 0
	for _, id := range ids {
		it, err := ix.Get(id)
		if err != nil {
			continue // skipped during the run
		}
		ms, _, err := dupes.Check(ctx, ix, it.Vector, dupes.WithThreshold(cal.Threshold),
			dupes.WithExclude(id), dupes.WithContentHash(it.Meta[dupes.MetaHash]))
		if err != nil {
			return err
		}
		for _, m := range ms {
			if fresh[m.ID] && m.ID < id {
				continue // printed from the other side
			}
			found++
			switch m.Exact {
			case "":
				fmt.Fprintf(w, "near-duplicate: %s ~ %s (distance %.4f)\n", id, m.ID, m.Distance)
			default:
				fmt.Fprintf(w, "exact duplicate (%s): %s = %s\n", m.Exact, id, m.ID)
			}
		}
	}
	fmt.Fprintf(w, "duplicates of new files: %d (threshold %.4g, %s: %s)\n", found, cal.Threshold, cal.Rule, cal.Explanation)
	return nil
}
