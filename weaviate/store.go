package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wv "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate/entities/models"

	"pinrec"
)

// Errors of this package, wrapped with the operation; test them with [errors.Is]. Missing
// items wrap pinrec.ErrNotFound and a dimension that differs wraps pinrec.ErrDimMismatch.
var (
	// ErrUnreachable: no node of the URL answered (connection refused, no route).
	ErrUnreachable = errors.New("weaviate: server unreachable")
	// ErrNoCollection: the collection does not exist and Open was not given WithDim to create it.
	ErrNoCollection = errors.New("weaviate: no such collection")
	// ErrCollectionMismatch: the collection exists but is not one pinrec can use as asked:
	// another distance than l2-squared, a vectorizer module, missing properties, or another
	// replication factor than WithReplication asked for.
	ErrCollectionMismatch = errors.New("weaviate: collection does not match")
	// ErrClosed: a call after Close.
	ErrClosed = errors.New("weaviate: store closed")
)

// Property names of an item object, and the collection holding each collection's info.
const (
	propID    = "pinrecId"
	propMeta  = "meta"
	infoClass = "PinrecInfo"
	distance  = "l2-squared"
)

type node struct {
	host     string
	c        *wv.Client
	badUntil atomic.Int64 // UnixNano before which requests prefer other nodes
}

// Store is a pinrec.Store kept in a Weaviate collection, usually replicated over a cluster.
//
// Each item is one object: its UUID is derived from the pinrec ID ([ObjectID]), its
// properties are the ID (pinrecId) and the metadata (meta, a text array of
// url-escaped "key=value" entries, field-tokenized so that filters match whole entries),
// its vector is the item's vector, indexed by HNSW with the l2-squared distance; results
// give the Euclidean distance, its square root. Store-level info (Info, SetInfo) and the
// dimension live in one object of the PinrecInfo collection.
//
// Every request has a timeout and is retried with backoff on transient failures, moving to
// the next node of the URL each time (see [WithTimeout], [WithRetries]); writes are batches
// of upserts and deletes by deterministic UUID, so a retried batch does no harm.
//
// Searches run on the server's HNSW graph: they are approximate. Weaviate runs a search on
// the shard replica of the node that coordinates it and then reads the objects found at the
// read consistency level, so a search may miss, for a moment, an item written at QUORUM that
// this replica has not applied yet; write at ALL to find every acknowledged item in searches
// at once (Get, Has and reads at QUORUM or ALL see it in any case). Metadata matches
// (pinrec.WithMeta) are pushed down as where filters; a Go filter function
// (pinrec.WithFilter) cannot be, so the store asks for [WithOverFetch] times k results and
// filters them here, growing the request until k pass or the collection has no more.
//
// Methods of the pinrec.Store interface that take no context (Add, Remove, Get, Has, IDs,
// Len, Info, SetInfo) bound themselves by the timeouts and retries; Len and Has report 0 and
// false when the cluster cannot be reached. A Store is safe for concurrent use.
type Store struct {
	t     Target
	cfg   config
	nodes []*node
	next  atomic.Uint64

	mu      sync.Mutex
	dim     int               // 0 while unknown (empty collection opened without WithDim)
	rf      int               // the collection's replication factor
	info    map[string]string // cached store-level info
	infoErr error             // the last failed SetInfo write, retried by Close
	closed  bool

	quorum quorumState // the cluster's nodes, for writes at QUORUM and ALL (quorum.go)
}

var _ pinrec.Store = (*Store)(nil)

// Open connects to the collection that rawURL names (weaviate://HOST:PORT[,HOST:PORT...]/NAME,
// see [ParseURL]) and checks that pinrec can use it. A missing collection is created when
// [WithDim] is given (with [WithReplication]'s factor), and [ErrNoCollection] otherwise.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range append(slices.Clip(t.Options), opts...) {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("open %s: %w", t, err)
	}
	s := &Store{t: t, cfg: cfg, info: map[string]string{}}
	for _, h := range t.Hosts {
		c, err := wv.NewClient(wv.Config{Host: h, Scheme: "http", Timeout: cfg.timeout})
		if err != nil {
			return nil, fmt.Errorf("open %s: client for %s: %w", t, h, err)
		}
		s.nodes = append(s.nodes, &node{host: h, c: c})
	}
	if err := s.open(ctx); err != nil {
		return nil, fmt.Errorf("open %s: %w", t, err)
	}
	if s.cfg.write != One && s.rf > 1 {
		s.countNodes(ctx)
	}
	return s, nil
}

func isStatus(err error, code int) bool {
	var we *fault.WeaviateClientError
	return errors.As(err, &we) && we.StatusCode == code
}

// getClass returns the class, or nil when it does not exist.
func (s *Store) getClass(ctx context.Context, name string) (*models.Class, error) {
	var class *models.Class
	err := s.do(ctx, "get collection "+name, func(ctx context.Context, n *node) error {
		c, err := n.c.Schema().ClassGetter().WithClassName(name).Do(ctx)
		if isStatus(err, 404) {
			return nil
		}
		class = c
		return err
	})
	return class, err
}

// createClass creates class unless it exists; a concurrent creation by someone else is fine.
func (s *Store) createClass(ctx context.Context, class *models.Class) error {
	return s.do(ctx, "create collection "+class.Class, func(ctx context.Context, n *node) error {
		err := n.c.Schema().ClassCreator().WithClass(class).Do(ctx)
		if err != nil && isStatus(err, 422) && strings.Contains(strings.ToLower(err.Error()), "already exists") {
			return nil
		}
		return err
	})
}

func textProp(name string, array bool) *models.Property {
	yes, no := true, false
	dt := "text"
	if array {
		dt = "text[]"
	}
	return &models.Property{Name: name, DataType: []string{dt}, Tokenization: "field",
		IndexFilterable: &yes, IndexSearchable: &no}
}

func (s *Store) open(ctx context.Context) error {
	class, err := s.getClass(ctx, s.t.Collection)
	if err != nil {
		return err
	}
	if class == nil {
		if s.cfg.dim == 0 {
			return fmt.Errorf("collection %s: %w (give a dimension to create it)", s.t.Collection, ErrNoCollection)
		}
		rf := max(s.cfg.replication, 1)
		err := s.createClass(ctx, &models.Class{
			Class:             s.t.Collection,
			Description:       "pinrec items: pinrecId, meta (url-escaped key=value), vector (l2-squared)",
			Vectorizer:        "none",
			VectorIndexType:   "hnsw",
			VectorIndexConfig: map[string]any{"distance": distance},
			ReplicationConfig: &models.ReplicationConfig{Factor: int64(rf), DeletionStrategy: "TimeBasedResolution"},
			Properties:        []*models.Property{textProp(propID, false), textProp(propMeta, true)},
		})
		if err != nil {
			return err
		}
		if class, err = s.getClass(ctx, s.t.Collection); err != nil {
			return err
		}
		if class == nil {
			return fmt.Errorf("collection %s: created but not found", s.t.Collection)
		}
	}
	if err := s.checkClass(class); err != nil {
		return err
	}
	s.rf = replicationFactor(class)
	if err := s.loadInfo(ctx, class); err != nil {
		return err
	}
	if s.cfg.dim > 0 && s.dim > 0 && s.dim != s.cfg.dim {
		return fmt.Errorf("collection %s holds %d-d vectors, asked for %d: %w", s.t.Collection, s.dim, s.cfg.dim, pinrec.ErrDimMismatch)
	}
	if s.dim == 0 && s.cfg.dim > 0 {
		s.dim = s.cfg.dim
		return s.writeInfo(ctx)
	}
	return nil
}

// checkClass refuses a collection pinrec cannot use as asked.
func (s *Store) checkClass(c *models.Class) error {
	if c.Vectorizer != "" && c.Vectorizer != "none" {
		return fmt.Errorf("collection %s uses vectorizer %q, pinrec brings its own vectors (none): %w", c.Class, c.Vectorizer, ErrCollectionMismatch)
	}
	if d := classDistance(c); d != distance {
		return fmt.Errorf("collection %s uses distance %q, pinrec needs %q: %w", c.Class, d, distance, ErrCollectionMismatch)
	}
	have := map[string]string{}
	for _, p := range c.Properties {
		have[p.Name] = strings.Join(p.DataType, ",")
	}
	if have[propID] != "text" || have[propMeta] != "text[]" {
		return fmt.Errorf("collection %s lacks the properties %s (text) and %s (text[]): %w", c.Class, propID, propMeta, ErrCollectionMismatch)
	}
	if s.cfg.replication > 0 && replicationFactor(c) != s.cfg.replication {
		return fmt.Errorf("collection %s has replication factor %d, asked for %d: %w", c.Class, replicationFactor(c), s.cfg.replication, ErrCollectionMismatch)
	}
	return nil
}

func classDistance(c *models.Class) string {
	m, _ := c.VectorIndexConfig.(map[string]any)
	d, _ := m["distance"].(string)
	if d == "" {
		d = "cosine" // Weaviate's default
	}
	return d
}

func classEf(c *models.Class) string {
	m, _ := c.VectorIndexConfig.(map[string]any)
	return fmt.Sprint(m["ef"])
}

func replicationFactor(c *models.Class) int {
	if c.ReplicationConfig == nil || c.ReplicationConfig.Factor == 0 {
		return 1
	}
	return int(c.ReplicationConfig.Factor)
}

// infoObject is the PinrecInfo object of a collection.
type infoObject struct {
	Collection string `json:"collection"`
	Dim        int    `json:"dim"`
	Info       string `json:"info"` // JSON object of the store-level info
}

// loadInfo reads the collection's info object (creating the PinrecInfo collection if needed)
// and sets dim and info; without one, it takes the dimension from a stored vector.
func (s *Store) loadInfo(ctx context.Context, class *models.Class) error {
	ic, err := s.getClass(ctx, infoClass)
	if err != nil {
		return err
	}
	if ic == nil {
		yes := true
		err := s.createClass(ctx, &models.Class{
			Class:             infoClass,
			Description:       "pinrec: the dimension and info of each pinrec collection",
			Vectorizer:        "none",
			VectorIndexConfig: map[string]any{"skip": yes},
			ReplicationConfig: &models.ReplicationConfig{Factor: int64(replicationFactor(class))},
			Properties: []*models.Property{textProp("collection", false),
				{Name: "dim", DataType: []string{"int"}}, {Name: "info", DataType: []string{"text"}}},
		})
		if err != nil {
			return err
		}
	}
	var obj *models.Object
	err = s.do(ctx, "read info", func(ctx context.Context, n *node) error {
		objs, err := n.c.Data().ObjectsGetter().WithClassName(infoClass).WithID(string(ObjectID(s.t.Collection))).
			WithConsistencyLevel(string(s.cfg.read)).Do(ctx)
		if isStatus(err, 404) {
			return nil
		}
		if err == nil && len(objs) > 0 {
			obj = objs[0]
		}
		return err
	})
	if err != nil {
		return err
	}
	if obj != nil {
		var io infoObject
		b, _ := json.Marshal(obj.Properties)
		if err := json.Unmarshal(b, &io); err != nil {
			return fmt.Errorf("info object: %w", err)
		}
		s.dim = io.Dim
		if io.Info != "" {
			if err := json.Unmarshal([]byte(io.Info), &s.info); err != nil {
				return fmt.Errorf("info object: %w", err)
			}
		}
	}
	if s.dim == 0 {
		// A collection filled by another program: take the dimension from one vector.
		_, vecs, _, _, err := s.pageItems(ctx, "", 1, true)
		if err != nil {
			return err
		}
		if len(vecs) > 0 {
			s.dim = len(vecs[0])
		}
	}
	return nil
}

// writeInfo stores dim and info in the collection's info object. The caller holds mu or
// owns s exclusively.
func (s *Store) writeInfo(ctx context.Context) error {
	b, err := json.Marshal(s.info)
	if err != nil {
		return err
	}
	obj := &models.Object{
		Class: infoClass,
		ID:    ObjectID(s.t.Collection),
		Properties: map[string]any{
			"collection": s.t.Collection, "dim": s.dim, "info": string(b),
		},
	}
	return s.do(ctx, "write info", func(ctx context.Context, n *node) error {
		res, err := n.c.Batch().ObjectsBatcher().WithObjects(obj).WithConsistencyLevel(string(s.cfg.write)).Do(ctx)
		if err != nil {
			return err
		}
		return itemError(res, 0)
	})
}

// ctx returns a context for a method of pinrec.Store that takes none: long enough for every
// retry of one request.
func (s *Store) ctx() (context.Context, context.CancelFunc) {
	total := time.Duration(s.cfg.retries+1)*s.cfg.timeout + time.Duration(s.cfg.retries)*s.cfg.backoffMax
	return context.WithTimeout(context.Background(), total)
}

func (s *Store) usable(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return nil
}

// Dim returns the vector dimension, 0 while unknown (an empty collection opened without
// WithDim: the first Add sets it).
func (s *Store) Dim() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dim
}

// Len returns the number of items, as Weaviate's aggregate count reports it (0 when the
// cluster cannot be reached; [Store.Count] returns the error).
func (s *Store) Len() int {
	ctx, cancel := s.ctx()
	defer cancel()
	n, _ := s.Count(ctx)
	return n
}

// Count returns the number of items in the collection.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.usable("count"); err != nil {
		return 0, err
	}
	var out struct {
		Aggregate map[string][]struct {
			Meta struct {
				Count int `json:"count"`
			} `json:"meta"`
		} `json:"Aggregate"`
	}
	q := fmt.Sprintf("{Aggregate{%s{meta{count}}}}", s.t.Collection)
	err := s.do(ctx, "count", func(ctx context.Context, n *node) error { return graphQL(ctx, n, q, &out) })
	if err != nil {
		return 0, err
	}
	if r := out.Aggregate[s.t.Collection]; len(r) > 0 {
		return r[0].Meta.Count, nil
	}
	return 0, nil
}

// Info returns a copy of the store-level info as read at Open and changed by SetInfo since.
func (s *Store) Info() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.info)
}

// SetInfo sets (or, with an empty value, deletes) a store-level info entry and writes the info
// object at once. A write that fails is retried by Close, which returns its error.
func (s *Store) SetInfo(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == "" {
		delete(s.info, key)
	} else {
		s.info[key] = value
	}
	ctx, cancel := s.ctx()
	defer cancel()
	s.infoErr = s.writeInfo(ctx)
}

// Close writes the info again if its last write failed, and makes later calls fail with
// [ErrClosed]. A second Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.infoErr != nil {
		ctx, cancel := s.ctx()
		defer cancel()
		if err := s.writeInfo(ctx); err != nil {
			return fmt.Errorf("close %s: %w", s.t, err)
		}
	}
	return nil
}

// Kind names the kind of store for `pinrec stats`: "weaviate".
func (s *Store) Kind() string { return "weaviate" }

// Target returns the parsed URL the store was opened with.
func (s *Store) Target() Target { return s.t }

// SetEf sets the HNSW search breadth (ef) of the collection for every client; -1 restores
// Weaviate's dynamic default (between 100 and 500, 8 times the limit). Weaviate has no per-query
// ef, which is why searches ignore pinrec.WithEffort.
func (s *Store) SetEf(ctx context.Context, ef int) error {
	class, err := s.getClass(ctx, s.t.Collection)
	if err != nil {
		return err
	}
	if class == nil {
		return fmt.Errorf("set ef: collection %s: %w", s.t.Collection, ErrNoCollection)
	}
	m, _ := class.VectorIndexConfig.(map[string]any)
	m["ef"] = ef
	return s.do(ctx, "set ef", func(ctx context.Context, n *node) error {
		return n.c.Schema().ClassUpdater().WithClass(class).Do(ctx)
	})
}

// Drop deletes the collection and its info object. The Store is unusable afterwards.
func (s *Store) Drop(ctx context.Context) error {
	err := s.do(ctx, "drop", func(ctx context.Context, n *node) error {
		err := n.c.Schema().ClassDeleter().WithClassName(s.t.Collection).Do(ctx)
		if isStatus(err, 404) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.do(ctx, "drop info", func(ctx context.Context, n *node) error {
		err := n.c.Data().Deleter().WithClassName(infoClass).WithID(string(ObjectID(s.t.Collection))).
			WithConsistencyLevel(string(s.cfg.write)).Do(ctx)
		if isStatus(err, 404) {
			return nil
		}
		return err
	})
}

// Stats describes the store for `pinrec stats` (which prints the item count, dimension and
// info itself): the hosts, the collection's distance, ef and replication factor, the
// consistency levels, the server version and each node's status.
func (s *Store) Stats() map[string]string {
	ctx, cancel := s.ctx()
	defer cancel()
	m := map[string]string{
		"hosts":             strings.Join(s.t.Hosts, ","),
		"collection":        s.t.Collection,
		"read_consistency":  string(s.cfg.read),
		"write_consistency": string(s.cfg.write),
	}
	if c, err := s.getClass(ctx, s.t.Collection); err != nil {
		m["error"] = err.Error()
	} else if c != nil {
		m["distance"] = classDistance(c)
		m["ef"] = classEf(c)
		m["replication_factor"] = strconv.Itoa(replicationFactor(c))
	}
	_ = s.do(ctx, "nodes", func(ctx context.Context, n *node) error {
		st, err := n.c.Cluster().NodesStatusGetter().WithClass(s.t.Collection).WithOutput("verbose").Do(ctx)
		if err != nil {
			return err
		}
		var parts []string
		for _, nd := range st.Nodes {
			parts = append(parts, nd.Name+":"+strOr(nd.Status))
			m["version"] = nd.Version
		}
		m["nodes"] = strings.Join(parts, " ")
		return nil
	})
	return m
}

func strOr(p *string) string {
	if p == nil {
		return "?"
	}
	return *p
}

// graphQL runs query q on node n and decodes its data into out.
func graphQL(ctx context.Context, n *node, q string, out any) error {
	resp, err := n.c.GraphQL().Raw().WithQuery(q).Do(ctx)
	if err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, 0, len(resp.Errors))
		for _, e := range resp.Errors {
			if e != nil {
				msgs = append(msgs, e.Message)
			}
		}
		return &remoteError{msg: strings.Join(msgs, "; ")}
	}
	b, err := json.Marshal(resp.Data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
