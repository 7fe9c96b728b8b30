package main

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"pinrec"
	"pinrec/engage"
	"pinrec/web"
)

// shutdownGrace bounds how long serve waits for requests in flight after SIGINT or SIGTERM;
// then it abandons them (logged) and exits 0.
const shutdownGrace = 10 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "-index FILE [-model DIR] [-addr 127.0.0.1:8080] [-max-upload BYTES]", stdout)
	indexPath := fs.String("index", "", "index `file` to serve (required)")
	modelDir := fs.String("model", defaultModelDir(), "model `folder` for upload and crop queries; must be the one the index was built with")
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (loopback by default; port 0 picks a free one)")
	maxUpload := fs.Int64("max-upload", 32<<20, "largest upload request in `bytes` (larger ones get 413)")
	maxPixels := fs.Int("max-pixels", 24<<20, "largest uploaded image in `pixels` (width*height, checked before decoding)")
	maxK := fs.Int("max-k", 100, "largest k a query may ask for")
	threads := fs.Int("threads", 0, "TensorFlow intra- and inter-op threads (0: one per core)")
	allowHost := fs.String("allow-host", "", "comma-separated host `names` the server answers to besides loopback ones and -addr's host (others get 421: DNS rebinding)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	switch {
	case *indexPath == "":
		return usagef("-index FILE is required")
	case *maxUpload < 1:
		return usagef("-max-upload %d: want at least 1", *maxUpload)
	case *maxPixels < 1:
		return usagef("-max-pixels %d: want at least 1", *maxPixels)
	case *maxK < 1:
		return usagef("-max-k %d: want at least 1", *maxK)
	}
	// A flat index is read into memory; another kind (hnsw) is memory-mapped, for a fast
	// start. Either way serve watches the file and reloads it when it changes (servestore.go).
	began := time.Now()
	phase := func(what string, at time.Duration) {
		fmt.Fprintf(stderr, "pinrec serve: %s (%.1f s after the start)\n", what, at.Seconds())
	}
	// The index opens (a mapped one copies its graph into memory: seconds at a million
	// items) while the model loads, chosen from the index's metadata, read first.
	// (Phases are printed here, not on the other goroutine: loading the model silences
	// stderr, TensorFlow's chatter.)
	type opened struct {
		ix  *servedIndex
		err error
		at  time.Duration
	}
	openc := make(chan opened, 1)
	go func() {
		ix, err := openServed(*indexPath, true)
		openc <- opened{ix, err, time.Since(began)}
	}()
	info, err := pinrec.ReadInfo(*indexPath)
	var enc *pinrec.Embedder
	if err == nil {
		enc, err = embedderForInfo(*indexPath, info, *modelDir, *threads)
	}
	if err == nil {
		// TensorFlow's first inference takes seconds (graph set-up): done now, not in the
		// first upload or crop query.
		if _, err = enc.Embed(ctx, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
			err = fmt.Errorf("warming up the embedder: %w", err)
		}
	}
	modelAt := time.Since(began)
	o := <-openc
	if o.err != nil || err != nil {
		if enc != nil {
			enc.Close()
		}
		if o.ix != nil {
			o.ix.Close()
		}
		return cmp.Or(o.err, err) // the index's own error first: it says more about the file
	}
	defer enc.Close()
	ix := o.ix
	phase("index opened", o.at)
	phase("model loaded", modelAt)
	rh := &reloadingHandler{path: *indexPath}
	defer func() { rh.current().Close() }()
	// Likes, saves and rank=hybrid through the engagement store next to the index (package engage).
	eng, err := engage.Open(engage.PathFor(*indexPath), engage.WithKnownItems(func(id string) bool { return rh.current().Has(id) }))
	if err != nil {
		ix.Close()
		return err
	}
	defer eng.Close()
	// Visitors' IDs are signed with a key kept beside the engagement database, so they
	// survive restarts.
	key, err := web.LoadOrCreateKey(engage.PathFor(*indexPath) + ".key")
	if err != nil {
		ix.Close()
		return err
	}

	logger := log.New(stderr, "", log.LstdFlags)
	rh.logger = logger
	// The web site over one loaded index; built again when the file is reloaded.
	rh.build = func(ix *servedIndex) (http.Handler, error) {
		root := ix.Info()[infoRoot]
		// Result lists hide near-duplicates of higher-ranked results ("N similar hidden"), at the
		// distance index calibrated (collapse.go).
		dupesCal, err := dupesThreshold(ctx, ix)
		if err != nil {
			return nil, err
		}
		return web.New(ix,
			web.WithNearDuplicates(ix.collapser(dupesCal.Threshold)),
			web.WithEmbedder(enc),
			web.WithImageLocator(func(id string, meta map[string]string) string { return servedPath(root, id, meta) }),
			web.WithLogger(logger),
			web.WithMaxUpload(*maxUpload),
			web.WithMaxPixels(*maxPixels),
			web.WithMaxK(*maxK),
			web.WithEngagement(eng),
			web.WithVisitorKey(key),
			web.WithAllowedHosts(allowedHosts(*allowHost, *addr)...),
		)
	}
	// A reloaded file must suit the embedder, as the first one did.
	first := ix.Info()
	rh.check = func(next *servedIndex) error { return compatible(*indexPath, next.Info(), first) }
	h, err := rh.build(ix)
	if err != nil {
		ix.Close()
		return err
	}
	phase("pages set up", time.Since(began))
	rh.live.Store(&liveIndex{ix: ix, h: h})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go rh.watchIndex(sigCtx)
	go rh.verifyLive() // a mapped index opened without reading its vectors (servestore.go)
	fmt.Fprintf(stderr, "pinrec serve: %d items of %s on http://%s/ (Ctrl-C stops)\n", ix.Len(), *indexPath, ln.Addr())
	go func() {
		<-sigCtx.Done()
		stop() // a second signal ends the program at once
		if ctx.Err() == nil {
			fmt.Fprintln(stderr, "pinrec serve: stopping after the requests in flight")
		}
	}()
	if err := web.Serve(sigCtx, ln, rh, web.WithShutdownGrace(shutdownGrace), web.WithServeLogger(logger)); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "pinrec serve: stopped")
	return nil
}

// allowedHosts are the host names serve answers to besides the loopback ones: the -allow-host
// names and the host of -addr when it names one (not a wildcard address).
func allowedHosts(flag, addr string) []string {
	var out []string
	for _, h := range strings.Split(flag, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			out = append(out, host)
		}
	}
	return out
}

// servedPath is the image file serve shows for an item: the path index recorded, or the ID
// under the indexed folder when that file has moved (only for IDs that stay inside it).
func servedPath(root, id string, meta map[string]string) string {
	if p := meta[metaPath]; p != "" {
		if _, err := os.Stat(p); err == nil || root == "" {
			return p
		}
	}
	rel := filepath.FromSlash(id)
	if root == "" || !filepath.IsLocal(rel) {
		return meta[metaPath]
	}
	return filepath.Join(root, rel)
}
