// Package chaos kills a node of a replicated Weaviate cluster in the middle of a stream of
// searches and writes through pinrec's backend, restarts it, and counts what was lost. The
// backend's tests and `make bench-cluster` both run it.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"pinrec"
	"pinrec/weaviate"
)

// Config describes one run.
type Config struct {
	Reader *weaviate.Store // searches go through it (consistency ONE in the scenario)
	Writer *weaviate.Store // writes go through it (consistency QUORUM)
	Verify *weaviate.Store // reads at ALL after the restart: every acknowledged write must be there

	Queries      [][]float32 // searched in turn
	Searches     int         // how many searches in all (bounded traffic)
	K            int
	WriteBatch   int // items per write
	MaxWrites    int // writes stop after this many batches, or when the searches are done and a few batches ran while the node was down
	Dim          int
	KillAfter    int    // the node is killed once this many searches are done
	KilledNode   string // its node name (/v1/nodes), for the direct reads after the restart
	Kill         func() error
	Restart      func() error // returns once the node is ready and the cluster healthy again
	Logf         func(format string, args ...any)
	SearchBudget time.Duration // a search that takes longer counts as failed (default 60 s)
}

// Report is what a run counted.
type Report struct {
	Searches, FailedSearches int
	SearchesWhileDown        int
	WriteBatches             int
	AckedItems               int // items whose write was acknowledged
	FailedItems              int // items whose write failed after every retry (not acknowledged)
	WritesWhileDown          int
	LostItems                int // acknowledged items missing (or wrong) at consistency ALL after the restart
	MissingOnNodeBefore      int // acknowledged items the restarted node lacked before any read repair
	MissingOnNodeAfter       int // ... and after the ALL reads repaired it
	MaxSearch                time.Duration
	FirstErrors              []string
}

// minWritesWhileDown is how many write batches must start and end while the node is down
// before the writes stop with the searches (MaxWrites still bounds them).
const minWritesWhileDown = 3

// Run runs the scenario.
func Run(ctx context.Context, c Config) (Report, error) {
	if c.SearchBudget == 0 {
		c.SearchBudget = time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	var (
		r        Report
		mu       sync.Mutex
		acked    []pinrec.Item
		down     atomic.Bool
		searched atomic.Int64
		killed   = make(chan struct{})
		done     = make(chan struct{})
	)
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(r.FirstErrors) < 5 {
			r.FirstErrors = append(r.FirstErrors, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { // searches
		defer close(done)
		for i := range c.Searches {
			if i == c.KillAfter {
				select {
				case <-killed:
				case <-ctx.Done():
					return
				}
			}
			sctx, cancel := context.WithTimeout(ctx, c.SearchBudget)
			t0 := time.Now()
			res, err := c.Reader.Search(sctx, c.Queries[i%len(c.Queries)], c.K)
			took := time.Since(t0)
			cancel()
			mu.Lock()
			r.Searches++
			r.MaxSearch = max(r.MaxSearch, took)
			if down.Load() {
				r.SearchesWhileDown++
			}
			mu.Unlock()
			if err == nil && len(res) != c.K {
				err = fmt.Errorf("%d results, want %d", len(res), c.K)
			}
			if err != nil {
				mu.Lock()
				r.FailedSearches++
				mu.Unlock()
				note("search %d: %v", i, err)
			}
			searched.Store(int64(i + 1))
		}
	})
	wg.Go(func() { // writes
		rng := rand.New(rand.NewPCG(7, 7))
		for b := 0; b < c.MaxWrites; b++ {
			select {
			case <-done:
				// The searches are over. Go on (still within MaxWrites) until a few batches
				// have run while the node was down: on a quiet machine the searches can end
				// while the one write caught by the kill is still waiting for the failure
				// detector, and the scenario would then test no write against a lost node.
				mu.Lock()
				enough := r.WritesWhileDown >= minWritesWhileDown
				mu.Unlock()
				if enough {
					return
				}
			default:
			}
			items := make([]pinrec.Item, c.WriteBatch)
			for j := range items {
				v := make([]float32, c.Dim)
				for d := range v {
					v[d] = float32(rng.NormFloat64())
				}
				items[j] = pinrec.Item{ID: fmt.Sprintf("chaos/%05d/%02d", b, j), Vector: v,
					Meta: map[string]string{"batch": fmt.Sprint(b)}}
			}
			wasDown := down.Load()
			err := c.Writer.AddContext(ctx, items...)
			failed := map[string]bool{}
			var be *weaviate.BatchError
			switch {
			case err == nil:
			case errors.As(err, &be):
				for _, id := range be.IDs() {
					failed[id] = true
				}
			default:
				for _, it := range items {
					failed[it.ID] = true
				}
			}
			if err != nil {
				note("write batch %d: %v", b, err)
			}
			mu.Lock()
			r.WriteBatches++
			if wasDown && down.Load() {
				r.WritesWhileDown++
			}
			for _, it := range items {
				if failed[it.ID] {
					r.FailedItems++
				} else {
					acked = append(acked, it)
				}
			}
			mu.Unlock()
		}
	})
	// Kill once KillAfter searches are done.
wait:
	for searched.Load() < int64(c.KillAfter) {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			break wait
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.Logf("kill -9 %s after %d searches", c.KilledNode, searched.Load())
	killErr := c.Kill()
	down.Store(true)
	close(killed)
	wg.Wait()
	if killErr != nil {
		return r, fmt.Errorf("kill: %w", killErr)
	}
	c.Logf("streams done: %d searches (%d failed, %d while down), %d write batches (%d while down); restarting %s",
		r.Searches, r.FailedSearches, r.SearchesWhileDown, r.WriteBatches, r.WritesWhileDown, c.KilledNode)
	t0 := time.Now()
	if err := c.Restart(); err != nil {
		return r, fmt.Errorf("restart: %w", err)
	}
	down.Store(false)
	c.Logf("%s back in %.1fs", c.KilledNode, time.Since(t0).Seconds())
	r.AckedItems = len(acked)

	var err error
	if r.MissingOnNodeBefore, err = missingOnNode(ctx, c.Verify, acked, c.KilledNode); err != nil {
		return r, err
	}
	for _, it := range acked {
		got, err := c.Verify.GetContext(ctx, it.ID)
		if err != nil || !slices.Equal(got.Vector, it.Vector) {
			r.LostItems++
			note("acknowledged %s lost: %v", it.ID, err)
		}
	}
	if r.MissingOnNodeAfter, err = missingOnNode(ctx, c.Verify, acked, c.KilledNode); err != nil {
		return r, err
	}
	return r, nil
}

// missingOnNode counts the items that the named node's replica lacks or holds differently.
func missingOnNode(ctx context.Context, s *weaviate.Store, items []pinrec.Item, node string) (int, error) {
	missing := 0
	for _, it := range items {
		got, err := s.GetFromNode(ctx, it.ID, node)
		switch {
		case errors.Is(err, pinrec.ErrNotFound):
			missing++
		case err != nil:
			return 0, fmt.Errorf("read %s from %s: %w", it.ID, node, err)
		case !slices.Equal(got.Vector, it.Vector):
			missing++
		}
	}
	return missing, nil
}
