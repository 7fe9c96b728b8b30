package pinrec

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// Metadata keys and values of region items. A region item is an ordinary [Item] in the same
// index as the pins: its ID is [RegionID](parent, i), its vector a [Region]'s, and its
// metadata the parent's plus these keys.
const (
	// MetaKind is "region" for region items (KindRegion); pins do not need it.
	MetaKind = "kind"
	// KindRegion is MetaKind's value on region items.
	KindRegion = "region"
	// MetaParent is the ID of the pin a region item belongs to.
	MetaParent = "parent"
	// MetaBox is the region's box in the parent image's source pixels, "x,y,w,h" ([Rect.String]).
	MetaBox = "box"
)

// regionSep separates a pin's ID from the region number in a region item's ID.
const regionSep = "#r"

// RegionID returns the ID of a pin's i-th region item: "<parent>#r<i>".
func RegionID(parent string, i int) string { return parent + regionSep + strconv.Itoa(i) }

// IsRegion reports whether an item's metadata marks it as a region item, and returns its
// parent's ID.
func IsRegion(meta map[string]string) (parent string, ok bool) {
	if meta[MetaKind] != KindRegion || meta[MetaParent] == "" {
		return "", false
	}
	return meta[MetaParent], true
}

// RegionItems returns the region items of a pin: item i has ID RegionID(pin.ID, i), the vector
// of regions[i], and a copy of pin.Meta plus MetaKind, MetaParent and MetaBox (so filters on
// the pin's metadata select its regions too).
func RegionItems(pin Item, regions []Region) []Item {
	out := make([]Item, len(regions))
	for i, r := range regions {
		meta := maps.Clone(pin.Meta)
		if meta == nil {
			meta = make(map[string]string, 3)
		}
		meta[MetaKind] = KindRegion
		meta[MetaParent] = pin.ID
		meta[MetaBox] = r.Box.String()
		out[i] = Item{ID: RegionID(pin.ID, i), Vector: r.Vector, Meta: meta}
	}
	return out
}

// RegionParent reports whether id has the form of a region item's ID, "<parent>#r<digits>",
// and returns the parent's ID. It reads the ID only: an item is a region item when its metadata
// says so too ([IsRegion]). File names with an extension never have this form.
func RegionParent(id string) (string, bool) { return looksLikeRegion(id) }

// looksLikeRegion reports whether id has the form <parent>#r<digits> and returns parent.
func looksLikeRegion(id string) (string, bool) {
	i := strings.LastIndex(id, regionSep)
	if i <= 0 {
		return "", false
	}
	digits := id[i+len(regionSep):]
	if digits == "" {
		return "", false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return id[:i], true
}

// RegionIDs returns the IDs of the region items in s whose parent is one of parents, parent by
// parent, or of all region items, in s's order, when parents is empty. For given parents it
// looks up RegionID(parent, 0), 1, ... until one is missing (region items are numbered from 0
// without gaps, as [RegionItems] makes them), so its cost does not grow with s; for all, it
// lists s's IDs once. Either way it reads the metadata of the candidates ([IsRegion]).
func RegionIDs(s Store, parents ...string) []string {
	if len(parents) > 0 {
		var out []string
		for _, p := range parents {
			for i := 0; ; i++ {
				id := RegionID(p, i)
				if !s.Has(id) {
					break
				}
				if it, err := s.Get(id); err == nil {
					if parent, ok := IsRegion(it.Meta); ok && parent == p {
						out = append(out, id)
					}
				}
			}
		}
		return out
	}
	want := make(map[string]bool, len(parents))
	for _, p := range parents {
		want[p] = true
	}
	var out []string
	for _, id := range s.IDs() {
		p, ok := looksLikeRegion(id)
		if !ok || (len(parents) > 0 && !want[p]) {
			continue
		}
		it, err := s.Get(id)
		if err != nil {
			continue
		}
		if parent, ok := IsRegion(it.Meta); ok && parent == p {
			out = append(out, id)
		}
	}
	return out
}

// PutPin adds a pin and its region items to s, replacing the pin if its ID is present, and
// removing its earlier region items first (so a pin re-indexed with fewer regions, or none,
// keeps none of its old ones).
func PutPin(s Store, pin Item, regions []Region) error {
	if old := RegionIDs(s, pin.ID); len(old) > 0 {
		if err := s.Remove(old...); err != nil {
			return fmt.Errorf("put pin %q: %w", pin.ID, err)
		}
	}
	items := append([]Item{pin}, RegionItems(pin, regions)...)
	if err := s.Add(items...); err != nil {
		return fmt.Errorf("put pin %q: %w", pin.ID, err)
	}
	return nil
}

// RemovePins removes pins and their region items from s. IDs not in s are passed over.
func RemovePins(s Store, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	var del []string
	for _, id := range ids {
		if s.Has(id) {
			del = append(del, id)
		}
	}
	del = append(del, RegionIDs(s, ids...)...)
	if len(del) == 0 {
		return nil
	}
	if err := s.Remove(del...); err != nil {
		return fmt.Errorf("remove pins: %w", err)
	}
	return nil
}

// CollapseRegions turns raw search results over an index holding pins and region items (in
// order, nearest first) into pins, each at most once, at most k of them (all when k < 1): a
// region item's hit counts as its parent's, at the region's distance, with Region set to the
// region's box and the region keys (MetaKind, MetaParent, MetaBox) left out of Meta; a pin's own
// hit has Region nil (the whole image). Each pin comes at the place of its best hit.
func CollapseRegions(results []Result, k int) []Result {
	out := make([]Result, 0, min(len(results), max(k, 0)))
	seen := make(map[string]bool, len(results))
	for _, r := range results {
		if k > 0 && len(out) == k {
			break
		}
		id, box := r.ID, (*Rect)(nil)
		if parent, ok := IsRegion(r.Meta); ok {
			id = parent
			if b, err := ParseRect(r.Meta[MetaBox]); err == nil {
				box = &b
			}
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		meta := r.Meta
		if box != nil || r.Meta[MetaKind] == KindRegion {
			meta = maps.Clone(r.Meta)
			delete(meta, MetaKind)
			delete(meta, MetaParent)
			delete(meta, MetaBox)
		}
		out = append(out, Result{ID: id, Distance: r.Distance, Meta: meta, Region: box})
	}
	return out
}

// SearchPins returns the k pins nearest to query in s, which holds pins and their region items
// (as `pinrec index -regions N` writes them): a pin's distance is the least over its own vector
// and its regions' ([CollapseRegions] says what each result holds). It fetches more raw
// results than k, and more again while fewer than k distinct pins come back and s holds more.
// An index without region items gives what s.Search gives.
func SearchPins(ctx context.Context, s Searcher, query []float32, k int, opts ...SearchOption) ([]Result, error) {
	return collectPins(k, s.Len(), func(n int) ([]Result, error) { return s.Search(ctx, query, n, opts...) })
}

// SimilarPins is [SearchPins] for the pin with the given ID: the pin, and any hit on its own
// regions, are left out. When s can say (it has a Has method, as every [Store] does) that the
// pin has no region items (no RegionID(id, 0): they are numbered from 0, as [RegionItems]
// makes them), no filter is added for them, so the search runs unfiltered.
func SimilarPins(ctx context.Context, s Searcher, id string, k int, opts ...SearchOption) ([]Result, error) {
	if h, ok := s.(interface{ Has(string) bool }); ok && !h.Has(RegionID(id, 0)) {
		return collectPins(k, s.Len(), func(n int) ([]Result, error) { return s.Similar(ctx, id, n, opts...) })
	}
	notOwn := func(itemID string, meta map[string]string) bool {
		p, ok := IsRegion(meta)
		return !ok || p != id
	}
	opts = append(opts[:len(opts):len(opts)], WithFilter(andFilter(NewSearchParams(opts...).Filter, notOwn)))
	return collectPins(k, s.Len(), func(n int) ([]Result, error) { return s.Similar(ctx, id, n, opts...) })
}

func andFilter(a, b func(string, map[string]string) bool) func(string, map[string]string) bool {
	if a == nil {
		return b
	}
	return func(id string, meta map[string]string) bool { return a(id, meta) && b(id, meta) }
}

// collectPins fetches raw results until k pins are found or the searcher has no more: first
// k+k/4+4 (enough when few hits are region items, and an approximate index searches no wider
// than it must), then 4 times as many each time (the hits of an index with regions are mostly
// region items).
func collectPins(k, total int, fetch func(n int) ([]Result, error)) ([]Result, error) {
	if k < 1 {
		_, err := fetch(k) // the searcher's own error for a bad k
		if err == nil {
			err = fmt.Errorf("search pins: k=%d: %w", k, ErrBadK)
		}
		return nil, err
	}
	n := k + k/4 + 4
	for {
		raw, err := fetch(n)
		if err != nil {
			return nil, err
		}
		pins := CollapseRegions(raw, k)
		if len(pins) >= k || len(raw) < n || n >= total {
			return pins, nil
		}
		n *= 4
	}
}
