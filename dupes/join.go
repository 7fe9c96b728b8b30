package dupes

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"pinrec"
)

// Source is what [Find], [Check] and [Calibrate] read: a Searcher whose items can be listed
// and read (with their vectors). Every [pinrec.Store] is one.
type Source interface {
	pinrec.Searcher
	Get(id string) (pinrec.Item, error)
	IDs() []string
}

// exactBatch is how many queries one SearchBatch pass over an exact index answers.
const exactBatch = 256

// join runs the self-join's searches: each item's nearest other items.
type join struct {
	s     Source
	cfg   config
	opts  []pinrec.SearchOption
	exact *pinrec.Index // non-nil: batch the searches
}

func newJoin(s Source, cfg config, filter pinrec.SearchOption) *join {
	j := &join{s: s, cfg: cfg}
	if filter != nil {
		j.opts = append(j.opts, filter)
	}
	if cfg.effort > 0 {
		j.opts = append(j.opts, pinrec.WithEffort(cfg.effort))
	}
	j.exact, _ = s.(*pinrec.Index)
	return j
}

// pins lists the IDs to group and the filter that keeps region items out of the searches
// (nil when there are none or they are wanted).
func pins(s Source, cfg config) ([]string, pinrec.SearchOption) {
	ids := s.IDs()
	if cfg.regions {
		return ids, nil
	}
	out := ids[:0]
	regions := false
	for _, id := range ids {
		if _, ok := pinrec.RegionParent(id); ok {
			if it, err := s.Get(id); err == nil {
				if _, ok := pinrec.IsRegion(it.Meta); ok {
					regions = true
					continue
				}
			}
		}
		out = append(out, id)
	}
	if !regions {
		return out, nil
	}
	return out, pinrec.WithFilter(notRegion)
}

// nearestDistinct is the distance to the nearest neighbour that is not an identical copy
// (distance 0).
func nearestDistinct(list []pinrec.Result) (float32, bool) {
	for _, r := range list {
		if r.Distance > 0 {
			return r.Distance, true
		}
	}
	return 0, false
}

// neighbours returns, for each of ids, its k nearest other items (fewer when the store holds
// fewer), nearest first. tick, if not nil, is called with the number of items done.
func (j *join) neighbours(ctx context.Context, ids []string, k int, tick func(n int)) ([][]pinrec.Result, error) {
	out := make([][]pinrec.Result, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if j.exact != nil {
		return out, j.exactNeighbours(ctx, ids, k, out, tick)
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(j.cfg.workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				res, err := j.s.Similar(ctx, ids[i], k, j.opts...)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("dupes: neighbours of %q: %w", ids[i], err)
					}
					mu.Unlock()
					cancel()
					return
				}
				out[i] = lean(res)
				if tick != nil {
					tick(1)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// exactNeighbours answers batches of queries with one SearchBatch pass each (which runs its
// own workers), asking k+1 and leaving each query's own item out.
func (j *join) exactNeighbours(ctx context.Context, ids []string, k int, out [][]pinrec.Result, tick func(n int)) error {
	ask := min(k+1, max(j.exact.Len(), 1))
	vecs := make([][]float32, 0, exactBatch)
	for lo := 0; lo < len(ids); lo += exactBatch {
		hi := min(lo+exactBatch, len(ids))
		vecs = vecs[:0]
		for _, id := range ids[lo:hi] {
			it, err := j.exact.Get(id)
			if err != nil {
				return fmt.Errorf("dupes: neighbours of %q: %w", id, err)
			}
			vecs = append(vecs, it.Vector)
		}
		res, err := j.exact.SearchBatch(ctx, vecs, ask, append(j.opts[:len(j.opts):len(j.opts)], pinrec.WithWorkers(j.cfg.workers))...)
		if err != nil {
			return fmt.Errorf("dupes: neighbours: %w", err)
		}
		for i, list := range res {
			out[lo+i] = lean(dropSelf(list, ids[lo+i], k))
		}
		if tick != nil {
			tick(hi - lo)
		}
	}
	return nil
}

// dropSelf removes id from list and keeps at most k results.
func dropSelf(list []pinrec.Result, id string, k int) []pinrec.Result {
	for i, r := range list {
		if r.ID == id {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	return list[:min(k, len(list))]
}

// lean drops the results' metadata copies, which the join does not read: n*k of them would
// dominate its memory.
func lean(list []pinrec.Result) []pinrec.Result {
	for i := range list {
		list[i].Meta = nil
	}
	return list
}

// notRegion keeps pins: it leaves out region items.
func notRegion(_ string, meta map[string]string) bool {
	_, ok := pinrec.IsRegion(meta)
	return !ok
}
