package foryou

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"pinrec"
)

// Interest is one of a user's interests: a cluster of the items they liked or saved.
type Interest struct {
	// Medoid is the ID of the cluster's medoid: the member with the least sum of squared
	// distances to the other members (equivalently, the one nearest the cluster's mean).
	Medoid string `json:"medoid"`
	// Size is the number of items in the cluster.
	Size int `json:"size"`
	// Importance is Σ over the cluster's actions of weight·exp(-λ·age in days).
	Importance float64 `json:"importance"`
	// Items are the cluster's item IDs, most recently engaged first.
	Items []string `json:"items"`
}

// Source names the interest a feed result came from.
type Source struct {
	Medoid     string  `json:"medoid"`
	Size       int     `json:"size"`
	Importance float64 `json:"importance"`
}

// Profile is a user's interests at a time.
type Profile struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
	// Items is the number of items the interests were built from: the user's liked and
	// saved items with an action in the window, the most recent up to the cap, that the
	// Store holds.
	Items int `json:"items"`
	// Cut is the Ward merge height the dendrogram was cut at.
	Cut float64 `json:"cut"`
	// Interests, most important first (then larger, then by medoid ID).
	Interests []Interest `json:"interests"`
}

// action is one like or save with its weight.
type action struct {
	w float64
	t time.Time
}

// userItem is an item of the user's, within the window.
type userItem struct {
	id     string
	acts   []action
	latest time.Time
}

// profile is the time-independent part of a user's interests, which the Model caches.
type profile struct {
	items    []userItem
	clusters []cluster
	cut      float64
	dim      int
}

// cluster is one interest: its members (indices into profile.items, most recent first), the
// medoid, the mean, and each member's distance to the mean sorted ascending (for the
// near-duplicate filter's triangle-inequality bound).
type cluster struct {
	members   []int
	medoid    int
	medoidVec []float32
	centroid  []float32
	byMean    []int     // members ordered by distance to the mean
	meanDist  []float64 // their distances
}

// state is what one call knows about a user.
type state struct {
	now     time.Time
	p       *profile
	engaged map[string]bool // every item the user currently likes or has saved
}

// Interests returns the user's interests now (see the package documentation for how they
// are built). A user without events, or without items in the window that the Store holds,
// has none.
func (m *Model) Interests(ctx context.Context, user string, opts ...Option) (*Profile, error) {
	cfg := m.callConfig(opts)
	st, err := m.state(ctx, user, cfg)
	if err != nil {
		return nil, err
	}
	return &Profile{User: user, At: st.now, Items: len(st.p.items), Cut: st.p.cut, Interests: st.interests(cfg)}, nil
}

// interests returns the interests with their importance at st.now, most important first.
func (st *state) interests(cfg config) []Interest {
	out := make([]Interest, len(st.p.clusters))
	for i, c := range st.p.clusters {
		in := Interest{Medoid: st.p.items[c.medoid].id, Size: len(c.members), Items: make([]string, len(c.members))}
		for j, mi := range c.members {
			it := st.p.items[mi]
			in.Items[j] = it.id
			for _, a := range it.acts {
				in.Importance += a.w * decay(cfg.decay, st.now.Sub(a.t))
			}
		}
		out[i] = in
	}
	sortInterests(out)
	return out
}

// clusterOf returns the cluster whose medoid is id.
func (st *state) clusterOf(medoid string) *cluster {
	for i := range st.p.clusters {
		if st.p.items[st.p.clusters[i].medoid].id == medoid {
			return &st.p.clusters[i]
		}
	}
	return nil
}

// decay is exp(-λ·age in days), age clamped at 0.
func decay(lambda float64, age time.Duration) float64 {
	days := max(age.Hours()/24, 0)
	return math.Exp(-lambda * days)
}

// state reads the user's events and returns the (possibly cached) clustering.
func (m *Model) state(ctx context.Context, user string, cfg config) (*state, error) {
	if user == "" {
		return nil, errors.New("foryou: empty user")
	}
	st := &state{now: cfg.now(), engaged: map[string]bool{}, p: &profile{}}
	if m.events == nil {
		return st, nil
	}
	rows, err := m.events.UserItems(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	var items []userItem
	for _, r := range rows {
		st.engaged[r.ID] = true
		it := userItem{id: r.ID}
		add := func(on bool, t time.Time, w float64) {
			if !on || w <= 0 || (cfg.window > 0 && st.now.Sub(t) > cfg.window) {
				return
			}
			it.acts = append(it.acts, action{w, t})
			if t.After(it.latest) {
				it.latest = t
			}
		}
		add(r.Liked, r.LikedAt, cfg.likeW)
		add(r.Saved, r.SavedAt, cfg.saveW)
		if len(it.acts) > 0 {
			items = append(items, it)
		}
	}
	slices.SortStableFunc(items, func(a, b userItem) int {
		if c := b.latest.Compare(a.latest); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	if len(items) == 0 {
		return st, nil
	}
	cut, err := m.cutHeight(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	fp := fingerprint(items, cfg, cut, m.store.Len())
	if p := m.cached(user, fp); p != nil {
		st.p = p
		return st, nil
	}
	p, err := m.cluster(items, cfg.maxItems, cut)
	if err != nil {
		return nil, fmt.Errorf("foryou: user %s: %w", user, err)
	}
	m.remember(user, fp, p)
	st.p = p
	return st, nil
}

// fingerprint hashes what the clustering depends on: the items in the window with their
// actions, the options that shape it, and the Store's size.
func fingerprint(items []userItem, cfg config, cut float64, storeLen int) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	put(math.Float64bits(cut))
	put(uint64(cfg.maxItems))
	put(uint64(storeLen))
	for _, it := range items {
		h.Write([]byte(it.id))
		put(uint64(len(it.acts)))
		for _, a := range it.acts {
			put(math.Float64bits(a.w))
			put(uint64(a.t.UnixNano()))
		}
	}
	return h.Sum64()
}

// cluster fetches the vectors of the most recent items (up to maxItems that the Store
// holds) and clusters them.
func (m *Model) cluster(items []userItem, maxItems int, cut float64) (*profile, error) {
	p := &profile{cut: cut}
	var vecs [][]float32
	for _, it := range items {
		if len(p.items) == maxItems {
			break
		}
		item, err := m.store.Get(it.id)
		if errors.Is(err, pinrec.ErrNotFound) {
			continue // removed from the index since
		}
		if err != nil {
			return nil, err
		}
		if len(vecs) > 0 && len(item.Vector) != len(vecs[0]) {
			continue
		}
		p.items = append(p.items, it)
		vecs = append(vecs, item.Vector)
	}
	if len(vecs) == 0 {
		return p, nil
	}
	p.dim = len(vecs[0])
	merges, err := Ward(vecs)
	if err != nil {
		return nil, err
	}
	labels := Cut(len(vecs), merges, cut)
	groups := map[int][]int{}
	for i, l := range labels {
		groups[l] = append(groups[l], i)
	}
	p.clusters = make([]cluster, len(groups))
	for l, members := range groups {
		p.clusters[l] = newCluster(members, vecs)
	}
	return p, nil
}

// newCluster computes a cluster's mean, medoid and members' distances to the mean.
func newCluster(members []int, vecs [][]float32) cluster {
	dim := len(vecs[members[0]])
	mean := make([]float64, dim)
	for _, i := range members {
		for t, x := range vecs[i] {
			mean[t] += float64(x)
		}
	}
	c := cluster{members: members, centroid: make([]float32, dim)}
	for t := range mean {
		c.centroid[t] = float32(mean[t] / float64(len(members)))
	}
	type md struct {
		i int
		d float64
	}
	ds := make([]md, len(members))
	for j, i := range members {
		ds[j] = md{i, dist(vecs[i], c.centroid)}
	}
	// Σ_j ||x_i - x_j||² = m·||x_i - mean||² + Σ_j ||x_j - mean||²: the medoid is the member
	// nearest the mean; ties go to the most recent (members are in recency order).
	c.medoid = members[0]
	best := ds[0].d
	for _, x := range ds[1:] {
		if x.d < best {
			c.medoid, best = x.i, x.d
		}
	}
	c.medoidVec = slices.Clone(vecs[c.medoid])
	slices.SortStableFunc(ds, func(a, b md) int { return cmp.Compare(a.d, b.d) })
	c.byMean = make([]int, len(ds))
	c.meanDist = make([]float64, len(ds))
	for j, x := range ds {
		c.byMean[j], c.meanDist[j] = x.i, x.d
	}
	return c
}

// dist is the Euclidean distance, accumulated in float64.
func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
