package main

import (
	"context"
	"fmt"
	"image"

	"pinrec"
	"pinrec/internal/fashionmnist"
)

// loadFashion reads the 10,000 Fashion-MNIST test images from dir and embeds them with the
// raw-pixel embedding of pinrec index -embedding pixels (16x16 RGB, 768 values), the one
// make bench-hybrid uses. IDs are CLASS/NNNNN.png as examples/fashionmnist writes them.
func loadFashion(ctx context.Context, dir string) (*pinrec.Index, error) {
	m, labels, err := fashionmnist.Load(dir, fashionmnist.Test)
	if err != nil {
		return nil, err
	}
	n := m.N
	enc, err := pinrec.NewPixelEmbedder(16)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	ix, err := pinrec.NewIndex(enc.Info().Dim)
	if err != nil {
		return nil, err
	}
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		var imgs []image.Image
		for i := lo; i < min(lo+batch, n); i++ {
			imgs = append(imgs, m.Gray(i))
		}
		vecs, err := enc.Embed(ctx, imgs...)
		if err != nil {
			return nil, err
		}
		for j, v := range vecs {
			i := lo + j
			id := fmt.Sprintf("%s/%05d.png", fashionmnist.Classes[labels[i]], i)
			if err := ix.Add(pinrec.Item{ID: id, Vector: v}); err != nil {
				return nil, err
			}
		}
	}
	return ix, nil
}
