package pinrec

import "cmp"

// ranker is an element of a topK heap.
type ranker[T any] interface {
	// after reports whether the receiver ranks after (is worse than) other.
	after(other T) bool
}

// topK keeps the k best elements seen so far in a max-heap: h[0] ranks last. The exact scan
// keeps candidate rows in it, the bounded path of SearchBatch upper bounds of distances.
type topK[T ranker[T]] struct {
	k int
	h []T
}

// full reports whether the heap holds k elements.
func (t *topK[T]) full() bool { return len(t.h) >= t.k }

// admits reports whether c would enter the heap.
func (t *topK[T]) admits(c T) bool {
	return len(t.h) < t.k || t.h[0].after(c)
}

// push adds c, which admits accepted, dropping the last element if the heap is full.
func (t *topK[T]) push(c T) {
	h := t.h
	if len(h) < t.k {
		h = append(h, c)
		for i := len(h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !h[i].after(h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		t.h = h
		return
	}
	h[0] = c
	for i := 0; ; { // sift down
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].after(h[l]) {
			m = r
		}
		if !h[m].after(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// cand is a row and its distance to a query: d is the Euclidean distance, correctly rounded
// from the squared distance sq. Rows rank by d, then by row: the order users see.
type cand struct {
	d, sq float32
	row   int
}

// after reports whether c ranks after o: farther, or as far and inserted later.
func (c cand) after(o cand) bool {
	return c.d > o.d || (c.d == o.d && c.row > o.row)
}

func compareCand(a, b cand) int {
	if c := cmp.Compare(a.d, b.d); c != 0 {
		return c
	}
	return cmp.Compare(a.row, b.row)
}

// rejects reports, without a square root, whether a row with squared distance sq, scanned
// after every row in t, cannot enter it: sqrt is monotonic, and at an equal distance the
// earlier row wins.
func rejects(t *topK[cand], sq float32) bool {
	return t.full() && sq > t.h[0].sq
}

// upperBound is an upper bound of a squared distance on the bounded path; larger ranks after.
type upperBound float64

func (u upperBound) after(o upperBound) bool { return u > o }
