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
	modelDir := fs.String("model", pinrec.DefaultModelDir(), "model `folder` (SavedModel + pinrec.json)")
	indexPath := fs.String("index", "", "index `file` to create or sync (required)")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines decoding and preprocessing images")
	batch := fs.Int("batch", 8, "images per inference batch")
	threads := fs.Int("threads", 0, "TensorFlow intra- and inter-op threads (0: TensorFlow's default, one per core)")
	checkpoint := fs.Duration("checkpoint", 30*time.Second, "save the index this often during a run (0: only at the end)")
	embedding := fs.String("embedding", "model", "model: ResNet50 embeddings; pixels: the raw-pixel baseline (16x16 RGB, flattened)")
	pos, err := parseArgs(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	switch {
	case *indexPath == "":
		return usagef("-index FILE is required")
	case *workers < 1:
		return usagef("-workers %d: want at least 1", *workers)
	case *batch < 1:
		return usagef("-batch %d: want at least 1", *batch)
	case *threads < 0:
		return usagef("-threads %d: want 0 or more", *threads)
	case *checkpoint < 0:
		return usagef("-checkpoint %v: want 0 or more", *checkpoint)
	case *embedding != "model" && *embedding != "pixels":
		return usagef("-embedding %q: want model or pixels", *embedding)
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
	absIndex, err := filepath.Abs(*indexPath)
	if err != nil {
		return err
	}
	if err := checkWritable(absIndex); err != nil {
		return err
	}

	// The existing index, if any, is synced; a file that is not an index is never overwritten.
	var ix *pinrec.Index
	if _, err := os.Stat(absIndex); err == nil {
		if ix, err = pinrec.Load(absIndex); err != nil {
			return fmt.Errorf("cannot read the existing index (remove it or choose another -index): %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	// What the index records about the embedding; the model itself is only loaded (which takes
	// seconds) when there is something to embed.
	var want map[string]string
	if *embedding == "pixels" {
		want = pixelEncoder{}.info()
	} else if want, err = readModelInfo(*modelDir); err != nil {
		return err
	}
	if ix != nil {
		if err := compatible(*indexPath, ix.Info(), want); err != nil {
			return err
		}
	} else {
		dim, _ := strconv.Atoi(want[infoDim])
		if ix, err = pinrec.NewIndex(dim); err != nil {
			return err
		}
	}
	for k, v := range want {
		ix.SetInfo(k, v)
	}
	ix.SetInfo(infoRoot, root)
	fmt.Fprintf(stderr, "pinrec index: %s\n", describeEncoder(want))

	out := &reporter{w: stderr, tty: isTerminal(stderr)}
	sources, walkSkips := walk(root, absIndex, out)

	// Sync: what is unchanged stays, what is gone goes, the rest is embedded.
	var todo []source
	unchanged := 0
	present := make(map[string]bool, len(sources))
	for _, s := range sources {
		present[s.id] = true
		if it, err := ix.Get(s.id); err == nil &&
			it.Meta[metaSize] == strconv.FormatInt(s.size, 10) &&
			it.Meta[metaMtime] == strconv.FormatInt(s.mtime, 10) &&
			it.Meta[metaPath] == s.path {
			unchanged++
			continue
		}
		todo = append(todo, s)
	}
	var gone []string
	for _, id := range ix.IDs() {
		if !present[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		if err := ix.Remove(gone...); err != nil {
			return err
		}
	}

	var enc encoder = pixelEncoder{}
	if len(todo) > 0 && *embedding == "model" {
		m, err := openModel(*modelDir, *threads, *batch)
		if err != nil {
			return err
		}
		defer m.Close()
		if err := compatible(*modelDir+"/"+pinrec.ModelInfoFile, want, m.info()); err != nil {
			return err
		}
		enc = m
	}

	if len(todo) > 0 {
		fmt.Fprintf(stderr, "pinrec index: %d images to embed (%d unchanged, %d removed) under %s\n",
			len(todo), unchanged, len(gone), pos[0])
	}
	st, err := embedAll(sigCtx, ix, enc, todo, absIndex, *workers, *batch, *checkpoint, out)
	st.unchanged, st.removed = unchanged, len(gone)
	st.skipped += walkSkips
	interrupted := sigCtx.Err() != nil && ctx.Err() == nil
	if err != nil && !interrupted {
		// Keep what was embedded before the failure.
		if serr := ix.Save(absIndex); serr != nil {
			return fmt.Errorf("%v; saving the index also failed: %v", err, serr)
		}
		return err
	}
	if err := ix.Save(absIndex); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "indexed %d, unchanged %d, removed %d, skipped %d: %s holds %d items\n",
		st.indexed, st.unchanged, st.removed, st.skipped, *indexPath, ix.Len())
	if interrupted {
		return fmt.Errorf("%w after %d of %d images; the index was saved, run the same command again to finish",
			errInterrupted, st.indexed+st.failed, len(todo))
	}
	return nil
}

// describeEncoder is the one line index prints about what it embeds with.
func describeEncoder(info map[string]string) string {
	if info[infoEmbedding] == "pixels" {
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
// folders and the index file itself. Folders it cannot read are reported and counted.
func walk(root, indexPath string, out *reporter) ([]source, int) {
	var sources []source
	skipped := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			out.skip(path, err.Error())
			skipped++
			if d != nil && d.IsDir() {
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
	return sources, skipped
}

// stats counts what a run did.
type stats struct {
	indexed, unchanged, removed, skipped int
	failed                               int // of the skipped, those that were attempted in this run
}

// prepared is one decoded and preprocessed image, or why it could not be.
type prepared struct {
	src   source
	input []float32
	err   error
}

// embedAll decodes and preprocesses todo in workers goroutines while the calling goroutine
// runs inference on batches of their results, in todo's order, and adds them to ix. It saves
// ix to indexPath every checkpoint. Files that cannot be used are reported and skipped;
// stale entries for them are dropped. It returns early, without error, when ctx is done.
func embedAll(ctx context.Context, ix *pinrec.Index, enc encoder, todo []source, indexPath string,
	workers, batch int, checkpoint time.Duration, out *reporter) (stats, error) {
	var st stats
	if len(todo) == 0 {
		return st, nil
	}
	// The pipeline stops on ctx (an interrupt) or on an inference failure.
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		src source
		res chan<- prepared
	}
	jobs := make(chan job, workers)
	// order holds each job's result channel in todo's order; its capacity bounds how far
	// decoding runs ahead of inference.
	order := make(chan chan prepared, 2*batch+workers)
	go func() {
		defer close(order)
		defer close(jobs)
		for _, s := range todo {
			res := make(chan prepared, 1)
			select {
			case order <- res:
			case <-ctx.Done():
				return
			}
			jobs <- job{s, res}
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				j.res <- prepare(ctx, enc, j.src)
			}
		}()
	}

	prog := newProgress(out, len(todo))
	lastSave := time.Now()
	pending := make([]prepared, 0, batch)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		inputs := make([][]float32, len(pending))
		for i, p := range pending {
			inputs[i] = p.input
		}
		vecs, err := enc.encode(ctx, inputs)
		if err != nil {
			if outer.Err() != nil {
				pending = pending[:0]
				return nil
			}
			return fmt.Errorf("inference: %w", err)
		}
		for i, p := range pending {
			err := ix.Add(pinrec.Item{ID: p.src.id, Vector: vecs[i], Meta: map[string]string{
				metaPath:  p.src.path,
				metaSize:  strconv.FormatInt(p.src.size, 10),
				metaMtime: strconv.FormatInt(p.src.mtime, 10),
			}})
			if err != nil {
				st.skipped++
				st.failed++
				out.skip(p.src.id, err.Error())
				dropStale(ix, p.src.id)
				continue
			}
			st.indexed++
		}
		prog.add(len(pending))
		pending = pending[:0]
		if checkpoint > 0 && time.Since(lastSave) >= checkpoint {
			if err := ix.Save(indexPath); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			lastSave = time.Now()
		}
		return nil
	}
	var err error
	for res := range order {
		p := <-res
		if ctx.Err() != nil {
			continue // drain what the workers finish
		}
		if p.err != nil {
			st.skipped++
			st.failed++
			out.skip(p.src.id, p.err.Error())
			dropStale(ix, p.src.id)
			prog.add(1)
			continue
		}
		pending = append(pending, p)
		if len(pending) == batch {
			if err = flush(); err != nil {
				cancel()
			}
		}
	}
	if err == nil && ctx.Err() == nil {
		err = flush()
	}
	prog.done()
	return st, err
}

// prepare decodes and preprocesses one file. A panic in a decoder becomes an error for that
// file rather than the end of the run.
func prepare(ctx context.Context, enc encoder, s source) (p prepared) {
	p.src = s
	if ctx.Err() != nil {
		p.err = ctx.Err()
		return p
	}
	defer func() {
		if r := recover(); r != nil {
			p.input, p.err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	img, err := pinrec.DecodeFile(s.path)
	if err != nil {
		p.err = errors.New(reason(err, s.path))
		return p
	}
	p.input = enc.prepare(img)
	return p
}

// reason is the message of a decoding error without the "decode PATH: " that DecodeFile puts
// before it: the report already names the file.
func reason(err error, path string) string {
	msg := err.Error()
	if i := strings.Index(msg, path+": "); i >= 0 {
		return msg[i+len(path)+2:]
	}
	return msg
}

// dropStale removes the index entry of a file that changed and can no longer be used.
func dropStale(ix *pinrec.Index, id string) {
	if ix.Has(id) {
		ix.Remove(id)
	}
}
