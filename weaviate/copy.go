package weaviate

import (
	"context"
	"fmt"
	"maps"

	"pinrec"
)

// Push copies every item of src into dst (replacing items with the same ID) in batches, and
// src's info into dst's. progress, if not nil, is called after each batch with the number
// copied so far. Items already in dst and not in src are left alone.
func Push(ctx context.Context, src pinrec.Store, dst *Store, progress func(done, total int)) error {
	ids := src.IDs()
	batch := make([]pinrec.Item, 0, dst.cfg.batchSize)
	flush := func(done int) error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.AddContext(ctx, batch...); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		batch = batch[:0]
		if progress != nil {
			progress(done, len(ids))
		}
		return nil
	}
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		it, err := src.Get(id)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		batch = append(batch, it)
		if len(batch) == cap(batch) {
			if err := flush(i + 1); err != nil {
				return err
			}
		}
	}
	if err := flush(len(ids)); err != nil {
		return err
	}
	for k, v := range src.Info() {
		dst.SetInfo(k, v)
	}
	dst.mu.Lock()
	err := dst.infoErr
	dst.mu.Unlock()
	if err != nil {
		return fmt.Errorf("push info: %w", err)
	}
	return nil
}

// Pull copies every item of src into dst (replacing items with the same ID), and src's info
// into dst's. progress, if not nil, is called after each page of 500.
func Pull(ctx context.Context, src *Store, dst pinrec.Store, progress func(done int)) error {
	done := 0
	var page []pinrec.Item
	flush := func() error {
		if err := dst.Add(page...); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		done += len(page)
		page = page[:0]
		if progress != nil {
			progress(done)
		}
		return nil
	}
	err := src.Scan(ctx, true, func(it pinrec.Item) error {
		page = append(page, it)
		if len(page) == 500 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if len(page) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	for k, v := range maps.All(src.Info()) {
		dst.SetInfo(k, v)
	}
	return nil
}
