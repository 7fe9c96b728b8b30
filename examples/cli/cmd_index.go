package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pinrec"
)

// Item metadata the index command writes for every item.
const (
	metaPath  = "path"  // absolute path of the source image (similar -grid reads it)
	metaSize  = "size"  // file size in bytes when embedded
	metaMtime = "mtime" // modification time in Unix nanoseconds when embedded
)

// imageExts are the file name extensions index looks at (case-insensitive). Files with other
// extensions are not images to pinrec and are passed over silently; files with these
// extensions that cannot be used are reported and skipped.
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}

// source is one image file found under the indexed folder.
type source struct {
	id    string // path relative to the folder, forward slashes
	path  string // absolute path
	size  int64
	mtime int64
}

func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("index", "[-model DIR] -index FILE [-workers N] [-embedding model|pixels] DIR", stdout)
	modelDir := fs.String("model", defaultModelDir(), "model `folder` (SavedModel + pinrec.json)")
	var store storeFlags
	store.register(fs, "to create or sync (required)")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines decoding and preprocessing images")
	batch := fs.Int("batch", 8, "images per inference batch")
	threads := fs.Int("threads", 0, "TensorFlow intra- and inter-op threads (0: TensorFlow's default, one per core)")
	checkpoint := fs.Duration("checkpoint", 30*time.Second, "save the index this often during a run (0: only at the end)")
	fast := fs.Bool("fast", false, "fast mode: TensorFlow's oneDNN bfloat16 mixed precision (faster only on CPUs with native bfloat16; an index keeps one precision)")
	embedding := fs.String("embedding", "model", "model: ResNet50 embeddings; pixels: the raw-pixel baseline (16x16 RGB, flattened)")
	reportDupes := fs.Bool("report-dupes", false, "after indexing, print each new or changed file's near-duplicates and exact duplicates in the index (pinrec dupes groups them all)")
	regions := fs.Int("regions", 0, "also index up to `N` region items per image (parts of it pooled from the model's feature map); query and similar then return pins with the best part's box")
	allowRemovals := fs.Bool("allow-removals", false, "sync even when it looks like a mistake: from an empty folder, from another folder than the index's, or removing more than half of its pins")
	pos, err := parseArgs(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	switch {
	case store.check() != nil:
		return store.check()
	case *workers < 1:
		return usagef("-workers %d: want at least 1", *workers)
	case *batch < 1:
		return usagef("-batch %d: want at least 1", *batch)
	case *threads < 0:
		return usagef("-threads %d: want 0 or more", *threads)
	case *checkpoint < 0:
		return usagef("-checkpoint %v: want 0 or more", *checkpoint)
	case *embedding != embedModel && *embedding != embedPixels:
		return usagef("-embedding %q: want model or pixels", *embedding)
	case *regions < 0:
		return usagef("-regions %d: want 0 or more", *regions)
	case *regions > 0 && *embedding == embedPixels:
		return usagef("-regions needs -embedding model (regions come from the model's feature map)")
	}
	// From here on, SIGINT and SIGTERM stop the run after saving what it did.
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-sigCtx.Done()
		stop() // a second Ctrl-C ends the program at once
	}()

	root, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	if st, err := os.Stat(root); err != nil {
		return err
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", pos[0])
	}
	indexPath := store.String() // as given, for messages
	absIndex := ""              // no file with -backend
	if store.backend == "" {
		if absIndex, err = filepath.Abs(store.index); err != nil {
			return err
		}
		if err := checkWritable(absIndex); err != nil {
			return err
		}
		store.index = absIndex
	}

	// What the index records about the embedding; the model itself is only loaded (which takes
	// seconds) when there is something to embed.
	want, err := wantInfo(*embedding, *modelDir)
	if err != nil {
		return err
	}
	dim, _ := strconv.Atoi(want[infoDim])
	if *embedding == embedModel {
		want[infoPrecision] = pinrec.PrecisionFloat32
		if *fast {
			want[infoPrecision] = pinrec.PrecisionFast
		}
	}

	// The existing index, if any, is synced; a file that is not an index is never overwritten.
	ix, err := openStore(ctx, store, dim)
	if err != nil {
		return fmt.Errorf("cannot read the existing index (remove it or choose another -index): %w", err)
	}
	defer ix.Close()
	if ix.Len() > 0 || len(ix.Info()) > 0 {
		if err := compatible(indexPath, ix.Info(), want); err != nil {
			return err
		}
	}
	// A different -regions than the index was built with re-embeds every image (regions.go).
	regionsChanged := regionsDiffer(ix, *regions)
	recorded := ix.Info()[infoRoot]
	fmt.Fprintf(stderr, "pinrec index: %s\n", describeEmbedding(want))

	out := &reporter{w: stderr, tty: isTerminal(stderr)}
	sources, walkSkips, unreadable := walk(root, absIndex, out)

	// Sync: what is unchanged stays, what is gone goes, the rest is embedded.
	var todo []source
	unchanged := 0
	present := make(map[string]bool, len(sources))
	for _, s := range sources {
		present[s.id] = true
		if it, err := ix.Get(s.id); err == nil &&
			it.Meta[metaSize] == strconv.FormatInt(s.size, 10) &&
			it.Meta[metaMtime] == strconv.FormatInt(s.mtime, 10) &&
			it.Meta[metaPath] == s.path && !regionsChanged {
			unchanged++
			continue
		}
		todo = append(todo, s)
	}
	var gone []string
	ids := ix.IDs()
	for _, id := range ids {
		if p, ok := pinrec.RegionParent(id); ok && present[p] {
			continue // a region item of a pin that stays (PutPin replaces them when it is re-embedded)
		}
		if !present[id] && !underAny(id, unreadable) { // a folder that cannot be read keeps its pins
			gone = append(gone, id)
		}
	}
	// Nothing is changed before this check (syncguard.go).
	if err := checkSync(syncPlan{index: indexPath, dir: pos[0], root: root, recorded: recorded,
		pins: countPins(ids), found: len(sources), remove: countPins(gone)}, *allowRemovals); err != nil {
		return err
	}
	for k, v := range want {
		ix.SetInfo(k, v)
	}
	ix.SetInfo(infoRegions, strconv.Itoa(*regions))
	ix.SetInfo(infoRoot, root)
	if len(gone) > 0 {
		if absIndex != "" {
			prev, err := keepPrevious(absIndex)
			if err != nil {
				return err
			}
			if prev != "" {
				fmt.Fprintf(stderr, "pinrec index: %d pins to remove; the index as it was is kept as %s (move it back to undo this sync)\n", countPins(gone), prev)
			}
		}
		if err := ix.Remove(gone...); err != nil {
			return err
		}
	}

	var st stats
	if len(todo) > 0 {
		// oerr, not err: embedAll's error below must reach the checks after this block.
		emb, oerr := openEmbedder(*embedding, *modelDir, embedderOptions{threads: *threads, batch: *batch, workers: *workers, regions: *regions, fast: *fast})
		if oerr != nil {
			return oerr
		}
		defer emb.Close()
		fmt.Fprintf(stderr, "pinrec index: %d images to embed (%d unchanged, %d removed) under %s\n",
			len(todo), unchanged, countPins(gone), pos[0])
		st, err = embedAll(sigCtx, ix, emb, todo, store, *checkpoint, out)
	}
	st.unchanged, st.removed = unchanged, countPins(gone)
	st.skipped += walkSkips
	interrupted := sigCtx.Err() != nil && ctx.Err() == nil
	if err != nil && !interrupted {
		// Keep what was embedded before the failure.
		if serr := saveStore(ix, store); serr != nil {
			return fmt.Errorf("%v; saving the index also failed: %v", err, serr)
		}
		return err
	}
	// The near-duplicate distance that similar and query use, calibrated once here (collapse.go).
	recordDupesThreshold(ctx, ix, st.indexed > 0 || st.removed > 0)
	if err := saveStore(ix, store); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "indexed %d, unchanged %d, removed %d, skipped %d: %s holds %d items\n",
		st.indexed, st.unchanged, st.removed, st.skipped, indexPath, ix.Len())
	if *reportDupes && !interrupted {
		if err := reportNewDupes(ctx, stdout, ix, sourceIDs(todo)); err != nil { // cmd_dupes.go
			return err
		}
	}
	if interrupted {
		return fmt.Errorf("%w after %d of %d images; the index was saved, run the same command again to finish",
			errInterrupted, st.indexed+st.failed, len(todo))
	}
	return nil
}

// describeEmbedding is the one line index prints about what it embeds with.
func describeEmbedding(info map[string]string) string {
	if info[infoEmbedding] == embedPixels {
		return fmt.Sprintf("raw-pixel baseline (%sx%s RGB flattened, %s-d)", info[infoInputSize], info[infoInputSize], info[infoDim])
	}
	return fmt.Sprintf("model %s (%s-d, %sx%s input, %s preprocessing; weights: %s)",
		info[infoModel], info[infoDim], info[infoInputSize], info[infoInputSize], info[infoMode], info[infoWeights])
}

// checkWritable fails early, before any embedding, when the index cannot be written: its
// folder must exist and accept a new file (Save writes a temporary file there and renames it).
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("index %s is a folder", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".pinrec-write-check-*")
	if err != nil {
		return fmt.Errorf("index %s cannot be written: %w", path, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// walk lists the image files under root in lexical order, leaving out hidden files and
// folders and the index file itself. Folders it cannot read are reported and counted, and
// returned (relative to root, with forward slashes): the sync keeps the pins under them.
func walk(root, indexPath string, out *reporter) ([]source, int, []string) {
	var sources []source
	var unreadable []string
	skipped := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			out.skip(path, err.Error())
			skipped++
			if d != nil && d.IsDir() {
				if rel, err := filepath.Rel(root, path); err == nil {
					unreadable = append(unreadable, filepath.ToSlash(rel))
				}
				return fs.SkipDir
			}
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || path == indexPath || !slices.Contains(imageExts, strings.ToLower(filepath.Ext(path))) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		info, err := os.Stat(path) // follows symbolic links
		if err != nil {
			out.skip(rel, err.Error())
			skipped++
			return nil
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		sources = append(sources, source{
			id:    filepath.ToSlash(rel),
			path:  path,
			size:  info.Size(),
			mtime: info.ModTime().UnixNano(),
		})
		return nil
	})
	return sources, skipped, unreadable
}

// stats counts what a run did.
type stats struct {
	indexed, unchanged, removed, skipped int
	failed                               int // of the skipped, those that were attempted in this run
}

// embedAll embeds todo with emb through the library's stream (decoding one batch ahead of
// inference) and adds the vectors to ix in todo's order, saving ix every checkpoint. Files that
// cannot be used are reported and skipped; stale entries for them are dropped. It returns
// early, without error, when ctx is done.
func embedAll(ctx context.Context, ix pinrec.Store, emb *pinrec.Embedder, todo []source, store storeFlags,
	checkpoint time.Duration, out *reporter) (stats, error) {
	var st stats
	skip := func(id, reason string) {
		st.skipped++
		st.failed++
		out.skip(id, reason)
		dropStale(ix, id)
	}
	paths := make([]string, len(todo))
	for i, s := range todo {
		paths[i] = s.path
	}
	prog := newProgress(out, len(todo))
	lastSave := time.Now()
	err := emb.EmbedStream(ctx, paths, func(r pinrec.EmbedResult) error {
		defer prog.add(1)
		src := todo[r.Index]
		if r.Err != nil {
			var fe *pinrec.FileError
			if errors.As(r.Err, &fe) {
				skip(src.id, fe.Err.Error()) // the report names the file
			} else {
				skip(src.id, r.Err.Error())
			}
			return nil
		}
		// PutPin also replaces the pin's region items (r.Regions, with -regions N; none otherwise).
		err := pinrec.PutPin(ix, pinrec.Item{ID: src.id, Vector: r.Vector, Meta: map[string]string{
			metaPath:  src.path,
			metaSize:  strconv.FormatInt(src.size, 10),
			metaMtime: strconv.FormatInt(src.mtime, 10),
			metaHash:  fileHash(src.path), // exact duplicates: same bytes (cmd_dupes.go)
		}}, r.Regions)
		if err != nil {
			skip(src.id, err.Error())
			return nil
		}
		st.indexed++
		if checkpoint > 0 && time.Since(lastSave) >= checkpoint {
			if err := saveStore(ix, store); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			lastSave = time.Now()
		}
		return nil
	})
	prog.done()
	if err != nil && ctx.Err() != nil {
		return st, nil // interrupted: the caller saves what was done
	}
	return st, err
}

// dropStale removes the index entry of a file that changed and can no longer be used.
func dropStale(ix pinrec.Store, id string) {
	pinrec.RemovePins(ix, id) // and its region items
}
