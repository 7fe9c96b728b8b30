package engage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Counts are an item's current engagement: users who like it, users who saved it, and users
// who did either.
type Counts struct {
	Likes int `json:"likes"`
	Saves int `json:"saves"`
	Users int `json:"users"`
}

// CoItem is an item co-saved with another: Users is the number of users who currently have
// both saved.
type CoItem struct {
	ID    string `json:"id"`
	Users int    `json:"users"`
}

// Totals summarise a store.
type Totals struct {
	Events int `json:"events"` // applied events in the history
	Users  int `json:"users"`  // users with at least one event
	Savers int `json:"savers"` // users who currently have at least one save
	Items  int `json:"items"`  // items currently liked or saved by someone
	Likes  int `json:"likes"`  // current (user, item) likes
	Saves  int `json:"saves"`  // current (user, item) saves
	Pairs  int `json:"pairs"`  // co-saved item pairs (each unordered pair once)
}

// fresh rebuilds the derived tables if a Deferred store left them stale.
func (s *Store) fresh(ctx context.Context) error {
	if s.cfg.derived != Deferred {
		return nil
	}
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'stale'").Scan(&v)
	if err == sql.ErrNoRows || (err == nil && v != "1") {
		return nil
	}
	if err != nil {
		return err
	}
	return s.rebuild(ctx)
}

// Rebuild recomputes the per-item counts and the co-engagement table from the per-user
// state in one transaction. Incremental stores never need it (their tables are always
// current; tests use it as the oracle); Deferred stores run it on the first read after
// writes.
func (s *Store) Rebuild(ctx context.Context) error {
	err := s.use(func() error { return s.rebuild(ctx) })
	if err != nil {
		return fmt.Errorf("engage: rebuild: %w", err)
	}
	return nil
}

func (s *Store) rebuild(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			"DELETE FROM counts",
			"DELETE FROM co",
			`INSERT INTO counts(item, likes, saves, users)
			 SELECT item, sum(kind = 0), sum(kind = 1), count(DISTINCT user) FROM state WHERE on_ = 1 GROUP BY item`,
			`INSERT INTO co(a, b, n)
			 SELECT x.item, y.item, count(*) FROM state x JOIN state y ON y.user = x.user AND y.kind = 1 AND y.on_ = 1 AND y.item <> x.item
			 WHERE x.kind = 1 AND x.on_ = 1 GROUP BY x.item, y.item`,
			"DELETE FROM savers",
			"INSERT INTO savers(user, saves) SELECT user, count(*) FROM state WHERE kind = 1 AND on_ = 1 GROUP BY user",
			`UPDATE summary SET savers = (SELECT count(*) FROM savers),
			 saves = (SELECT coalesce(sum(saves), 0) FROM counts), likes = (SELECT coalesce(sum(likes), 0) FROM counts),
			 engaged = (SELECT coalesce(sum(users), 0) FROM counts)`,
			"INSERT INTO meta(key, value) VALUES ('stale', '0') ON CONFLICT(key) DO UPDATE SET value = '0'",
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// read runs f on a fresh store.
func (s *Store) read(ctx context.Context, op string, f func() error) error {
	err := s.use(func() error {
		if err := s.fresh(ctx); err != nil {
			return err
		}
		return f()
	})
	if err != nil {
		return fmt.Errorf("engage: %s: %w", op, err)
	}
	return nil
}

// ItemCounts returns the counts of the given items; items without engagement are absent
// from the map.
func (s *Store) ItemCounts(ctx context.Context, ids ...string) (map[string]Counts, error) {
	out := make(map[string]Counts, len(ids))
	err := s.read(ctx, "item counts", func() error {
		const chunk = 500
		for lo := 0; lo < len(ids); lo += chunk {
			part := ids[lo:min(lo+chunk, len(ids))]
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			rows, err := s.db.QueryContext(ctx, `SELECT i.name, c.likes, c.saves, c.users FROM items i JOIN counts c ON c.item = i.id
				WHERE i.name IN (`+placeholders(len(part))+")", args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var c Counts
				if err := rows.Scan(&id, &c.Likes, &c.Saves, &c.Users); err != nil {
					rows.Close()
					return err
				}
				out[id] = c
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// CoSaved returns up to limit items that users who saved id also saved, most co-saves
// first (ties by ID); limit <= 0 means all.
func (s *Store) CoSaved(ctx context.Context, id string, limit int) ([]CoItem, error) {
	var out []CoItem
	if limit <= 0 {
		limit = -1
	}
	err := s.read(ctx, "co-saved", func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT j.name, co.n FROM items i JOIN co ON co.a = i.id JOIN items j ON j.id = co.b
			WHERE i.name = ? ORDER BY co.n DESC, j.name LIMIT ?`, id, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c CoItem
			if err := rows.Scan(&c.ID, &c.Users); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Summary holds the sums the ranking's priors need; reading it costs one row.
type Summary struct {
	Savers  int `json:"savers"`  // users who currently have at least one save
	Saves   int `json:"saves"`   // current (user, item) saves
	Likes   int `json:"likes"`   // current (user, item) likes
	Engaged int `json:"engaged"` // current (user, item) pairs liked or saved
}

// Summary returns the store's sums (maintained with the derived tables).
func (s *Store) Summary(ctx context.Context) (Summary, error) {
	var m Summary
	err := s.read(ctx, "summary", func() error {
		return s.db.QueryRowContext(ctx, "SELECT savers, saves, likes, engaged FROM summary WHERE id = 0").Scan(&m.Savers, &m.Saves, &m.Likes, &m.Engaged)
	})
	return m, err
}

// Totals returns the store's summary counts.
func (s *Store) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := s.read(ctx, "totals", func() error {
		return s.db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM events),
			(SELECT count(*) FROM users),
			(SELECT count(DISTINCT user) FROM state WHERE kind = 1 AND on_ = 1),
			(SELECT count(*) FROM counts),
			(SELECT coalesce(sum(likes), 0) FROM counts),
			(SELECT coalesce(sum(saves), 0) FROM counts),
			(SELECT count(*) FROM co) / 2`).Scan(&t.Events, &t.Users, &t.Savers, &t.Items, &t.Likes, &t.Saves, &t.Pairs)
	})
	return t, err
}

// UserState reports whether user currently likes and has saved item.
func (s *Store) UserState(ctx context.Context, user, item string) (liked, saved bool, err error) {
	err = s.read(ctx, "user state", func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT st.kind FROM state st JOIN users u ON u.id = st.user JOIN items i ON i.id = st.item
			WHERE u.name = ? AND i.name = ? AND st.on_ = 1`, user, item)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k int
			if err := rows.Scan(&k); err != nil {
				return err
			}
			liked = liked || k == kindLike
			saved = saved || k == kindSave
		}
		return rows.Err()
	})
	return liked, saved, err
}

// Logged is an applied event from the history, with its position.
type Logged struct {
	Seq int64
	Event
}

// History returns up to limit applied events with a position after afterSeq, in commit
// order (limit <= 0: all).
func (s *Store) History(ctx context.Context, afterSeq int64, limit int) ([]Logged, error) {
	var out []Logged
	if limit <= 0 {
		limit = -1
	}
	err := s.use(func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT e.seq, u.name, i.name, e.action, e.board, e.t FROM events e
			JOIN users u ON u.id = e.user JOIN items i ON i.id = e.item WHERE e.seq > ? ORDER BY e.seq LIMIT ?`, afterSeq, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l Logged
			var code int
			var t int64
			if err := rows.Scan(&l.Seq, &l.User, &l.Item, &code, &l.Board, &t); err != nil {
				return err
			}
			if code < 0 || code >= len(codeAction) {
				return fmt.Errorf("%w: action code %d", ErrSchema, code)
			}
			l.Action = codeAction[code]
			l.Time = time.Unix(0, t).UTC()
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("engage: history: %w", err)
	}
	return out, nil
}
