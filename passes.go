package pinrec

// Passes returns a function that reports whether the item with a given ID is in the index and
// passes the filter options of opts ([WithFilter], [WithMeta]; the others are ignored), as a
// search would judge it, without copying the item. Approximate indexes (package ann) use it
// to apply a filter while they walk their graph. The function is safe for concurrent use; it
// reports false once a memory-mapped index is closed. Passes with no filter option returns a function
// that reports whether the ID is present.
func (ix *Index) Passes(opts ...SearchOption) func(id string) bool {
	keep := NewSearchParams(opts...).keeper()
	return func(id string) bool {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		r, ok := ix.pos.Get(id, ix.ids)
		if !ok || ix.closed {
			return false
		}
		return keep == nil || keep(id, ix.meta[r])
	}
}

// Matching returns the IDs of the items that pass the filter options of opts ([WithFilter],
// [WithMeta]), in insertion order: every ID when opts has none. [WithMeta] options select from
// the inverted lists of metadata values (see [Index.SearchFiltered]); a [WithFilter] function
// is called once per item they select (once per item without WithMeta).
func (ix *Index) Matching(opts ...SearchOption) []string {
	p := NewSearchParams(opts...)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []string
	if p.Match != nil {
		if ix.closed {
			return nil
		}
		for _, r := range ix.matchRows(p.Match) {
			if p.Filter == nil || p.Filter(ix.ids[r], ix.meta[r]) {
				out = append(out, ix.ids[r])
			}
		}
		return out
	}
	for r, id := range ix.ids {
		if p.Filter == nil || p.Filter(id, ix.meta[r]) {
			out = append(out, id)
		}
	}
	return out
}
