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

func runLs(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("ls", "-index FILE", stdout)
	indexPath := fs.String("index", "", "index `file` (required)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := requireIndexFlag(*indexPath); err != nil {
		return err
	}
	ix, err := loadIndex(*indexPath)
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
	Items int               `json:"items"`
	Dim   int               `json:"dim"`
	Bytes int64             `json:"bytes"`
	Info  map[string]string `json:"info"`
}

func runStats(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("stats", "-index FILE [-json]", stdout)
	indexPath := fs.String("index", "", "index `file` (required)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := requireIndexFlag(*indexPath); err != nil {
		return err
	}
	ix, err := loadIndex(*indexPath)
	if err != nil {
		return err
	}
	defer ix.Close()
	s := indexStats{Index: *indexPath, Items: ix.Len(), Dim: ix.Dim(), Info: ix.Info()}
	if st, err := os.Stat(*indexPath); err == nil {
		s.Bytes = st.Size()
	}
	if s.Info == nil {
		s.Info = map[string]string{}
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
	line("items", fmt.Sprint(s.Items))
	line("dimension", fmt.Sprint(s.Dim))
	line("file size", fmt.Sprintf("%.1f MB", float64(s.Bytes)/1e6))
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
	known := []string{infoEmbedding, infoModel, infoWeights, infoPretrain, infoDim, infoInputSize, infoMode, infoTF, infoKeras, infoRoot}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if !slices.Contains(known, k) {
			line(k, in[k])
		}
	}
	return nil
}
