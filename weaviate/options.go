package weaviate

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Consistency is a Weaviate consistency level: how many replicas must answer a read or
// acknowledge a write.
type Consistency string

// The consistency levels. With replication factor n, reads at level r and writes at level w
// see every acknowledged write when r + w > n (QUORUM reads after QUORUM writes).
const (
	One    Consistency = "ONE"
	Quorum Consistency = "QUORUM"
	All    Consistency = "ALL"
)

func (c Consistency) valid() bool { return c == One || c == Quorum || c == All }

// Option configures [Open].
type Option func(*config)

type config struct {
	dim         int
	replication int
	read, write Consistency
	timeout     time.Duration
	retries     int
	backoffMin  time.Duration
	backoffMax  time.Duration
	batchSize   int
	overFetch   int
}

func defaultConfig() config {
	return config{
		read:       Quorum,
		write:      Quorum,
		timeout:    15 * time.Second,
		retries:    8,
		backoffMin: 100 * time.Millisecond,
		backoffMax: 2 * time.Second,
		batchSize:  200,
		overFetch:  4,
	}
}

// WithDim sets the vector dimension. A missing collection is created only when it is given;
// an existing one whose dimension differs is refused with an error wrapping
// pinrec.ErrDimMismatch.
func WithDim(n int) Option { return func(c *config) { c.dim = n } }

// WithReplication sets the replication factor of a collection that Open creates (default 1).
// An existing collection with another factor is refused with [ErrCollectionMismatch].
func WithReplication(factor int) Option { return func(c *config) { c.replication = factor } }

// WithConsistency sets the consistency level of both reads and writes (default [Quorum]).
func WithConsistency(level Consistency) Option {
	return func(c *config) { c.read, c.write = level, level }
}

// WithReadConsistency sets the consistency level of searches, Get, Has and Info.
func WithReadConsistency(level Consistency) Option { return func(c *config) { c.read = level } }

// WithWriteConsistency sets the consistency level of Add, Remove and SetInfo.
func WithWriteConsistency(level Consistency) Option { return func(c *config) { c.write = level } }

// WithTimeout bounds each attempt of a request (default 15 s). A request that times out is
// retried like any other transient failure, on the next node.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithRetries sets how many times a request that failed transiently (connection refused or
// reset, timeout, HTTP 5xx or 429, not enough replicas) is tried again, on the next node each
// time, after a backoff that doubles from min to max with jitter (defaults 8, 100 ms, 2 s).
func WithRetries(n int, min, max time.Duration) Option {
	return func(c *config) { c.retries, c.backoffMin, c.backoffMax = n, min, max }
}

// WithBatchSize sets how many objects one Add or Remove request carries (default 200).
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// WithOverFetch sets the factor by which a search with a Go filter function
// (pinrec.WithFilter), which cannot run on the server, asks for more than k results before
// filtering them here (default 4; the request grows until k pass or the collection is
// exhausted).
func WithOverFetch(factor int) Option { return func(c *config) { c.overFetch = factor } }

func (c *config) check() error {
	switch {
	case c.dim < 0:
		return fmt.Errorf("dimension %d must be positive", c.dim)
	case c.replication < 0:
		return fmt.Errorf("replication factor %d must be positive", c.replication)
	case !c.read.valid():
		return fmt.Errorf("read consistency %q: want ONE, QUORUM or ALL", c.read)
	case !c.write.valid():
		return fmt.Errorf("write consistency %q: want ONE, QUORUM or ALL", c.write)
	case c.timeout <= 0:
		return fmt.Errorf("timeout %v must be positive", c.timeout)
	case c.retries < 0 || c.backoffMin < 0 || c.backoffMax < c.backoffMin:
		return fmt.Errorf("retries %d, backoff %v..%v: bad values", c.retries, c.backoffMin, c.backoffMax)
	case c.batchSize < 1:
		return fmt.Errorf("batch size %d must be positive", c.batchSize)
	case c.overFetch < 1:
		return fmt.Errorf("over-fetch factor %d must be positive", c.overFetch)
	}
	return nil
}

// Target is a parsed backend URL: the nodes to talk to, the collection, and the options its
// query string sets.
type Target struct {
	Hosts      []string // host:port of each node's REST API, tried in turn
	Collection string   // a Weaviate class name: a capital letter, then letters, digits, _
	Options    []Option // from the query string; Open applies them before its own options
	query      string
}

// ParseURL parses weaviate://HOST:PORT[,HOST:PORT...]/COLLECTION[?PARAMS]. Several hosts name
// nodes of one cluster: requests start on one and move to the next when a node fails (a host
// without a port means 8080). The collection name is a Weaviate class name (its first letter
// is upper-cased, as Weaviate does). PARAMS set options: replication=N ([WithReplication]),
// consistency=, read=, write= (ONE, QUORUM or ALL), timeout= (a Go duration such as 10s),
// retries=N.
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("weaviate url %q: %w", raw, err)
	}
	if u.Scheme != "weaviate" {
		return Target{}, fmt.Errorf("weaviate url %q: scheme must be weaviate://", raw)
	}
	var t Target
	for h := range strings.SplitSeq(u.Host, ",") {
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":8080"
		}
		t.Hosts = append(t.Hosts, h)
	}
	if len(t.Hosts) == 0 {
		return Target{}, fmt.Errorf("weaviate url %q: no host", raw)
	}
	name := strings.Trim(u.Path, "/")
	if !validClass(name) {
		return Target{}, fmt.Errorf("weaviate url %q: collection %q must be a letter followed by letters, digits or _", raw, name)
	}
	t.Collection = strings.ToUpper(name[:1]) + name[1:]
	t.query = u.RawQuery
	for key, vals := range u.Query() {
		v := vals[len(vals)-1]
		var o Option
		switch key {
		case "replication", "retries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return Target{}, fmt.Errorf("weaviate url %q: %s=%q: want a whole number", raw, key, v)
			}
			if key == "replication" {
				o = WithReplication(n)
			} else {
				o = func(c *config) { c.retries = n }
			}
		case "consistency", "read", "write":
			l := Consistency(strings.ToUpper(v))
			if !l.valid() {
				return Target{}, fmt.Errorf("weaviate url %q: %s=%q: want ONE, QUORUM or ALL", raw, key, v)
			}
			o = map[string]Option{"consistency": WithConsistency(l), "read": WithReadConsistency(l), "write": WithWriteConsistency(l)}[key]
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Target{}, fmt.Errorf("weaviate url %q: timeout=%q: want a duration such as 10s", raw, v)
			}
			o = WithTimeout(d)
		default:
			return Target{}, fmt.Errorf("weaviate url %q: unknown parameter %q (replication, consistency, read, write, timeout, retries)", raw, key)
		}
		t.Options = append(t.Options, o)
	}
	return t, nil
}

func validClass(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return true
}

// String gives the URL back.
func (t Target) String() string {
	u := "weaviate://" + strings.Join(t.Hosts, ",") + "/" + t.Collection
	if t.query != "" {
		u += "?" + t.query
	}
	return u
}
