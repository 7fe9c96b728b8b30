package engage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "x.pinrec.engage.db"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// oracle computes, from events with distinct times, the final state the store must reach:
// each (user, item, kind) follows its latest event.
type oracle struct {
	likes, saves map[string]map[string]bool // user -> item -> on
}

type stateKey struct {
	user, item string
	kind       int
}

func newOracle(events []Event) oracle {
	latest := map[stateKey]Event{}
	for _, e := range events {
		k, _ := e.Action.kind()
		key := stateKey{e.User, e.Item, k}
		if prev, ok := latest[key]; !ok || e.Time.After(prev.Time) {
			latest[key] = e
		}
	}
	o := oracle{likes: map[string]map[string]bool{}, saves: map[string]map[string]bool{}}
	for key, e := range latest {
		_, on := e.Action.kind()
		if !on {
			continue
		}
		m := o.likes
		if key.kind == kindSave {
			m = o.saves
		}
		if m[key.user] == nil {
			m[key.user] = map[string]bool{}
		}
		m[key.user][key.item] = true
	}
	return o
}

func (o oracle) counts() map[string]Counts {
	out := map[string]Counts{}
	engaged := map[[2]string]bool{}
	for u, items := range o.likes {
		for i := range items {
			c := out[i]
			c.Likes++
			out[i] = c
			engaged[[2]string{u, i}] = true
		}
	}
	for u, items := range o.saves {
		for i := range items {
			c := out[i]
			c.Saves++
			out[i] = c
			engaged[[2]string{u, i}] = true
		}
	}
	for k := range engaged {
		c := out[k[1]]
		c.Users++
		out[k[1]] = c
	}
	return out
}

func (o oracle) co() map[[2]string]int {
	out := map[[2]string]int{}
	for _, items := range o.saves {
		for a := range items {
			for b := range items {
				if a != b {
					out[[2]string{a, b}]++
				}
			}
		}
	}
	return out
}

// derivedTables reads the store's counts and co-save table for the given items.
func derivedTables(t *testing.T, s *Store, items []string) (map[string]Counts, map[[2]string]int) {
	t.Helper()
	ctx := context.Background()
	counts, err := s.ItemCounts(ctx, items...)
	require.NoError(t, err)
	co := map[[2]string]int{}
	for _, a := range items {
		list, err := s.CoSaved(ctx, a, 0)
		require.NoError(t, err)
		for _, c := range list {
			co[[2]string{a, c.ID}] = c.Users
		}
	}
	return counts, co
}

// checkDerived compares the store's derived tables with the oracle's, then rebuilds them
// and compares again.
func checkDerived(t *testing.T, s *Store, events []Event) {
	t.Helper()
	items := map[string]bool{}
	for _, e := range events {
		items[e.Item] = true
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range items {
			if !yield(id) {
				return
			}
		}
	})
	o := newOracle(events)
	var want Summary
	for _, items := range o.saves {
		if len(items) > 0 {
			want.Savers++
		}
	}
	for _, c := range o.counts() {
		want.Saves += c.Saves
		want.Likes += c.Likes
		want.Engaged += c.Users
	}
	for _, when := range []string{"", " after rebuild"} {
		if when != "" {
			require.NoError(t, s.Rebuild(context.Background()))
		}
		counts, co := derivedTables(t, s, ids)
		assert.Equal(t, o.counts(), counts, "counts"+when)
		assert.Equal(t, o.co(), co, "co-saves"+when)
		sum, err := s.Summary(context.Background())
		require.NoError(t, err)
		assert.Equal(t, want, sum, "summary"+when)
	}
}

func TestRecordSemantics(t *testing.T) {
	ctx := context.Background()
	known := func(id string) bool { return id != "ghost" }
	type step struct {
		e       Event
		want    Outcome
		wantErr error
	}
	tests := []struct {
		name    string
		steps   []step
		counts  map[string]Counts
		history int
	}{
		{"save then duplicate", []step{
			{Event{User: "ann", Item: "a", Action: Save, Time: at(1)}, Outcome{Applied: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Save, Time: at(1)}, Outcome{Stale: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Save, Time: at(2)}, Outcome{Unchanged: 1}, nil},
		}, map[string]Counts{"a": {Saves: 1, Users: 1}}, 1},
		{"unsave undoes", []step{
			{Event{User: "ann", Item: "a", Action: Save, Time: at(1)}, Outcome{Applied: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Unsave, Time: at(2)}, Outcome{Applied: 1}, nil},
		}, map[string]Counts{}, 2},
		{"older event is stale", []step{
			{Event{User: "ann", Item: "a", Action: Save, Time: at(5)}, Outcome{Applied: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Unsave, Time: at(3)}, Outcome{Stale: 1}, nil},
		}, map[string]Counts{"a": {Saves: 1, Users: 1}}, 1},
		{"unlike of a pin never liked", []step{
			{Event{User: "ann", Item: "a", Action: Unlike, Time: at(5)}, Outcome{Unchanged: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Like, Time: at(4)}, Outcome{Stale: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Like, Time: at(6)}, Outcome{Applied: 1}, nil},
		}, map[string]Counts{"a": {Likes: 1, Users: 1}}, 1},
		{"like and save are separate, one user", []step{
			{Event{User: "ann", Item: "a", Action: Like, Time: at(1)}, Outcome{Applied: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Save, Time: at(1)}, Outcome{Applied: 1}, nil},
			{Event{User: "bob", Item: "a", Action: Save, Time: at(1)}, Outcome{Applied: 1}, nil},
			{Event{User: "ann", Item: "a", Action: Unlike, Time: at(2)}, Outcome{Applied: 1}, nil},
		}, map[string]Counts{"a": {Likes: 0, Saves: 2, Users: 2}}, 4},
		{"refusals write nothing", []step{
			{Event{User: "ann", Item: "ghost", Action: Save}, Outcome{}, ErrUnknownItem},
			{Event{User: "", Item: "a", Action: Save}, Outcome{}, ErrBadEvent},
			{Event{User: "ann", Item: "", Action: Save}, Outcome{}, ErrBadEvent},
			{Event{User: "ann", Item: "a", Action: "pin"}, Outcome{}, ErrBadEvent},
		}, map[string]Counts{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, WithKnownItems(known))
			for i, st := range tc.steps {
				got, err := s.Record(ctx, st.e)
				if st.wantErr != nil {
					assert.ErrorIs(t, err, st.wantErr, "step %d", i)
					continue
				}
				require.NoError(t, err, "step %d", i)
				assert.Equal(t, st.want, got, "step %d", i)
			}
			counts, err := s.ItemCounts(ctx, "a", "ghost")
			require.NoError(t, err)
			assert.Equal(t, tc.counts, counts)
			h, err := s.History(ctx, 0, 0)
			require.NoError(t, err)
			assert.Len(t, h, tc.history)
		})
	}
}

func TestRecordBatchIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, WithKnownItems(func(id string) bool { return id != "ghost" }))
	_, err := s.Record(ctx,
		Event{User: "ann", Item: "a", Action: Save},
		Event{User: "ann", Item: "ghost", Action: Save})
	require.ErrorIs(t, err, ErrUnknownItem)
	assert.Contains(t, err.Error(), "event 2")
	tot, err := s.Totals(ctx)
	require.NoError(t, err)
	assert.Equal(t, Totals{}, tot)
}

func TestRecordWithoutTimesKeepsOrder(t *testing.T) {
	ctx := context.Background()
	fixed := t0
	s := openTemp(t, withClock(func() time.Time { return fixed })) // a clock that stands still
	out, err := s.Record(ctx,
		Event{User: "ann", Item: "a", Action: Save},
		Event{User: "ann", Item: "a", Action: Unsave},
		Event{User: "ann", Item: "a", Action: Save})
	require.NoError(t, err)
	assert.Equal(t, Outcome{Applied: 3}, out)
	_, saved, err := s.UserState(ctx, "ann", "a")
	require.NoError(t, err)
	assert.True(t, saved)
	h, err := s.History(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, h, 3)
	assert.True(t, h[0].Time.Before(h[1].Time) && h[1].Time.Before(h[2].Time))
}

func TestReplayIsNoOp(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	events := randomEvents(rand.New(rand.NewPCG(1, 2)), 400, 12, 30)
	first, err := s.Record(ctx, events...)
	require.NoError(t, err)
	second, err := s.Record(ctx, events...)
	require.NoError(t, err)
	assert.Equal(t, Outcome{Stale: len(events)}, second)
	assert.Equal(t, len(events), first.Applied+first.Unchanged+first.Stale)
	checkDerived(t, s, events)
}

// randomEvents returns n events with distinct times over users and items, likes and saves
// toggled at random.
func randomEvents(r *rand.Rand, n, users, items int) []Event {
	actions := []Action{Like, Unlike, Save, Save, Save, Unsave}
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{
			User:   fmt.Sprintf("u%d", r.IntN(users)),
			Item:   fmt.Sprintf("i%d", r.IntN(items)),
			Action: actions[r.IntN(len(actions))],
			Time:   t0.Add(time.Duration(i+1) * time.Millisecond),
		}
	}
	return out
}

func TestDerivedMatchesOracleInAnyOrder(t *testing.T) {
	for _, mode := range []struct {
		name string
		d    Derived
	}{{"incremental", Incremental}, {"deferred", Deferred}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(3, 4))
			events := randomEvents(r, 600, 15, 25)
			shuffled := slices.Clone(events)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			s := openTemp(t, WithDerived(mode.d))
			for lo := 0; lo < len(shuffled); lo += 37 {
				_, err := s.Record(ctx, shuffled[lo:min(lo+37, len(shuffled))]...)
				require.NoError(t, err)
			}
			checkDerived(t, s, events)
		})
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	events := randomEvents(r, 1200, 20, 30)
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	s := openTemp(t)
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := events[w*len(events)/writers : (w+1)*len(events)/writers]
			for lo := 0; lo < len(mine); {
				n := 1 + (lo*7+w)%25
				if _, err := s.Record(ctx, mine[lo:min(lo+n, len(mine))]...); err != nil {
					errs <- err
					return
				}
				lo += n
			}
		}()
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tot, err := s.Totals(ctx)
				if err == nil && tot.Saves < 0 {
					err = errors.New("negative saves")
				}
				if err == nil {
					_, err = s.CoSaved(ctx, "i3", 5)
				}
				if err == nil {
					_, err = s.ItemCounts(ctx, "i1", "i2", "i3")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	checkDerived(t, s, events)
}

func TestOpenRefusesOtherDatabases(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.db.ExecContext(ctx, "PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(path)
	assert.ErrorIs(t, err, ErrSchema)

	_, err = Open(filepath.Join(t.TempDir(), "no", "such", "x.db"))
	assert.Error(t, err)

	s = openTemp(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Record(ctx, Event{User: "a", Item: "b", Action: Save})
	assert.ErrorIs(t, err, ErrClosed)
}
