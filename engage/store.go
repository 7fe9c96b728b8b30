package engage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// Sentinel errors; compare with errors.Is.
var (
	// ErrUnknownItem: an event names an item ID that the store's known-items check refuses
	// (the item is not in the index).
	ErrUnknownItem = errors.New("engage: unknown item")
	// ErrBadEvent: an event has no user, no item, or an action other than like, save,
	// unsave and unlike.
	ErrBadEvent = errors.New("engage: bad event")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("engage: store closed")
	// ErrSchema: the database file was written by a newer version of this package, or is
	// not an engagement store.
	ErrSchema = errors.New("engage: unsupported database schema")
)

// schemaVersion is PRAGMA user_version of a database this package writes.
const schemaVersion = 1

// DefaultBusyTimeout is how long a write waits for another process's write transaction
// before it fails with SQLITE_BUSY.
const DefaultBusyTimeout = 10 * time.Second

// PathFor returns the engagement database path that goes with an index file:
// INDEX.engage.db next to it (demo/index.pinrec -> demo/index.pinrec.engage.db).
func PathFor(indexPath string) string { return indexPath + ".engage.db" }

// Derived says how the per-item counts and the co-engagement table follow the events.
type Derived int

const (
	// Incremental (the default) updates counts and co-engagement inside the transaction
	// that records the events: reads are always current. Measured cost: see README
	// (make bench-hybrid prints both modes' write rates).
	Incremental Derived = iota
	// Deferred records only the events and the per-user state; the derived tables are
	// marked stale and rebuilt from the state (one SQL pass, [Store.Rebuild]) by the first
	// read that needs them. For bulk loads followed by reads.
	Deferred
)

// Option configures [Open].
type Option func(*config)

type config struct {
	known       func(id string) bool
	busyTimeout time.Duration
	sync        string
	derived     Derived
	now         func() time.Time
}

// WithKnownItems makes the store refuse, with [ErrUnknownItem], events on items for which
// known returns false. Pass the index's Has method (pinrec.Store.Has). known must be safe for
// concurrent use. Without it every item ID is accepted.
func WithKnownItems(known func(id string) bool) Option {
	return func(c *config) { c.known = known }
}

// WithBusyTimeout sets how long a write waits for another process's write transaction
// (default [DefaultBusyTimeout]).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithDerived chooses how the derived tables follow the events (default [Incremental]).
func WithDerived(d Derived) Option {
	return func(c *config) { c.derived = d }
}

// WithSynchronousNormal trades durability on power loss for write speed: SQLite's
// synchronous=NORMAL in WAL mode does not sync the log on every commit, so a committed event
// survives the death of the process but not a crash of the machine. The default is FULL:
// every acknowledged write is on disk.
func WithSynchronousNormal() Option {
	return func(c *config) { c.sync = "NORMAL" }
}

// withClock replaces time.Now for events without a time (tests).
func withClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// Store is a durable record of users' likes and saves, kept in one SQLite database file
// (WAL mode, synchronous=FULL, so an event is on disk when [Store.Record] returns), with
// per-item counts and item-to-item co-engagement derived from it.
//
// A Store is safe for concurrent use by multiple goroutines: writes are serialised inside
// the process, reads run concurrently with each other and with a write (WAL readers see the
// last committed transaction). Several processes may open the same file; a write waits up to
// the busy timeout for another process's write.
type Store struct {
	db   *sql.DB
	path string
	cfg  config

	wmu   sync.Mutex // serialises this process's write transactions
	lastT int64      // the latest time handed to an event without one (under wmu)
	// Row IDs of user and item names seen in committed transactions (under wmu): names are
	// never renumbered, so each is looked up in the database once per process.
	userIDs, itemIDs map[string]int64
	mu               sync.RWMutex
	closed           bool
}

// Open opens or creates the engagement database at path (see [PathFor]).
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: DefaultBusyTimeout, sync: "FULL", now: time.Now}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if path == "" {
		return nil, fmt.Errorf("engage: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("engage: open %s: %w", path, err)
	}
	if dir := filepath.Dir(abs); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("engage: open %s: folder %s does not exist", path, dir)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+cfg.sync+")")
	q.Add("_pragma", "foreign_keys(OFF)")
	q.Add("_pragma", "cache_size(-32768)") // 32 MiB per connection: a batch's pages stay in memory until commit
	q.Set("_txlock", "immediate")          // a write transaction takes the write lock when it begins: no upgrade deadlocks
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("engage: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, cfg: cfg}
	if err := s.init(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("engage: open %s: %w", path, err)
	}
	return s, nil
}

// Path returns the database file's path as given to Open.
func (s *Store) Path() string { return s.path }

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// use runs f unless the store is closed, holding off Close until f returns.
func (s *Store) use(f func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return f()
}

const schema = `
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- The current state of each (user, item, kind): kind 0 = like, 1 = save; on = 1 while liked/saved;
-- t = the time (Unix ns) of the latest event applied to it.
CREATE TABLE IF NOT EXISTS state (
	user INTEGER NOT NULL, kind INTEGER NOT NULL, item INTEGER NOT NULL,
	on_ INTEGER NOT NULL, t INTEGER NOT NULL, board TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user, kind, item)) WITHOUT ROWID;
-- Every applied event, in commit order: the history.
CREATE TABLE IF NOT EXISTS events (
	seq INTEGER PRIMARY KEY, user INTEGER NOT NULL, item INTEGER NOT NULL,
	action INTEGER NOT NULL, board TEXT NOT NULL DEFAULT '', t INTEGER NOT NULL);
-- Derived: per item, users liking it, users saving it, users doing either.
CREATE TABLE IF NOT EXISTS counts (
	item INTEGER PRIMARY KEY, likes INTEGER NOT NULL, saves INTEGER NOT NULL, users INTEGER NOT NULL);
-- Derived: n = users who save both a and b (a != b; both directions stored).
CREATE TABLE IF NOT EXISTS co (
	a INTEGER NOT NULL, b INTEGER NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY (a, b)) WITHOUT ROWID;
-- Derived: per user, the items saved now (rows with saves > 0 only).
CREATE TABLE IF NOT EXISTS savers (user INTEGER PRIMARY KEY, saves INTEGER NOT NULL);
-- Derived: one row of sums: users with a save, saves, likes, engaged (user, item) pairs.
CREATE TABLE IF NOT EXISTS summary (
	id INTEGER PRIMARY KEY CHECK (id = 0), savers INTEGER NOT NULL, saves INTEGER NOT NULL,
	likes INTEGER NOT NULL, engaged INTEGER NOT NULL);
INSERT OR IGNORE INTO summary VALUES (0, 0, 0, 0, 0);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("%w: version %d, this package reads up to %d", ErrSchema, version, schemaVersion)
	}
	if version == schemaVersion {
		return nil
	}
	if version == 0 {
		// A fresh file, or someone else's SQLite database: refuse one holding other tables.
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('users','items','state','events','counts','co','savers','summary','meta')").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the file holds other tables", ErrSchema)
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// write runs f in one write transaction, committed when f returns nil.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
