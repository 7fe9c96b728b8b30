package idtable

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestAgainstMap runs random sequences of Add, Delete and Move against a map[string]int.
func TestAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ops      int
		keySpace int
		start    int
	}{
		{"small, many collisions of a few keys", 2000, 20, 0},
		{"grows from zero", 20000, 5000, 0},
		{"presized", 20000, 5000, 4096},
		{"mostly deletes and re-adds", 50000, 300, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.ops)))
			var tab *Table
			if tc.start > 0 {
				tab = New(tc.start)
			} else {
				tab = &Table{}
			}
			oracle := map[string]int{}
			var ids []string // "" marks a free position
			for op := range tc.ops {
				id := fmt.Sprintf("k%d", rng.IntN(tc.keySpace))
				p, in := oracle[id]
				switch r := rng.IntN(10); {
				case r < 5: // add
					ids = append(ids, id)
					added := tab.Add(id, len(ids)-1, ids)
					if added == in {
						t.Fatalf("op %d: Add(%q) = %v, present %v", op, id, added, in)
					}
					if !in {
						oracle[id] = len(ids) - 1
					} else {
						ids[len(ids)-1] = ""
					}
				case r < 8: // delete
					if got := tab.Delete(id, ids); got != in {
						t.Fatalf("op %d: Delete(%q) = %v, present %v", op, id, got, in)
					}
					if in {
						delete(oracle, id)
						ids[p] = ""
					}
				default: // move to the end, overwriting the old position first
					if !in {
						continue // Move requires id at from
					}
					ids = append(ids, id)
					ids[p] = "overwritten"
					if !tab.Move(id, p, len(ids)-1, ids) {
						t.Fatalf("op %d: Move(%q) found nothing", op, id)
					}
					ids[p] = ""
					oracle[id] = len(ids) - 1
				}
				if tab.Len() != len(oracle) {
					t.Fatalf("op %d: Len %d, want %d", op, tab.Len(), len(oracle))
				}
			}
			for k := range tc.keySpace + 10 {
				id := fmt.Sprintf("k%d", k)
				want, in := oracle[id]
				got, ok := tab.Get(id, ids)
				if ok != in || (in && got != want) {
					t.Fatalf("Get(%q) = %d, %v; want %d, %v", id, got, ok, want, in)
				}
			}
			if tab.Bytes() > 4*int64(16*max(8, len(oracle), tc.start)) {
				t.Errorf("%d bytes for %d entries", tab.Bytes(), len(oracle))
			}
		})
	}
}

func TestZeroAndNil(t *testing.T) {
	var nilTab *Table
	if _, ok := nilTab.Get("a", nil); ok || nilTab.Len() != 0 || nilTab.Delete("a", nil) || nilTab.Move("a", 0, 1, nil) {
		t.Fatal("a nil table must be empty")
	}
	var tab Table
	ids := []string{"a", "b"}
	if !tab.Add("a", 0, ids) || !tab.Add("b", 1, ids) || tab.Add("a", 0, ids) {
		t.Fatal("zero table: Add")
	}
	if p, ok := tab.Get("b", ids); !ok || p != 1 {
		t.Fatalf("Get(b) = %d, %v", p, ok)
	}
	tab.Reset(10)
	if tab.Len() != 0 {
		t.Fatal("Reset")
	}
	if _, ok := tab.Get("a", ids); ok {
		t.Fatal("Get after Reset")
	}
}

func BenchmarkGet(b *testing.B) {
	const n = 1 << 20
	ids := make([]string, n)
	tab := New(n)
	m := make(map[string]int, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
		tab.Add(ids[i], i, ids)
		m[ids[i]] = i
	}
	b.Run("table", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			tab.Get(ids[i&(n-1)], ids)
		}
	})
	b.Run("map", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_ = m[ids[i&(n-1)]]
		}
	})
}
