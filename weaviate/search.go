package weaviate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"

	"pinrec"
)

// maxLimit is Weaviate's default QUERY_MAXIMUM_RESULTS: no search asks for more.
const maxLimit = 10000

// Search returns the k items nearest to query by Euclidean distance, nearest first, from the
// collection's HNSW index (approximate), read at the read consistency level. It returns fewer
// than k results when fewer items (pass the filters); an empty collection gives none.
// pinrec.WithMeta is evaluated by Weaviate; pinrec.WithFilter here, on [WithOverFetch] times k
// candidates, asking for more until k pass or the collection has no more (at most 10,000,
// Weaviate's result limit). pinrec.WithEffort is ignored: Weaviate sets ef per collection
// ([Store.SetEf]).
//
// The error wraps pinrec.ErrBadK, pinrec.ErrDimMismatch or pinrec.ErrNonFinite for bad
// arguments, [ErrUnreachable], or the context's error.
func (s *Store) Search(ctx context.Context, query []float32, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("search: k=%d: %w", k, pinrec.ErrBadK)
	}
	if err := s.checkQuery(query); err != nil {
		return nil, fmt.Errorf("search: query: %w", err)
	}
	res, err := s.search(ctx, query, k, "", pinrec.NewSearchParams(opts...))
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

// SearchBatch runs Search for each query, several at a time (pinrec.WithWorkers, default 4);
// result i answers queries[i].
func (s *Store) SearchBatch(ctx context.Context, queries [][]float32, k int, opts ...pinrec.SearchOption) ([][]pinrec.Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("search batch: k=%d: %w", k, pinrec.ErrBadK)
	}
	for i, q := range queries {
		if err := s.checkQuery(q); err != nil {
			return nil, fmt.Errorf("search batch: query %d: %w", i, err)
		}
	}
	p := pinrec.NewSearchParams(opts...)
	workers := p.Workers
	if workers < 1 {
		workers = 4
	}
	out := make([][]pinrec.Result, len(queries))
	errs := make([]error, len(queries))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(queries)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = s.search(ctx, queries[i], k, "", p)
				if errs[i] != nil {
					cancel()
				}
			}
		})
	}
	for i := range queries {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("search batch: query %d: %w", i, err)
		}
	}
	return out, nil
}

// Similar returns the k items nearest to the item with the given ID, leaving that item out.
// The error wraps pinrec.ErrNotFound for an unknown ID.
func (s *Store) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("similar %q: k=%d: %w", id, k, pinrec.ErrBadK)
	}
	it, err := s.GetContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("similar: %w", err)
	}
	res, err := s.search(ctx, it.Vector, k, id, pinrec.NewSearchParams(opts...))
	if err != nil {
		return nil, fmt.Errorf("similar %q: %w", id, err)
	}
	return res, nil
}

func (s *Store) checkQuery(q []float32) error {
	dim := s.Dim()
	if dim == 0 {
		dim = len(q) // nothing stored yet: any length is as good
	}
	return checkVector(q, dim)
}

// hit is one object of a nearVector answer.
type hit struct {
	ID         string   `json:"pinrecId"`
	Meta       []string `json:"meta"`
	Additional struct {
		Distance float64 `json:"distance"`
	} `json:"_additional"`
}

// search asks for the nearest objects, leaving out the item skip, keeping those that pass p.
func (s *Store) search(ctx context.Context, q []float32, k int, skip string, p pinrec.SearchParams) ([]pinrec.Result, error) {
	if err := s.usable("search"); err != nil {
		return nil, err
	}
	for _, values := range p.Match {
		if len(values) == 0 {
			return []pinrec.Result{}, nil // WithMeta(key) with no values keeps nothing
		}
	}
	want := k
	if skip != "" {
		want++
	}
	limit := want
	if p.Filter != nil {
		limit = want * s.cfg.overFetch
	}
	limit = min(limit, maxLimit)
	vec := formatVector(q)
	where := whereClause(p.Match)
	for {
		hits, err := s.nearVector(ctx, vec, where, limit)
		if err != nil {
			return nil, err
		}
		res := make([]pinrec.Result, 0, k)
		for _, h := range hits {
			if h.ID == skip && skip != "" {
				continue
			}
			meta, err := decodeMeta(h.Meta)
			if err != nil {
				return nil, err
			}
			if !p.Keep(h.ID, meta) {
				continue
			}
			res = append(res, pinrec.Result{ID: h.ID, Distance: float32(math.Sqrt(max(h.Additional.Distance, 0))), Meta: meta})
			if len(res) == k {
				break
			}
		}
		if len(res) == k || len(hits) < limit || limit >= maxLimit {
			return res, nil
		}
		limit = min(limit*4, maxLimit)
	}
}

func (s *Store) nearVector(ctx context.Context, vec, where string, limit int) ([]hit, error) {
	// GraphQL knows consistencyLevel only for replicated collections.
	consistency := ""
	if s.rf > 1 {
		consistency = "consistencyLevel:" + string(s.cfg.read)
	}
	q := fmt.Sprintf("{Get{%s(limit:%d nearVector:{vector:%s} %s %s){%s %s _additional{distance}}}}",
		s.t.Collection, limit, vec, where, consistency, propID, propMeta)
	var out struct {
		Get map[string][]hit `json:"Get"`
	}
	err := s.do(ctx, "near vector", func(ctx context.Context, n *node) error { return graphQL(ctx, n, q, &out) })
	if err != nil {
		return nil, err
	}
	hits := out.Get[s.t.Collection]
	// Weaviate returns them nearest first; keep that order stable for equal distances.
	slices.SortStableFunc(hits, func(a, b hit) int {
		switch {
		case a.Additional.Distance < b.Additional.Distance:
			return -1
		case a.Additional.Distance > b.Additional.Distance:
			return 1
		}
		return 0
	})
	return hits, nil
}

// formatVector writes v as a GraphQL list, each value in the fewest digits that read back
// exactly as float32.
func formatVector(v []float32) string {
	b := make([]byte, 0, len(v)*10+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

// whereClause turns a metadata match into a GraphQL where argument: for each key, the meta
// array contains one of the "key=value" entries; all keys must hold. Empty for no match.
func whereClause(match map[string][]string) string {
	if len(match) == 0 {
		return ""
	}
	keys := make([]string, 0, len(match))
	for k := range match {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var ops []*filters.WhereBuilder
	for _, k := range keys {
		entries := make([]string, len(match[k]))
		for i, v := range match[k] {
			entries[i] = metaEntry(k, v)
		}
		ops = append(ops, filters.Where().WithPath([]string{propMeta}).WithOperator(filters.ContainsAny).WithValueText(entries...))
	}
	if len(ops) == 1 {
		return ops[0].String()
	}
	return filters.Where().WithOperator(filters.And).WithOperands(ops).String()
}
