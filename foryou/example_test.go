package foryou_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"pinrec"
	"pinrec/engage"
	"pinrec/foryou"
)

// A user who saved shoes and bags gets a feed drawn from both interests, each result named
// with the interest it came from.
func ExampleModel_ForYou() {
	ctx := context.Background()
	ix, _ := pinrec.NewIndex(2)
	for id, v := range map[string][]float32{
		"shoe1": {0, 0}, "shoe2": {1, 0}, "shoe3": {0, 1}, "bag1": {100, 0}, "bag2": {101, 0},
		"shoe4": {2, 2}, "shoe5": {3, 0}, "bag3": {103, 0}, "bag4": {100, 3}, "hat1": {50, 50},
	} {
		ix.Add(pinrec.Item{ID: id, Vector: v})
	}
	dir, _ := os.MkdirTemp("", "foryou")
	defer os.RemoveAll(dir)
	st, _ := engage.Open(filepath.Join(dir, "e.db"), engage.WithKnownItems(ix.Has))
	defer st.Close()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"shoe1", "shoe2", "shoe3", "bag1", "bag2"} {
		st.Record(ctx, engage.Event{User: "ann", Item: id, Action: engage.Save, Time: now.Add(time.Duration(i-10) * time.Hour)})
	}
	m, _ := foryou.New(ix, st, foryou.WithCut(10), foryou.WithClock(func() time.Time { return now }))
	feed, _ := m.ForYou(ctx, "ann", 4, foryou.WithSeed(1), foryou.WithDuplicateDistance(-1))
	for _, in := range feed.Interests {
		fmt.Printf("interest %s: %d items\n", in.Medoid, in.Size)
	}
	for _, r := range feed.Results {
		fmt.Printf("%s from %s\n", r.ID, r.Interest.Medoid)
	}
	// Output:
	// interest shoe1: 3 items
	// interest bag2: 2 items
	// shoe4 from shoe1
	// bag3 from bag2
	// shoe5 from shoe1
	// bag4 from bag2
}
