package engage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// UserItem is an item a user currently likes or has saved, with the times of the events that
// set those states (zero when the item is not liked, or not saved).
type UserItem struct {
	ID      string    `json:"id"`
	Liked   bool      `json:"liked"`
	Saved   bool      `json:"saved"`
	LikedAt time.Time `json:"liked_at,omitzero"`
	SavedAt time.Time `json:"saved_at,omitzero"`
}

// Latest returns the time of the item's most recent like or save.
func (u UserItem) Latest() time.Time {
	if u.SavedAt.After(u.LikedAt) {
		return u.SavedAt
	}
	return u.LikedAt
}

// UserItems returns the items user currently likes or has saved, most recent action first
// (ties by ID). A user without events has none. The time of a like or a save is that of the
// latest event on it, so saving a saved item again moves it to the front.
func (s *Store) UserItems(ctx context.Context, user string) ([]UserItem, error) {
	var out []UserItem
	err := s.use(func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT i.name, st.kind, st.t FROM state st JOIN users u ON u.id = st.user
			JOIN items i ON i.id = st.item WHERE u.name = ? AND st.on_ = 1`, user)
		if err != nil {
			return err
		}
		defer rows.Close()
		at := map[string]int{}
		for rows.Next() {
			var id string
			var kind int
			var t int64
			if err := rows.Scan(&id, &kind, &t); err != nil {
				return err
			}
			i, ok := at[id]
			if !ok {
				i = len(out)
				at[id] = i
				out = append(out, UserItem{ID: id})
			}
			if kind == kindSave {
				out[i].Saved, out[i].SavedAt = true, time.Unix(0, t).UTC()
			} else {
				out[i].Liked, out[i].LikedAt = true, time.Unix(0, t).UTC()
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("engage: user items: %w", err)
	}
	slices.SortFunc(out, func(a, b UserItem) int {
		if c := b.Latest().Compare(a.Latest()); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// PopularItem is an item with its current engagement.
type PopularItem struct {
	ID string `json:"id"`
	Counts
}

// Popular returns up to limit items with the most current saves, then the most engaged users,
// then by ID (limit <= 0: all engaged items).
func (s *Store) Popular(ctx context.Context, limit int) ([]PopularItem, error) {
	var out []PopularItem
	if limit <= 0 {
		limit = -1
	}
	err := s.read(ctx, "popular", func() error {
		rows, err := s.db.QueryContext(ctx, `SELECT i.name, c.likes, c.saves, c.users FROM counts c JOIN items i ON i.id = c.item
			WHERE c.users > 0 ORDER BY c.saves DESC, c.users DESC, i.name LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p PopularItem
			if err := rows.Scan(&p.ID, &p.Likes, &p.Saves, &p.Users); err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}
