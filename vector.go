package pinrec

import "fmt"

// AppendVector appends the vector of the item with the given ID to dst and returns the
// extended slice, or an error wrapping [ErrNotFound]: [Index.Get] without the copies of the
// metadata and, when dst has room, without allocating. A caller that compares many items'
// vectors (near-duplicate collapsing, say) reuses one buffer for all of them. Safe for
// concurrent use, as Get is.
func (ix *Index) AppendVector(dst []float32, id string) (_ []float32, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if err := ix.usable("get"); err != nil {
		return dst, err
	}
	r, ok := ix.pos.Get(id, ix.ids)
	if !ok {
		return dst, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return append(dst, ix.vectors[r*ix.dim:(r+1)*ix.dim]...), nil
}
