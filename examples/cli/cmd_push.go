package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"pinrec"
	"pinrec/weaviate"
)

// backendUsage describes -backend for every command that takes it.
const backendUsage = "Weaviate collection `URL` instead of a file: weaviate://HOST:PORT[,HOST:PORT...]/COLLECTION" +
	"[?replication=N&consistency=ONE|QUORUM|ALL&timeout=15s]"

// openBackend opens the Weaviate collection that rawURL names; with create > 0 a missing
// collection is created for vectors of that dimension.
func openBackend(ctx context.Context, rawURL string, create int) (pinrec.Store, error) {
	var opts []weaviate.Option
	if create > 0 {
		opts = append(opts, weaviate.WithDim(create))
	}
	return weaviate.Open(ctx, rawURL, opts...)
}

// runPush copies a local index into a Weaviate collection.
func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("push", "-index FILE -backend URL", stdout)
	index := fs.String("index", "", "index `file` to copy from (required; any kind pinrec opens)")
	backend := fs.String("backend", "", "Weaviate collection `URL` to copy into (required; created if missing): weaviate://HOST:PORT[,HOST:PORT...]/COLLECTION[?replication=N]")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if *index == "" || *backend == "" {
		return usagef("push needs -index FILE and -backend URL")
	}
	src, err := pinrec.Open(*index)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := weaviate.Open(ctx, *backend, weaviate.WithDim(src.Dim()))
	if err != nil {
		return err
	}
	out := &reporter{w: stderr, tty: isTerminal(stderr)}
	p := newProgress(out, src.Len())
	last := 0
	err = weaviate.Push(ctx, src, dst, func(done, total int) {
		p.add(done - last)
		last = done
	})
	p.done()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %d items from %s to %s\n", last, *index, dst.Target())
	return nil
}

// runPull copies a Weaviate collection into a local flat index file (created, or synced:
// items with the same ID are replaced, others kept).
func runPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pull", "-backend URL -index FILE", stdout)
	index := fs.String("index", "", "flat index `file` to write (required; an existing one is updated)")
	backend := fs.String("backend", "", "Weaviate collection `URL` to copy from (required): weaviate://HOST:PORT[,HOST:PORT...]/COLLECTION")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if *index == "" || *backend == "" {
		return usagef("pull needs -backend URL and -index FILE")
	}
	src, err := weaviate.Open(ctx, *backend)
	if err != nil {
		return err
	}
	defer src.Close()
	var dst *pinrec.Index
	switch _, err := os.Stat(*index); {
	case err == nil:
		if dst, err = pinrec.Load(*index); err != nil {
			return err
		}
	case errors.Is(err, os.ErrNotExist):
		if src.Dim() == 0 {
			return fmt.Errorf("pull %s: the collection is empty", src.Target())
		}
		if dst, err = pinrec.NewIndex(src.Dim()); err != nil {
			return err
		}
	default:
		return err
	}
	out := &reporter{w: stderr, tty: isTerminal(stderr)}
	p := newProgress(out, src.Len())
	last := 0
	err = weaviate.Pull(ctx, src, dst, func(done int) {
		p.add(done - last)
		last = done
	})
	p.done()
	if err != nil {
		return err
	}
	if err := dst.Save(*index); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %d items from %s into %s\n", last, src.Target(), *index)
	return nil
}
