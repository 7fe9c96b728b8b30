package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"pinrec/engage"
	"pinrec/web"
)

// shutdownGrace bounds how long serve waits for requests in flight after SIGINT or SIGTERM.
const shutdownGrace = 30 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "-index FILE [-model DIR] [-addr 127.0.0.1:8080] [-max-upload BYTES]", stdout)
	indexPath := fs.String("index", "", "index `file` to serve (required)")
	modelDir := fs.String("model", defaultModelDir(), "model `folder` for upload and crop queries; must be the one the index was built with")
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (loopback by default; port 0 picks a free one)")
	maxUpload := fs.Int64("max-upload", 32<<20, "largest upload request in `bytes` (larger ones get 413)")
	maxPixels := fs.Int("max-pixels", 24<<20, "largest uploaded image in `pixels` (width*height, checked before decoding)")
	maxK := fs.Int("max-k", 100, "largest k a query may ask for")
	threads := fs.Int("threads", 0, "TensorFlow intra- and inter-op threads (0: one per core)")
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
	ix, err := openStore(ctx, storeFlags{index: *indexPath}, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	enc, err := embedderFor(*indexPath, ix, *modelDir, *threads)
	if err != nil {
		return err
	}
	defer enc.Close()
	// TensorFlow's first inference takes seconds (graph set-up): done now, not in the first
	// upload or crop query.
	if _, err := enc.Embed(ctx, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		return fmt.Errorf("warming up the embedder: %w", err)
	}
	// Likes, saves and rank=hybrid through the engagement store next to the index (package engage).
	eng, err := engage.Open(engage.PathFor(*indexPath), engage.WithKnownItems(ix.Has))
	if err != nil {
		return err
	}
	defer eng.Close()

	logger := log.New(stderr, "", log.LstdFlags)
	root := ix.Info()[infoRoot]
	h, err := web.New(ix,
		web.WithEmbedder(enc),
		web.WithImageLocator(func(id string, meta map[string]string) string { return servedPath(root, id, meta) }),
		web.WithLogger(logger),
		web.WithMaxUpload(*maxUpload),
		web.WithMaxPixels(*maxPixels),
		web.WithMaxK(*maxK),
		web.WithEngagement(eng),
	)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          logger,
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "pinrec serve: %d items of %s on http://%s/ (Ctrl-C stops)\n", ix.Len(), *indexPath, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-sigCtx.Done():
	}
	stop() // a second signal ends the program at once
	fmt.Fprintln(stderr, "pinrec serve: stopping after the requests in flight")
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stderr, "pinrec serve: stopped")
	return nil
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
