package pinrec

import "fmt"

// FileKind returns the kind of index the file at path holds, as its header names it:
// [KindFlat] for a plain index (and every version 1 file), or the kind a package registered
// ([RegisterKind]), such as "hnsw". It reads only the header, so it is cheap; the rest of the
// file is not checked. Errors name the file and wrap [ErrBadFormat] or the [fs] error.
func FileKind(path string) (string, error) {
	kind, err := fileKind(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	return kind, nil
}
