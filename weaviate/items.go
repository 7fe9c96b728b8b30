package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/google/uuid"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"

	"pinrec"
)

// namespace is the UUIDv5 namespace of pinrec object IDs.
var namespace = uuid.MustParse("4c1b2a36-8f0e-5d3c-9b7a-70696e726563")

// ObjectID returns the Weaviate object UUID of the item with pinrec ID id: a UUIDv5 of the ID,
// so that writing an item twice replaces it and any client finds it without a lookup.
func ObjectID(id string) strfmt.UUID {
	return strfmt.UUID(uuid.NewSHA1(namespace, []byte(id)).String())
}

// encodeMeta turns metadata into the meta property: "key=value" entries, both url-escaped so
// that the first "=" separates them and no entry has spaces at its ends.
func encodeMeta(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, metaEntry(k, v))
	}
	return out
}

func metaEntry(k, v string) string { return url.QueryEscape(k) + "=" + url.QueryEscape(v) }

// decodeMeta reverses encodeMeta; nil for no entries.
func decodeMeta(entries []string) (map[string]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("meta entry %q has no '='", e)
		}
		kk, err1 := url.QueryUnescape(k)
		vv, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("meta entry %q: %w", e, err)
		}
		m[kk] = vv
	}
	return m, nil
}

// ItemError is the failure of one item in a batch.
type ItemError struct {
	ID  string
	Err error
}

// BatchError reports the items of an Add or Remove that failed, after retries; the others
// succeeded. errors.Is sees through it to each item's error (pinrec.ErrNotFound for a Remove
// of a missing ID).
type BatchError struct {
	Op     string // "add" or "remove"
	Total  int    // items in the call
	Failed []ItemError
}

func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d items failed:", e.Op, len(e.Failed), e.Total)
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Failed)-5)
			break
		}
		fmt.Fprintf(&b, " %q: %v;", f.ID, f.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns each item's error.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// IDs returns the IDs of the failed items.
func (e *BatchError) IDs() []string {
	ids := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		ids[i] = f.ID
	}
	return ids
}

// itemError returns the error reported for object i of a batch response, or nil.
func itemError(res []models.ObjectsGetResponse, i int) error {
	if i >= len(res) {
		return &remoteError{msg: fmt.Sprintf("batch response has %d results, object %d missing (not stored)", len(res), i)}
	}
	r := res[i].Result
	if r == nil || r.Errors == nil || len(r.Errors.Error) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(r.Errors.Error))
	for _, e := range r.Errors.Error {
		if e != nil {
			msgs = append(msgs, e.Message)
		}
	}
	return &remoteError{msg: strings.Join(msgs, "; ")}
}

func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("length %d, collection dimension %d: %w", len(v), dim, pinrec.ErrDimMismatch)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("element %d is %v: %w", i, x, pinrec.ErrNonFinite)
		}
	}
	return nil
}

// Add is [Store.AddContext] without a deadline beyond the per-request timeouts and retries.
func (s *Store) Add(items ...pinrec.Item) error { return s.AddContext(context.Background(), items...) }

// AddContext adds items or replaces those whose ID is present, in batches of [WithBatchSize]
// at the write consistency level. Invalid items (an empty ID, a vector of another dimension
// or with a NaN or infinity) are refused before anything is sent, as pinrec.Index does: the
// error names the first and nothing is added. Items that the cluster refuses are retried
// (transient failures, as a replica down) and the rest returned in a [*BatchError]; every
// other item is stored. Within one call, a later item with the same ID wins.
func (s *Store) AddContext(ctx context.Context, items ...pinrec.Item) error {
	if err := s.usable("add"); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	s.mu.Lock()
	dim := s.dim
	if dim == 0 {
		dim = len(items[0].Vector)
	}
	s.mu.Unlock()
	last := make(map[string]int, len(items))
	for i := range items {
		it := &items[i]
		if it.ID == "" {
			return fmt.Errorf("add: item %d: %w", i, pinrec.ErrEmptyID)
		}
		if err := checkVector(it.Vector, dim); err != nil {
			return fmt.Errorf("add %q: %w", it.ID, err)
		}
		last[it.ID] = i
	}
	if err := s.fixDim(ctx, dim); err != nil {
		return err
	}
	objs := make([]*models.Object, 0, len(last))
	ids := make([]string, 0, len(last))
	for i := range items {
		it := &items[i]
		if last[it.ID] != i {
			continue
		}
		props := map[string]any{propID: it.ID}
		if len(it.Meta) > 0 {
			props[propMeta] = encodeMeta(it.Meta)
		}
		objs = append(objs, &models.Object{Class: s.t.Collection, ID: ObjectID(it.ID), Properties: props, Vector: it.Vector})
		ids = append(ids, it.ID)
	}
	be := &BatchError{Op: "add", Total: len(objs)}
	for start := 0; start < len(objs); start += s.cfg.batchSize {
		end := min(start+s.cfg.batchSize, len(objs))
		if err := s.addBatch(ctx, objs[start:end], ids[start:end], be); err != nil {
			return fmt.Errorf("add: items %d-%d of %d: %w", start, end-1, len(objs), err)
		}
	}
	if len(be.Failed) > 0 {
		return be
	}
	return nil
}

// fixDim records the dimension of a collection that had none.
func (s *Store) fixDim(ctx context.Context, dim int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dim != 0 {
		return nil
	}
	s.dim = dim
	if err := s.writeInfo(ctx); err != nil {
		s.dim = 0
		return err
	}
	return nil
}

// addBatch sends one batch; objects that fail transiently are sent again (up to the retry
// count, with backoff), the others are recorded in be.
func (s *Store) addBatch(ctx context.Context, objs []*models.Object, ids []string, be *BatchError) error {
	for round := 0; len(objs) > 0; round++ {
		if round > 0 {
			if err := sleepCtx(ctx, s.cfg.backoff(round)); err != nil {
				return err
			}
		}
		var res []models.ObjectsGetResponse
		err := s.do(ctx, "batch", func(ctx context.Context, n *node) error {
			return s.guardWrite(ctx, "batch", func(ctx context.Context) error {
				var err error
				res, err = n.c.Batch().ObjectsBatcher().WithObjects(objs...).WithConsistencyLevel(string(s.cfg.write)).Do(ctx)
				return err
			})
		})
		if err != nil {
			return err
		}
		var retryObjs []*models.Object
		var retryIDs []string
		for i := range objs {
			err := itemError(res, i)
			switch {
			case err == nil:
			case transient(err) && round < s.cfg.retries:
				retryObjs = append(retryObjs, objs[i])
				retryIDs = append(retryIDs, ids[i])
			default:
				be.Failed = append(be.Failed, ItemError{ID: ids[i], Err: err})
			}
		}
		// Items refused for want of replicas ("cannot reach enough replicas") while the
		// level cannot be reached end now, with the error that says so (quorum.go).
		if len(retryIDs) > 0 && s.cfg.write != One {
			if qerr := s.quorumDown(ctx, "batch"); qerr != nil {
				for _, id := range retryIDs {
					be.Failed = append(be.Failed, ItemError{ID: id, Err: qerr})
				}
				retryObjs, retryIDs = nil, nil
			}
		}
		objs, ids = retryObjs, retryIDs
	}
	return nil
}

// Remove is [Store.RemoveContext] without a deadline beyond the per-request timeouts.
func (s *Store) Remove(ids ...string) error { return s.RemoveContext(context.Background(), ids...) }

// RemoveContext deletes the items with the given IDs, in batches, at the write consistency
// level. Unlike pinrec.Index, a missing ID does not stop the others: they are deleted, and the
// missing ones are reported in a [*BatchError] whose items wrap pinrec.ErrNotFound.
func (s *Store) RemoveContext(ctx context.Context, ids ...string) error {
	if err := s.usable("remove"); err != nil {
		return err
	}
	seen := make(map[string]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	be := &BatchError{Op: "remove", Total: len(uniq)}
	for start := 0; start < len(uniq); start += s.cfg.batchSize {
		chunk := uniq[start:min(start+s.cfg.batchSize, len(uniq))]
		if err := s.removeBatch(ctx, chunk, be); err != nil {
			return fmt.Errorf("remove: %w", err)
		}
	}
	if len(be.Failed) > 0 {
		return be
	}
	return nil
}

func (s *Store) removeBatch(ctx context.Context, ids []string, be *BatchError) error {
	byUUID := make(map[string]string, len(ids))
	uuids := make([]string, len(ids))
	for i, id := range ids {
		u := string(ObjectID(id))
		uuids[i] = u
		byUUID[u] = id
	}
	// Deleted in an earlier round that failed in transport: a retried delete finds nothing,
	// so IDs that were matched once count as deleted.
	matched := map[string]bool{}
	pending := uuids
	for round := 0; len(pending) > 0; round++ {
		if round > 0 {
			if err := sleepCtx(ctx, s.cfg.backoff(round)); err != nil {
				return err
			}
		}
		where := filters.Where().WithPath([]string{"id"}).WithOperator(filters.ContainsAny).WithValueText(pending...)
		var res *models.BatchDeleteResponse
		err := s.do(ctx, "batch delete", func(ctx context.Context, n *node) error {
			return s.guardWrite(ctx, "batch delete", func(ctx context.Context) error {
				var err error
				res, err = n.c.Batch().ObjectsBatchDeleter().WithClassName(s.t.Collection).WithWhere(where).
					WithOutput("verbose").WithConsistencyLevel(string(s.cfg.write)).Do(ctx)
				return err
			})
		})
		if err != nil {
			return err
		}
		var retry []string
		if res.Results != nil {
			for _, o := range res.Results.Objects {
				u := string(o.ID)
				var err error
				if o.Errors != nil && len(o.Errors.Error) > 0 {
					err = &remoteError{msg: o.Errors.Error[0].Message}
				}
				switch {
				case err == nil:
					matched[u] = true
				case transient(err) && round < s.cfg.retries:
					retry = append(retry, u)
				default:
					matched[u] = true
					be.Failed = append(be.Failed, ItemError{ID: byUUID[u], Err: err})
				}
			}
		}
		if len(retry) > 0 && s.cfg.write != One {
			if qerr := s.quorumDown(ctx, "batch delete"); qerr != nil {
				for _, u := range retry {
					matched[u] = true
					be.Failed = append(be.Failed, ItemError{ID: byUUID[u], Err: qerr})
				}
				retry = nil
			}
		}
		pending = retry
	}
	for _, u := range uuids {
		if !matched[u] {
			be.Failed = append(be.Failed, ItemError{ID: byUUID[u], Err: pinrec.ErrNotFound})
		}
	}
	return nil
}

// Get is [Store.GetContext] without a deadline beyond the per-request timeouts.
func (s *Store) Get(id string) (pinrec.Item, error) { return s.GetContext(context.Background(), id) }

// GetContext returns the item with the given ID, read at the read consistency level, or an
// error wrapping pinrec.ErrNotFound.
func (s *Store) GetContext(ctx context.Context, id string) (pinrec.Item, error) {
	return s.get(ctx, id, "", true)
}

// GetFromNode reads the item from the replica on the named node (as /v1/nodes names it)
// rather than at a consistency level: a read of exactly what that node holds, for checking
// replication.
func (s *Store) GetFromNode(ctx context.Context, id, nodeName string) (pinrec.Item, error) {
	return s.get(ctx, id, nodeName, true)
}

func (s *Store) get(ctx context.Context, id, nodeName string, vector bool) (pinrec.Item, error) {
	if err := s.usable("get"); err != nil {
		return pinrec.Item{}, err
	}
	var obj *models.Object
	err := s.do(ctx, fmt.Sprintf("get %q", id), func(ctx context.Context, n *node) error {
		g := n.c.Data().ObjectsGetter().WithClassName(s.t.Collection).WithID(string(ObjectID(id)))
		if vector {
			g = g.WithVector()
		}
		if nodeName != "" {
			g = g.WithNodeName(nodeName)
		} else {
			g = g.WithConsistencyLevel(string(s.cfg.read))
		}
		objs, err := g.Do(ctx)
		obj = nil
		if isStatus(err, 404) {
			return nil
		}
		if err == nil && len(objs) > 0 {
			obj = objs[0]
		}
		return err
	})
	if err != nil {
		return pinrec.Item{}, err
	}
	if obj == nil {
		return pinrec.Item{}, fmt.Errorf("get %q: %w", id, pinrec.ErrNotFound)
	}
	it, err := objectItem(obj)
	if err != nil {
		return pinrec.Item{}, fmt.Errorf("get %q: %w", id, err)
	}
	return it, nil
}

// objectItem converts a stored object back into an item.
func objectItem(o *models.Object) (pinrec.Item, error) {
	var p struct {
		ID   string   `json:"pinrecId"`
		Meta []string `json:"meta"`
	}
	b, _ := json.Marshal(o.Properties)
	if err := json.Unmarshal(b, &p); err != nil {
		return pinrec.Item{}, fmt.Errorf("object %s: %w", o.ID, err)
	}
	meta, err := decodeMeta(p.Meta)
	if err != nil {
		return pinrec.Item{}, fmt.Errorf("object %s: %w", o.ID, err)
	}
	return pinrec.Item{ID: p.ID, Vector: []float32(o.Vector), Meta: meta}, nil
}

// Has reports whether an item has the given ID (false also when the cluster cannot answer).
func (s *Store) Has(id string) bool {
	_, err := s.get(context.Background(), id, "", false)
	return err == nil
}

// IDs lists every item's ID, in the order of their object UUIDs (nil when the cluster cannot
// answer; [Store.Scan] returns the error).
func (s *Store) IDs() []string {
	var ids []string
	err := s.Scan(context.Background(), false, func(it pinrec.Item) error {
		ids = append(ids, it.ID)
		return nil
	})
	if err != nil {
		return nil
	}
	return ids
}

// Scan calls fn for every item, in object UUID order, with its vector when withVectors is set,
// reading pages of 500 with Weaviate's cursor. It stops at the first error fn returns.
func (s *Store) Scan(ctx context.Context, withVectors bool, fn func(pinrec.Item) error) error {
	if err := s.usable("scan"); err != nil {
		return err
	}
	after := ""
	for {
		_, _, _, items, err := s.pageItems(ctx, after, 500, withVectors)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		for _, it := range items {
			if err := fn(it.Item); err != nil {
				return err
			}
		}
		after = items[len(items)-1].uuid
	}
}

type pagedItem struct {
	pinrec.Item
	uuid string
}

func (s *Store) pageItems(ctx context.Context, after string, limit int, withVectors bool) ([]string, [][]float32, []map[string]string, []pagedItem, error) {
	var objs []*models.Object
	err := s.do(ctx, "list", func(ctx context.Context, n *node) error {
		g := n.c.Data().ObjectsGetter().WithClassName(s.t.Collection).WithAfter(after).WithLimit(limit)
		if withVectors {
			g = g.WithVector()
		}
		var err error
		objs, err = g.Do(ctx)
		return err
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var ids []string
	var vecs [][]float32
	var metas []map[string]string
	items := make([]pagedItem, 0, len(objs))
	for _, o := range objs {
		it, err := objectItem(o)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		ids = append(ids, it.ID)
		vecs = append(vecs, it.Vector)
		metas = append(metas, it.Meta)
		items = append(items, pagedItem{Item: it, uuid: string(o.ID)})
	}
	return ids, vecs, metas, items, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
