package engage

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"time"
)

// Action is what a user did to an item.
type Action string

// The actions. Like and Unlike set and clear the user's like of an item; Save and Unsave its
// save. A save may name the board it went to.
const (
	Like   Action = "like"
	Unlike Action = "unlike"
	Save   Action = "save"
	Unsave Action = "unsave"
)

// ParseAction returns the action named s, or an error wrapping [ErrBadEvent].
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case Like, Unlike, Save, Unsave:
		return a, nil
	}
	return "", fmt.Errorf("%w: action %q: want like, save, unsave or unlike", ErrBadEvent, s)
}

// kind is the state an action sets: 0 like, 1 save; on reports whether it sets or clears it.
func (a Action) kind() (kind int, on bool) {
	switch a {
	case Like:
		return kindLike, true
	case Unlike:
		return kindLike, false
	case Save:
		return kindSave, true
	default:
		return kindSave, false
	}
}

const (
	kindLike = 0
	kindSave = 1
)

var actionCode = map[Action]int{Like: 0, Unlike: 1, Save: 2, Unsave: 3}
var codeAction = []Action{Like, Unlike, Save, Unsave}

// Event is one user action on one item. Board is optional. A zero Time means "now" (the
// store hands out strictly increasing times, so events recorded without a time apply in the
// order they are given).
type Event struct {
	User   string    `json:"user"`
	Item   string    `json:"item"`
	Action Action    `json:"action"`
	Board  string    `json:"board,omitempty"`
	Time   time.Time `json:"time"`
}

// Outcome counts what [Store.Record] did with each event.
//
// Duplicates are defined per (user, item, kind), kind being like (like/unlike) or save
// (save/unsave): the state of that triple is the one set by its latest event by Time (last
// writer wins, whatever order events arrive in).
//   - Applied: the event is newer than the triple's state and changes it (a save of an
//     unsaved pin); it is added to the history and the derived counts change.
//   - Unchanged: newer but changes nothing (a save of a saved pin, an unlike of a pin never
//     liked): only the state's time moves on; history and counts are untouched.
//   - Stale: not newer than the triple's state (an exact duplicate, or an event older than
//     one already applied): ignored.
//
// So recording the same events twice, or a file imported twice, changes nothing the second
// time.
type Outcome struct {
	Applied, Unchanged, Stale int
}

// Add sums two outcomes.
func (o Outcome) Add(p Outcome) Outcome {
	return Outcome{o.Applied + p.Applied, o.Unchanged + p.Unchanged, o.Stale + p.Stale}
}

// Record stores events in one transaction: all or none. When it returns nil the events are
// durable (on disk, synchronous=FULL). Every event is checked first: an empty user or item
// or an unknown action gives [ErrBadEvent], an item the known-items check refuses gives
// [ErrUnknownItem], and then nothing is written. Bulk imports should pass batches of a few
// hundred to a few thousand events: each call costs one disk sync.
func (s *Store) Record(ctx context.Context, events ...Event) (Outcome, error) {
	var out Outcome
	err := s.use(func() error {
		for i, e := range events {
			if err := s.check(e); err != nil {
				if len(events) > 1 {
					return fmt.Errorf("event %d: %w", i+1, err)
				}
				return err
			}
		}
		if len(events) == 0 {
			return nil
		}
		var r *recorder
		err := s.write(ctx, func(tx *sql.Tx) error {
			var err error
			if r, err = s.newRecorder(ctx, tx); err != nil {
				return err
			}
			defer r.close()
			for _, e := range events {
				o, err := r.apply(e)
				if err != nil {
					return err
				}
				out = out.Add(o)
			}
			if err := r.flush(); err != nil {
				return err
			}
			if s.cfg.derived == Deferred && out.Applied > 0 {
				if _, err := tx.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES ('stale', '1') ON CONFLICT(key) DO UPDATE SET value = '1'"); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			s.remember(r)
		}
		return err
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("engage: record: %w", err)
	}
	return out, nil
}

func (s *Store) check(e Event) error {
	if e.User == "" {
		return fmt.Errorf("%w: empty user", ErrBadEvent)
	}
	if e.Item == "" {
		return fmt.Errorf("%w: empty item", ErrBadEvent)
	}
	if _, err := ParseAction(string(e.Action)); err != nil {
		return err
	}
	if s.cfg.known != nil && !s.cfg.known(e.Item) {
		return fmt.Errorf("%w: %q is not in the index", ErrUnknownItem, e.Item)
	}
	return nil
}

// remember keeps the row IDs of the names a committed transaction used.
func (s *Store) remember(r *recorder) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.userIDs == nil {
		s.userIDs, s.itemIDs = map[string]int64{}, map[string]int64{}
	}
	maps.Copy(s.userIDs, r.users)
	maps.Copy(s.itemIDs, r.items)
}

// recorder applies events inside one write transaction with prepared statements.
type recorder struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	users map[string]int64
	items map[string]int64
	stmts map[string]*sql.Stmt

	// Derived deltas of the transaction, written by flush.
	counts map[int64]Counts // item -> change
	savers map[int64]int    // user -> change in saves
	sum    Summary          // change (Savers is computed by flush)
}

func (s *Store) newRecorder(ctx context.Context, tx *sql.Tx) (*recorder, error) {
	return &recorder{s: s, ctx: ctx, tx: tx, users: map[string]int64{}, items: map[string]int64{}, stmts: map[string]*sql.Stmt{},
		counts: map[int64]Counts{}, savers: map[int64]int{}}, nil
}

// flush writes the transaction's accumulated changes to counts, savers and summary.
func (r *recorder) flush() error {
	for iid, c := range r.counts {
		if c == (Counts{}) {
			continue
		}
		if err := r.exec(`INSERT INTO counts(item, likes, saves, users) VALUES (?, ?, ?, ?)
			ON CONFLICT(item) DO UPDATE SET likes = likes + excluded.likes, saves = saves + excluded.saves, users = users + excluded.users`,
			iid, c.Likes, c.Saves, c.Users); err != nil {
			return err
		}
		if c.Users < 0 {
			if err := r.exec("DELETE FROM counts WHERE item = ? AND users = 0", iid); err != nil {
				return err
			}
		}
	}
	st, err := r.stmt("INSERT INTO savers(user, saves) VALUES (?, ?) ON CONFLICT(user) DO UPDATE SET saves = saves + excluded.saves RETURNING saves")
	if err != nil {
		return err
	}
	for uid, d := range r.savers {
		if d == 0 {
			continue
		}
		var now int
		if err := st.QueryRowContext(r.ctx, uid, d).Scan(&now); err != nil {
			return err
		}
		switch was := now - d; {
		case was == 0 && now > 0:
			r.sum.Savers++
		case was > 0 && now == 0:
			r.sum.Savers--
			if err := r.exec("DELETE FROM savers WHERE user = ?", uid); err != nil {
				return err
			}
		}
	}
	if r.sum == (Summary{}) {
		return nil
	}
	return r.exec("UPDATE summary SET savers = savers + ?, saves = saves + ?, likes = likes + ?, engaged = engaged + ?",
		r.sum.Savers, r.sum.Saves, r.sum.Likes, r.sum.Engaged)
}

func (r *recorder) close() {
	for _, st := range r.stmts {
		st.Close()
	}
}

func (r *recorder) stmt(q string) (*sql.Stmt, error) {
	if st, ok := r.stmts[q]; ok {
		return st, nil
	}
	st, err := r.tx.PrepareContext(r.ctx, q)
	if err != nil {
		return nil, err
	}
	r.stmts[q] = st
	return st, nil
}

func (r *recorder) exec(q string, args ...any) error {
	st, err := r.stmt(q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(r.ctx, args...)
	return err
}

// intern returns the row ID of name in table users or items, adding it if new.
func (r *recorder) intern(table string, cache map[string]int64, name string) (int64, error) {
	if id, ok := cache[name]; ok {
		return id, nil
	}
	known := r.s.userIDs
	if table == "items" {
		known = r.s.itemIDs
	}
	if id, ok := known[name]; ok {
		return id, nil
	}
	st, err := r.stmt("SELECT id FROM " + table + " WHERE name = ?")
	if err != nil {
		return 0, err
	}
	var id int64
	err = st.QueryRowContext(r.ctx, name).Scan(&id)
	if err == sql.ErrNoRows {
		st, err = r.stmt("INSERT INTO " + table + "(name) VALUES (?) RETURNING id")
		if err != nil {
			return 0, err
		}
		err = st.QueryRowContext(r.ctx, name).Scan(&id)
	}
	if err != nil {
		return 0, err
	}
	cache[name] = id
	return id, nil
}

// eventTime returns e's time in Unix ns, handing out a strictly increasing "now" for zero times.
func (r *recorder) eventTime(e Event) int64 {
	if !e.Time.IsZero() {
		return e.Time.UnixNano()
	}
	t := r.s.cfg.now().UnixNano()
	if t <= r.s.lastT {
		t = r.s.lastT + 1
	}
	r.s.lastT = t
	return t
}

func (r *recorder) apply(e Event) (Outcome, error) {
	uid, err := r.intern("users", r.users, e.User)
	if err != nil {
		return Outcome{}, err
	}
	iid, err := r.intern("items", r.items, e.Item)
	if err != nil {
		return Outcome{}, err
	}
	t := r.eventTime(e)
	kind, on := e.Action.kind()
	st, err := r.stmt("SELECT on_, t FROM state WHERE user = ? AND kind = ? AND item = ?")
	if err != nil {
		return Outcome{}, err
	}
	var curOn bool
	var curT int64
	switch err := st.QueryRowContext(r.ctx, uid, kind, iid).Scan(&curOn, &curT); {
	case err == sql.ErrNoRows:
	case err != nil:
		return Outcome{}, err
	case t <= curT:
		return Outcome{Stale: 1}, nil
	}
	if err := r.exec(`INSERT INTO state(user, kind, item, on_, t, board) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(user, kind, item) DO UPDATE SET on_ = excluded.on_, t = excluded.t,
		board = CASE WHEN excluded.on_ = on_ THEN board ELSE excluded.board END`, uid, kind, iid, on, t, e.Board); err != nil {
		return Outcome{}, err
	}
	if on == curOn {
		return Outcome{Unchanged: 1}, nil
	}
	if err := r.exec("INSERT INTO events(user, item, action, board, t) VALUES (?, ?, ?, ?, ?)", uid, iid, actionCode[e.Action], e.Board, t); err != nil {
		return Outcome{}, err
	}
	if r.s.cfg.derived == Incremental {
		if err := r.derive(uid, iid, kind, on); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Applied: 1}, nil
}

// derive updates counts and co for a (user, item, kind) state that just flipped to on.
func (r *recorder) derive(uid, iid int64, kind int, on bool) error {
	st, err := r.stmt("SELECT on_ FROM state WHERE user = ? AND kind = ? AND item = ?")
	if err != nil {
		return err
	}
	var otherOn bool
	if err := st.QueryRowContext(r.ctx, uid, 1-kind, iid).Scan(&otherOn); err != nil && err != sql.ErrNoRows {
		return err
	}
	d := 1
	if !on {
		d = -1
	}
	dl, ds, du := 0, 0, 0
	if kind == kindLike {
		dl = d
	} else {
		ds = d
	}
	if !otherOn {
		du = d
	}
	c := r.counts[iid]
	c.Likes += dl
	c.Saves += ds
	c.Users += du
	r.counts[iid] = c
	r.sum.Likes += dl
	r.sum.Saves += ds
	r.sum.Engaged += du
	if kind != kindSave {
		return nil
	}
	r.savers[uid] += d
	const others = "SELECT item FROM state WHERE user = ?1 AND kind = 1 AND on_ = 1 AND item <> ?2"
	if on {
		if err := r.exec("INSERT INTO co(a, b, n) SELECT ?2, item, 1 FROM state WHERE user = ?1 AND kind = 1 AND on_ = 1 AND item <> ?2 ON CONFLICT(a, b) DO UPDATE SET n = n + 1", uid, iid); err != nil {
			return err
		}
		return r.exec("INSERT INTO co(a, b, n) SELECT item, ?2, 1 FROM state WHERE user = ?1 AND kind = 1 AND on_ = 1 AND item <> ?2 ON CONFLICT(a, b) DO UPDATE SET n = n + 1", uid, iid)
	}
	for _, q := range []string{
		"UPDATE co SET n = n - 1 WHERE a = ?2 AND b IN (" + others + ")",
		"UPDATE co SET n = n - 1 WHERE b = ?2 AND a IN (" + others + ")",
		"DELETE FROM co WHERE a = ?2 AND n <= 0",
		"DELETE FROM co WHERE b = ?2 AND n <= 0 AND a IN (" + others + ")",
	} {
		if err := r.exec(q, uid, iid); err != nil {
			return err
		}
	}
	return nil
}
