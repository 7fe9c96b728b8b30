package main

import (
	"cmp"
	"context"
	"slices"
	"time"

	"pinrec/engage"
)

// history serves the simulated actions before asOf: to package foryou as its Engagement,
// to engage's Ranker as its Signals, and to the popularity baseline. advance moves asOf
// forward (between days; reads happen within a day, from several goroutines).
type history struct {
	w      *world
	ids    []string
	byName map[string]int
	asOf   time.Time

	next      []int // per user: index of the first action not yet applied
	counts    []engage.Counts
	savers    [][]int // item -> users who saved it
	saves     [][]int // user -> items saved
	sum       engage.Summary
	hasSave   []bool
	itemIndex map[string]int
}

func newHistory(w *world, ids []string) *history {
	h := &history{w: w, ids: ids, byName: map[string]int{}, itemIndex: map[string]int{},
		next: make([]int, len(w.users)), counts: make([]engage.Counts, len(ids)),
		savers: make([][]int, len(ids)), saves: make([][]int, len(w.users)), hasSave: make([]bool, len(w.users))}
	for i, u := range w.users {
		h.byName[u.name] = i
	}
	for i, id := range ids {
		h.itemIndex[id] = i
	}
	return h
}

// advance applies every action before t.
func (h *history) advance(t time.Time) {
	h.asOf = t
	for ui, u := range h.w.users {
		for h.next[ui] < len(u.acts) && u.acts[h.next[ui]].t.Before(t) {
			a := u.acts[h.next[ui]]
			h.next[ui]++
			c := &h.counts[a.item]
			c.Users++
			h.sum.Engaged++
			if a.save {
				c.Saves++
				h.sum.Saves++
				h.savers[a.item] = append(h.savers[a.item], ui)
				h.saves[ui] = append(h.saves[ui], a.item)
				if !h.hasSave[ui] {
					h.hasSave[ui] = true
					h.sum.Savers++
				}
			} else {
				c.Likes++
				h.sum.Likes++
			}
		}
	}
}

// before returns the user's actions before asOf.
func (h *history) before(ui int) []act { return h.w.users[ui].acts[:h.next[ui]] }

// UserItems implements foryou.Engagement: each simulated item is acted on once per user.
func (h *history) UserItems(_ context.Context, user string) ([]engage.UserItem, error) {
	ui, ok := h.byName[user]
	if !ok {
		return nil, nil
	}
	acts := h.before(ui)
	out := make([]engage.UserItem, 0, len(acts))
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		it := engage.UserItem{ID: h.ids[a.item]}
		if a.save {
			it.Saved, it.SavedAt = true, a.t
		} else {
			it.Liked, it.LikedAt = true, a.t
		}
		out = append(out, it)
	}
	return out, nil
}

// Popular implements foryou.Engagement.
func (h *history) Popular(_ context.Context, limit int) ([]engage.PopularItem, error) {
	order := h.popularOrder()
	if limit > 0 && len(order) > limit {
		order = order[:limit]
	}
	out := make([]engage.PopularItem, len(order))
	for i, it := range order {
		out[i] = engage.PopularItem{ID: h.ids[it], Counts: h.counts[it]}
	}
	return out, nil
}

// popularOrder returns the engaged items, most saves first, then most users, then index.
func (h *history) popularOrder() []int {
	var order []int
	for i, c := range h.counts {
		if c.Users > 0 {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		ca, cb := h.counts[a], h.counts[b]
		if c := cmp.Compare(cb.Saves, ca.Saves); c != 0 {
			return c
		}
		if c := cmp.Compare(cb.Users, ca.Users); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order
}

// ItemCounts implements engage.Signals.
func (h *history) ItemCounts(_ context.Context, ids ...string) (map[string]engage.Counts, error) {
	out := make(map[string]engage.Counts, len(ids))
	for _, id := range ids {
		if i, ok := h.itemIndex[id]; ok && h.counts[i].Users > 0 {
			out[id] = h.counts[i]
		}
	}
	return out, nil
}

// CoSaved implements engage.Signals.
func (h *history) CoSaved(_ context.Context, id string, limit int) ([]engage.CoItem, error) {
	q, ok := h.itemIndex[id]
	if !ok {
		return nil, nil
	}
	co := map[int]int{}
	for _, u := range h.savers[q] {
		for _, j := range h.saves[u] {
			if j != q {
				co[j]++
			}
		}
	}
	out := make([]engage.CoItem, 0, len(co))
	for j, n := range co {
		out = append(out, engage.CoItem{ID: h.ids[j], Users: n})
	}
	slices.SortFunc(out, func(a, b engage.CoItem) int {
		if c := cmp.Compare(b.Users, a.Users); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Summary implements engage.Signals.
func (h *history) Summary(context.Context) (engage.Summary, error) { return h.sum, nil }
