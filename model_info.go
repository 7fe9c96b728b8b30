package pinrec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ModelFormatVersion is the newest version of pinrec.json (ModelInfoFile) that this package
// reads. tools/export_model.py records it as "format": "pinrec-model/1"; a pinrec.json
// without "format" (written before the field existed) is read as version 1. A model folder
// written for a newer version is refused with ErrModelVersion rather than half understood.
const ModelFormatVersion = 1

// modelFormatPrefix is the part of pinrec.json's "format" before the version number.
const modelFormatPrefix = "pinrec-model/"

// ErrModelVersion is returned by ReadModelInfo and NewEmbedder (wrapped together with
// ErrBadModel) for a model folder whose pinrec.json has a format version newer than
// ModelFormatVersion: it was exported by a newer pinrec.
var ErrModelVersion = errors.New("pinrec: unsupported model format version")

// ReadModelInfo reads and checks the pinrec.json of the model folder dir without loading the
// SavedModel (which takes seconds), so that a program can say what a model is, or compare it
// with what an index was built with, before it needs the network. The tensor names, which only
// the SavedModel knows, are left empty. Errors wrap ErrBadModel (and ErrModelVersion for a
// newer format) and name the file. It needs no TensorFlow.
func ReadModelInfo(dir string) (ModelInfo, error) {
	_, info, err := readModelMeta(dir)
	return info, err
}

// checkModelFormat checks pinrec.json's "format" value and returns its version.
func checkModelFormat(format string) (int, error) {
	if format == "" {
		return 1, nil
	}
	rest, ok := strings.CutPrefix(format, modelFormatPrefix)
	v, err := strconv.Atoi(rest)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("%w: format %q, want %s%d", ErrBadModel, format, modelFormatPrefix, ModelFormatVersion)
	}
	if v > ModelFormatVersion {
		return 0, fmt.Errorf("%w: %w: format %q was written by a newer pinrec, this one reads up to version %d (update pinrec, or export the model with this version's tools/export_model.py)",
			ErrBadModel, ErrModelVersion, format, ModelFormatVersion)
	}
	return v, nil
}
