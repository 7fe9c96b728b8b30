package dupes

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

func TestCheck(t *testing.T) {
	ctx := context.Background()
	p := plant(3, 400, 16, 0, 0, 0)
	p.items[0].Meta = map[string]string{MetaHash: "abc"}
	ix := exactIndex(t, p.items)
	orig := p.items[0]
	near := append([]float32(nil), orig.Vector...)
	near[0] += 0.3
	cases := []struct {
		name string
		v    []float32
		opts []Option
		want []Member
	}{
		{"near copy", near, []Option{WithThreshold(1)}, []Member{{ID: orig.ID, Distance: 0.3}}},
		{"same vector", orig.Vector, []Option{WithThreshold(1)}, []Member{{ID: orig.ID, Exact: SameVector}}},
		{"same bytes", orig.Vector, []Option{WithThreshold(1), WithContentHash("abc")}, []Member{{ID: orig.ID, Exact: SameBytes}}},
		{"itself left out", orig.Vector, []Option{WithThreshold(1), WithExclude(orig.ID)}, []Member{}},
		{"calibrated", near, nil, []Member{{ID: orig.ID, Distance: 0.3}}},
		{"nothing close", []float32{50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50}, nil, []Member{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, cal, err := Check(ctx, ix, tc.v, tc.opts...)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i := range got {
				assert.Equal(t, tc.want[i].ID, got[i].ID)
				assert.Equal(t, tc.want[i].Exact, got[i].Exact)
				assert.InDelta(t, tc.want[i].Distance, got[i].Distance, 1e-5)
			}
			assert.NotEmpty(t, cal.Explanation)
		})
	}
}

// Many copies within the threshold: Check asks again until it has them all.
func TestCheckManyCopies(t *testing.T) {
	var items []pinrec.Item
	for i := range 30 {
		items = append(items, pinrec.Item{ID: string(rune('A' + i)), Vector: []float32{float32(i) * 0.01, 0}})
	}
	items = append(items, pinrec.Item{ID: "far", Vector: []float32{100, 0}})
	got, _, err := Check(context.Background(), exactIndex(t, items), []float32{0, 0}, WithThreshold(1), WithK(2))
	require.NoError(t, err)
	assert.Len(t, got, 30)
}

func TestCollapse(t *testing.T) {
	// a, b, c, d on a line; b is 0.5 from a, d is 0.4 from c; q is the query near a.
	items := []pinrec.Item{
		{ID: "a", Vector: []float32{1, 0}},
		{ID: "b", Vector: []float32{1.5, 0}},
		{ID: "c", Vector: []float32{5, 0}},
		{ID: "d", Vector: []float32{5.4, 0}},
		{ID: "e", Vector: []float32{9, 0}},
	}
	ix := exactIndex(t, items)
	res := func(ids ...string) []pinrec.Result {
		out := make([]pinrec.Result, len(ids))
		for i, id := range ids {
			out[i] = pinrec.Result{ID: id, Distance: float32(i)}
		}
		return out
	}
	r := res("a", "b", "c", "d", "e")
	cases := []struct {
		name      string
		threshold float32
		opts      []Option
		shown     []string
		hidden    map[string][]string
		ofQuery   []string
	}{
		{"zero", 0, nil, []string{"a", "b", "c", "d", "e"}, nil, nil},
		{"pairs", 0.6, nil, []string{"a", "c", "e"}, map[string][]string{"a": {"b"}, "c": {"d"}}, nil},
		{"query", 0.6, []Option{WithQuery([]float32{0.8, 0})}, []string{"b", "c", "e"}, map[string][]string{"c": {"d"}}, []string{"a"}},
		{"wide", 4.5, nil, []string{"a", "e"}, map[string][]string{"a": {"b", "c", "d"}}, nil},
	}
	// The index hands its vectors out through AppendVector; getOnly through Get alone.
	sources := []struct {
		name string
		src  VectorSource
	}{{"index", ix}, {"get", getOnly{ix}}}
	for _, tc := range cases {
		for _, sc := range sources {
			t.Run(tc.name+"/"+sc.name, func(t *testing.T) {
				collapseCase(t, sc.src, r, tc.threshold, tc.opts, tc.shown, tc.hidden, tc.ofQuery)
			})
		}
	}
	_, err := Collapse(ix, res("nope"), 1)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
	_, err = Collapse(getOnly{ix}, res("nope"), 1)
	assert.ErrorIs(t, err, pinrec.ErrNotFound)
}

// getOnly is a VectorSource with no other method.
type getOnly struct{ ix *pinrec.Index }

func (g getOnly) Get(id string) (pinrec.Item, error) { return g.ix.Get(id) }

func collapseCase(t *testing.T, src VectorSource, r []pinrec.Result, threshold float32, opts []Option,
	wantShown []string, wantHidden map[string][]string, wantOfQuery []string) {
	c, err := Collapse(src, r, threshold, opts...)
	require.NoError(t, err)
	var shown []string
	hidden := map[string][]string{}
	n := 0
	for _, s := range c.Shown {
		shown = append(shown, s.ID)
		for _, h := range s.Hidden {
			hidden[s.ID] = append(hidden[s.ID], h.ID)
			n++
		}
	}
	var ofq []string
	for _, q := range c.OfQuery {
		ofq = append(ofq, q.ID)
	}
	assert.Equal(t, wantShown, shown)
	if wantHidden == nil {
		wantHidden = map[string][]string{}
	}
	assert.Equal(t, wantHidden, hidden)
	assert.Equal(t, wantOfQuery, ofq)
	assert.Equal(t, n+len(ofq), c.HiddenCount())
	assert.Len(t, c.Results(2), min(2, len(shown)))
	assert.Len(t, c.Truncate(1).Shown, 1)
}

func TestBadOptions(t *testing.T) {
	ctx := context.Background()
	ix := exactIndex(t, []pinrec.Item{{ID: "a", Vector: []float32{1}}})
	nan := float32(math.NaN())
	cases := []struct {
		name string
		opts []Option
	}{
		{"negative threshold", []Option{WithThreshold(-1)}},
		{"NaN threshold", []Option{WithThreshold(nan)}},
		{"infinite threshold", []Option{WithThreshold(float32(math.Inf(1)))}},
		{"k 0", []Option{WithK(0)}},
		{"sample 0", []Option{WithSample(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Find(ctx, ix, tc.opts...)
			assert.ErrorIs(t, err, ErrBadOption)
			_, _, err = Check(ctx, ix, []float32{1}, tc.opts...)
			assert.ErrorIs(t, err, ErrBadOption)
			_, err = Calibrate(ctx, ix, tc.opts...)
			assert.ErrorIs(t, err, ErrBadOption)
		})
	}
	_, err := Collapse(ix, nil, -1)
	assert.ErrorIs(t, err, ErrBadOption)
	_, _, err = Check(ctx, ix, []float32{1, 2}, WithThreshold(1))
	assert.ErrorIs(t, err, pinrec.ErrDimMismatch)
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Find(ctxDone, annIndex(t, plant(1, 50, 4, 0, 0, 0).items))
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestEmptyAndTiny(t *testing.T) {
	ctx := context.Background()
	var zero pinrec.Index
	r, err := Find(ctx, &zero)
	require.NoError(t, err)
	assert.Equal(t, 0, r.Items)
	assert.Equal(t, RuleTooFew, r.Calibration.Rule)
	got, _, err := Check(ctx, &zero, []float32{1})
	require.NoError(t, err)
	assert.Empty(t, got)

	// One item: no neighbours, nothing grouped.
	r, err = Find(ctx, exactIndex(t, []pinrec.Item{{ID: "a", Vector: []float32{1}}}))
	require.NoError(t, err)
	assert.Empty(t, r.Near)
	assert.Empty(t, r.Exact)
	// Too few items to calibrate: exact duplicates only, said so.
	r, err = Find(ctx, exactIndex(t, []pinrec.Item{{ID: "a", Vector: []float32{1}}, {ID: "b", Vector: []float32{1}}, {ID: "c", Vector: []float32{1.01}}}))
	require.NoError(t, err)
	assert.Equal(t, RuleTooFew, r.Calibration.Rule)
	assert.Empty(t, r.Near)
	require.Len(t, r.Exact, 1)
}

// Region items (index -regions N) are neither grouped nor neighbours, unless asked for.
func TestRegionsLeftOut(t *testing.T) {
	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	require.NoError(t, pinrec.PutPin(ix, pinrec.Item{ID: "p1", Vector: []float32{0, 0}}, []pinrec.Region{{Vector: []float32{10, 10}, Box: pinrec.Rect{W: 1, H: 1}}}))
	require.NoError(t, pinrec.PutPin(ix, pinrec.Item{ID: "p2", Vector: []float32{10, 10.1}}, nil))
	require.NoError(t, pinrec.PutPin(ix, pinrec.Item{ID: "p3", Vector: []float32{0, 0.1}}, nil))
	r, err := Find(context.Background(), ix, WithThreshold(0.5))
	require.NoError(t, err)
	assert.Equal(t, 3, r.Items)
	require.Len(t, r.Near, 1)
	assert.ElementsMatch(t, []string{"p1", "p3"}, r.Near[0].IDs())

	r, err = Find(context.Background(), ix, WithThreshold(0.5), WithRegions())
	require.NoError(t, err)
	assert.Equal(t, 4, r.Items)
	require.Len(t, r.Near, 2)

	// Check: near the region's vector, the pin p2 only; with WithRegions, the region too.
	got, _, err := Check(context.Background(), ix, []float32{10, 10}, WithThreshold(0.5))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "p2", got[0].ID)
	got, _, err = Check(context.Background(), ix, []float32{10, 10}, WithThreshold(0.5), WithRegions())
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, pinrec.RegionID("p1", 0), got[0].ID)
}

func TestCollapser(t *testing.T) {
	ix := exactIndex(t, []pinrec.Item{
		{ID: "a", Vector: []float32{0}}, {ID: "a2", Vector: []float32{0.1}}, {ID: "b", Vector: []float32{5}},
	})
	c := Collapser(ix, 0.5)
	kept, hidden, err := c(context.Background(), []pinrec.Result{{ID: "a"}, {ID: "a2", Distance: 0.1}, {ID: "b", Distance: 5}})
	require.NoError(t, err)
	assert.Equal(t, 1, hidden)
	require.Len(t, kept, 2)
	assert.Equal(t, "b", kept[1].ID)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = c(ctx, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// within must decide as the float64 distance does, on every side of the threshold: at the
// pair's own distance, one float32 step either side, and far from it; with the differences
// spread over every value, or only in the first or the last chunk it sums (where it can stop
// early, or not before the end).
func TestWithinMatchesDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{0, 1, 3, 8, 17, 64, 67, 255, 256, 257, 511, 600, 2048} {
		for trial := range 60 {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i] = rng.Float32() * 4
				b[i] = a[i]
				differs := true
				switch trial % 3 {
				case 1:
					differs = i < withinChunk/2
				case 2:
					differs = i >= n-withinChunk/2
				}
				if trial%4 != 0 && differs { // every fourth pair is a copy
					b[i] += float32(rng.NormFloat64()) * float32(trial) / 60
				}
			}
			d := distance(a, b)
			for _, th := range []float32{0, d, math.Nextafter32(d, 0), math.Nextafter32(d, math.MaxFloat32), d * 0.999, d * 1.001, d / 2, d * 2} {
				assert.Equal(t, d <= th, within(a, b, th), "n=%d trial %d: distance %v, threshold %v", n, trial, d, th)
			}
		}
	}
}
