package main

import (
	"os"
	"path/filepath"

	"pinrec"
)

// defaultModelDir is the -model default of the commands that embed: $PINREC_MODEL when it is
// set; otherwise the first models/resnet50 holding a pinrec.json found in the working folder or
// one of its parents (so the command, run anywhere inside a checkout, finds the model that
// `make setup` exports); otherwise "models/resnet50".
func defaultModelDir() string {
	if dir := os.Getenv("PINREC_MODEL"); dir != "" {
		return dir
	}
	const rel = "models/resnet50"
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; {
			cand := filepath.Join(dir, rel)
			if _, err := os.Stat(filepath.Join(cand, pinrec.ModelInfoFile)); err == nil {
				return cand
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return filepath.FromSlash(rel)
}
