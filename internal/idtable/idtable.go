// Package idtable maps string IDs to positions in a slice of IDs that the caller keeps.
//
// A Go map[string]int costs about 45 bytes an entry at a million entries (the key's string
// header, the value, control bytes and free slots). A Table stores only the position: one
// uint32 a slot, kept at most 3/4 full, so 5.3 to 10.7 bytes an entry, and it compares keys
// through the caller's slice (ids[pos] is the ID stored at pos). The indexes use it for their
// ID lookups, which at a million pins saves about 35 bytes an item per table.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), hashed with
// hash/maphash.
//
// Concurrency: any number of Get calls may run together; a call that changes the table (Add,
// Set, Move, Delete, Reset) must not run with any other call. Every method that takes ids
// requires ids[p] to be the ID of each position p in the table, except where a method says
// otherwise.
package idtable

import "hash/maphash"

// maxLen is the number of positions a Table can hold (slot value p+1 must fit a uint32).
const maxLen = 1<<32 - 2

// Table maps IDs to positions. The zero value is an empty table ready to use.
type Table struct {
	slots []uint32 // 0: empty; else position+1
	n     int
	seed  maphash.Seed
	mask  uint64
}

// New returns an empty table with room for n IDs before it grows.
func New(n int) *Table {
	t := &Table{}
	t.init(n)
	return t
}

func (t *Table) init(n int) {
	size := 8
	for size*3/4 < n {
		size *= 2
	}
	t.seed = maphash.MakeSeed()
	t.slots = make([]uint32, size)
	t.mask = uint64(size - 1)
	t.n = 0
}

// Len returns the number of IDs in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Bytes returns the memory the table's slots take.
func (t *Table) Bytes() int64 {
	if t == nil {
		return 0
	}
	return 4 * int64(cap(t.slots))
}

// Reset empties the table, keeping room for n IDs.
func (t *Table) Reset(n int) { t.init(n) }

func (t *Table) home(id string) uint64 { return maphash.String(t.seed, id) & t.mask }

// find returns the slot holding id and true, or the empty slot where the probe for id ends and
// false.
func (t *Table) find(id string, ids []string) (uint64, bool) {
	i := t.home(id)
	for {
		v := t.slots[i]
		if v == 0 {
			return i, false
		}
		if ids[v-1] == id {
			return i, true
		}
		i = (i + 1) & t.mask
	}
}

// Get returns the position of id and true, or 0 and false when id is not in the table.
func (t *Table) Get(id string, ids []string) (int, bool) {
	if t == nil || len(t.slots) == 0 {
		return 0, false
	}
	i, ok := t.find(id, ids)
	if !ok {
		return 0, false
	}
	return int(t.slots[i] - 1), true
}

// Add puts id at position pos and returns true, or returns false and changes nothing when id is
// already in the table. ids[pos] must be id. It panics if pos is negative or beyond the
// table's range (2^32-2), which callers rule out.
func (t *Table) Add(id string, pos int, ids []string) bool {
	if pos < 0 || pos >= maxLen {
		panic("idtable: position out of range")
	}
	if len(t.slots) == 0 {
		t.init(8)
	}
	i, ok := t.find(id, ids)
	if ok {
		return false
	}
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow(ids)
		i, _ = t.find(id, ids)
	}
	t.slots[i] = uint32(pos) + 1
	t.n++
	return true
}

// grow doubles the slots and puts every position back.
func (t *Table) grow(ids []string) {
	old := t.slots
	t.slots = make([]uint32, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := t.home(ids[v-1])
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = v
	}
}

// Move records that id, which the table holds at position from, is now at position to, and
// reports whether it found an entry at from on id's probe run. Only the entry's position is
// compared, so ids[from] may already have been overwritten (as when rows are compacted), but id
// must be in the table at from: for an absent id, Move may change another ID's entry.
func (t *Table) Move(id string, from, to int, ids []string) bool {
	if t == nil || len(t.slots) == 0 || to < 0 || to >= maxLen {
		return false
	}
	want := uint32(from) + 1
	i := t.home(id)
	for {
		v := t.slots[i]
		if v == 0 {
			return false
		}
		if v == want {
			t.slots[i] = uint32(to) + 1
			return true
		}
		i = (i + 1) & t.mask
	}
}

// Delete removes id and reports whether it was in the table. ids must still hold id at its
// position.
func (t *Table) Delete(id string, ids []string) bool {
	if t == nil || len(t.slots) == 0 {
		return false
	}
	i, ok := t.find(id, ids)
	if !ok {
		return false
	}
	// Backward shift: move later entries of the probe run into the hole when their home slot
	// does not lie cyclically in (hole, j].
	j := i
	for {
		j = (j + 1) & t.mask
		v := t.slots[j]
		if v == 0 {
			break
		}
		h := t.home(ids[v-1])
		if (j-h)&t.mask >= (j-i)&t.mask {
			t.slots[i] = v
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
	return true
}
