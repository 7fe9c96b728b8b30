package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
)

func runLs(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("ls", "-index FILE", stdout)
	var store storeFlags
	store.register(fs, "(required)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	for _, id := range ix.IDs() {
		fmt.Fprintln(stdout, id)
	}
	return nil
}

// indexStats is what stats prints with -json.
type indexStats struct {
	Index string            `json:"index"`
	Kind  string            `json:"kind"`
	Items int               `json:"items"`
	Dim   int               `json:"dim"`
	Bytes int64             `json:"bytes,omitempty"`
	Info  map[string]string `json:"info"`
	// Store is what the store reports about its kind (see statser), if anything.
	Store map[string]string `json:"store,omitempty"`
	// Engagement counts the likes and saves in INDEX.engage.db (pinrec engage), if any.
	Engagement *engageStats `json:"engagement,omitempty"`
}

func runStats(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("stats", "-index FILE [-json]", stdout)
	var store storeFlags
	store.register(fs, "(required)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	s := indexStats{Index: store.String(), Kind: storeKind(ix), Items: ix.Len(), Dim: ix.Dim(), Info: ix.Info(), Store: storeStats(ix)}
	if _, ok := ix.(fileStore); ok {
		if st, err := os.Stat(store.index); err == nil {
			s.Bytes = st.Size()
		}
	}
	if s.Info == nil {
		s.Info = map[string]string{}
	}
	if s.Engagement, err = engagementStats(ctx, store.index); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(stdout, "%-11s %s\n", k+":", v)
		}
	}
	line("index", s.Index)
	line("kind", s.Kind)
	line("items", fmt.Sprint(s.Items))
	line("dimension", fmt.Sprint(s.Dim))
	if s.Bytes > 0 {
		line("file size", fmt.Sprintf("%.1f MB", float64(s.Bytes)/1e6))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Store)) {
		if k == "kind" && s.Store[k] == s.Kind {
			continue // printed above
		}
		line(k, s.Store[k])
	}
	in := s.Info
	if in[infoEmbedding] == "pixels" {
		line("embedding", fmt.Sprintf("raw pixels (%sx%s RGB, flattened): the baseline", in[infoInputSize], in[infoInputSize]))
	} else {
		line("model", in[infoModel])
		line("weights", in[infoWeights])
		if in[infoInputSize] != "" {
			line("input", fmt.Sprintf("%sx%s, %s preprocessing", in[infoInputSize], in[infoInputSize], in[infoMode]))
		}
		if in[infoTF] != "" {
			line("exported", fmt.Sprintf("TensorFlow %s, Keras %s", in[infoTF], in[infoKeras]))
		}
	}
	line("folder", in[infoRoot])
	printEngagementStats(stdout, s.Engagement)
	known := []string{infoEmbedding, infoModel, infoWeights, infoPretrain, infoDim, infoInputSize, infoMode, infoTF, infoKeras, infoRoot}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if !slices.Contains(known, k) {
			line(k, in[k])
		}
	}
	return nil
}
