package engage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserItemsAndPopular(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	_, err := s.Record(ctx,
		Event{User: "ann", Item: "a", Action: Save, Time: at(1)},
		Event{User: "ann", Item: "a", Action: Like, Time: at(5)},
		Event{User: "ann", Item: "b", Action: Like, Time: at(3)},
		Event{User: "ann", Item: "c", Action: Save, Time: at(4)},
		Event{User: "ann", Item: "c", Action: Unsave, Time: at(6)}, // gone
		Event{User: "bob", Item: "b", Action: Save, Time: at(2)},
		Event{User: "cy", Item: "b", Action: Save, Time: at(2)},
		Event{User: "cy", Item: "d", Action: Like, Time: at(2)},
	)
	require.NoError(t, err)
	items, err := s.UserItems(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, []UserItem{
		{ID: "a", Liked: true, Saved: true, LikedAt: at(5), SavedAt: at(1)},
		{ID: "b", Liked: true, LikedAt: at(3)},
	}, items, "most recent action first; an unsaved item is gone")
	assert.Equal(t, at(5), items[0].Latest())
	none, err := s.UserItems(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, none)

	pop, err := s.Popular(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, []PopularItem{
		{ID: "b", Counts: Counts{Likes: 1, Saves: 2, Users: 3}},
		{ID: "a", Counts: Counts{Likes: 1, Saves: 1, Users: 1}},
		{ID: "d", Counts: Counts{Likes: 1, Saves: 0, Users: 1}},
	}, pop)
	pop, err = s.Popular(ctx, 1)
	require.NoError(t, err)
	assert.Len(t, pop, 1)
	require.NoError(t, s.Close())
	_, err = s.UserItems(ctx, "ann")
	assert.ErrorIs(t, err, ErrClosed)
}
