package engage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRecordBatch records user-by-user batches of 1000 events (each user 10 to 40
// likes and saves over 10,000 items), synchronous=FULL, in both derived modes.
func BenchmarkRecordBatch(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	var events []Event
	for u := 0; len(events) < 20000; u++ {
		n := 10 + r.IntN(31)
		for range n {
			a := Save
			if r.IntN(2) == 0 {
				a = Like
			}
			events = append(events, Event{User: fmt.Sprintf("u%d", u), Item: fmt.Sprintf("i%d", r.IntN(10000)), Action: a,
				Time: t0.Add(time.Duration(len(events)+1) * time.Millisecond)})
		}
	}
	for _, mode := range []struct {
		name string
		d    Derived
	}{{"incremental", Incremental}, {"deferred", Deferred}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				s, err := Open(filepath.Join(b.TempDir(), "b.db"), WithDerived(mode.d))
				if err != nil {
					b.Fatal(err)
				}
				for lo := 0; lo < len(events); lo += 1000 {
					if _, err := s.Record(ctx, events[lo:min(lo+1000, len(events))]...); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := s.Summary(ctx); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			b.ReportMetric(float64(len(events)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
