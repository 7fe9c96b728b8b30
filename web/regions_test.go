package web

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// TestRegionItems: an index holding region items lists pins only, and its results collapse to
// pins carrying the matching box, in the API and on the page.
func TestRegionItems(t *testing.T) {
	f := newFixture(t)
	pins := f.ix.IDs()
	parent := "green/0.png"
	it, err := f.ix.Get(parent)
	require.NoError(t, err)
	meta := map[string]string{pinrec.MetaKind: pinrec.KindRegion, pinrec.MetaParent: parent, pinrec.MetaBox: "5,6,20,18"}
	for k, v := range it.Meta {
		meta[k] = v
	}
	// The region looks exactly like red/1.png: green/0.png becomes its nearest pin, through it.
	require.NoError(t, f.ix.Add(pinrec.Item{ID: pinrec.RegionID(parent, 0), Vector: f.vector(t, "red/1.png"), Meta: meta}))
	s, _ := f.server(t)

	var l listing
	require.NoError(t, json.Unmarshal(do(s, "GET", "/api/items?limit=500", nil, "").Body.Bytes(), &l))
	assert.Equal(t, len(pins), l.Total, "region items are not pins")
	assert.Equal(t, len(pins), strings.Count(do(s, "GET", "/", nil, "").Body.String(), `class="pin"`))

	rec := do(s, "GET", "/api/similar/red%2F1.png?k=3", nil, "")
	require.Equal(t, 200, rec.Code)
	a := decodeAnswer(t, rec.Body.Bytes())
	require.Equal(t, parent, a.Results[0].ID)
	assert.Zero(t, a.Results[0].Distance)
	require.NotNil(t, a.Results[0].Region)
	assert.Equal(t, pinrec.Rect{X: 5, Y: 6, W: 20, H: 18}, *a.Results[0].Region)
	assert.Contains(t, rec.Body.String(), `"region": {`)
	assert.Nil(t, a.Results[1].Region)
	page := do(s, "GET", "/item/red%2F1.png", nil, "").Body.String()
	assert.Contains(t, page, `<span class="region" data-box="5,6,20,18"`)

	// A pin's own regions never answer for it.
	a = decodeAnswer(t, do(s, "GET", "/api/similar/"+url.PathEscape(parent)+"?k=30", nil, "").Body.Bytes())
	assert.Len(t, a.Results, len(pins)-1)
	for _, r := range a.Results {
		assert.NotEqual(t, parent, r.ID)
	}
}

// askedStore records the k of every Similar call.
type askedStore struct {
	*pinrec.Index
	mu    sync.Mutex
	asked []int
}

func (s *askedStore) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) ([]pinrec.Result, error) {
	s.mu.Lock()
	s.asked = append(s.asked, k)
	s.mu.Unlock()
	return s.Index.Similar(ctx, id, k, opts...)
}

// Over a store without region items, similar asks the store for k results (with a
// near-duplicate hook, for k+k/4+4), not a quarter more for region items; should a region
// item be added later, the answer still folds it into its pin.
func TestSimilarWithoutRegionItems(t *testing.T) {
	f := newFixture(t)
	st := &askedStore{Index: f.ix}
	s, err := New(st, WithEmbedder(pixelEmbedder{}))
	require.NoError(t, err)
	st.asked = nil // New searched a sample
	a := decodeAnswer(t, do(s, "GET", "/api/similar/red%2F1.png?k=3", nil, "").Body.Bytes())
	assert.Equal(t, f.oracle(f.vector(t, "red/1.png"), 3, "red/1.png", nil), ids(a))
	assert.Equal(t, []int{3}, st.asked)

	keepAll := func(_ context.Context, res []pinrec.Result) ([]pinrec.Result, int, error) { return res, 0, nil }
	s, err = New(st, WithEmbedder(pixelEmbedder{}), WithNearDuplicates(keepAll))
	require.NoError(t, err)
	st.asked = nil
	a = decodeAnswer(t, do(s, "GET", "/api/similar/red%2F1.png?k=8", nil, "").Body.Bytes())
	assert.Equal(t, f.oracle(f.vector(t, "red/1.png"), 8, "red/1.png", nil), ids(a))
	assert.Equal(t, []int{8 + 2 + 4}, st.asked)

	// A region item of green/0.png that looks exactly like red/1.png, added after New.
	parent := "green/0.png"
	it, err := f.ix.Get(parent)
	require.NoError(t, err)
	meta := map[string]string{pinrec.MetaKind: pinrec.KindRegion, pinrec.MetaParent: parent, pinrec.MetaBox: "5,6,20,18"}
	for k, v := range it.Meta {
		meta[k] = v
	}
	require.NoError(t, f.ix.Add(pinrec.Item{ID: pinrec.RegionID(parent, 0), Vector: f.vector(t, "red/1.png"), Meta: meta}))
	a = decodeAnswer(t, do(s, "GET", "/api/similar/red%2F1.png?k=3", nil, "").Body.Bytes())
	require.Len(t, a.Results, 3)
	assert.Equal(t, parent, a.Results[0].ID, "the region answers as its pin")
	require.NotNil(t, a.Results[0].Region)
	for _, r := range a.Results {
		assert.NotEqual(t, pinrec.RegionID(parent, 0), r.ID)
	}
}
