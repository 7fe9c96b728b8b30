package ann_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"pinrec"
	"pinrec/ann"
)

// Build an approximate index over an exact one, search it, save it and open it again.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	ix, err := pinrec.NewIndex(64)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		v := make([]float32, 64)
		for j := range v {
			v[j] = rng.Float32()
		}
		if err := ix.Add(pinrec.Item{ID: fmt.Sprintf("pin-%d", i), Vector: v}); err != nil {
			log.Fatal(err)
		}
	}
	a, err := ann.Build(context.Background(), ix, ann.WithCodec(ann.CodecSQ8), ann.WithWorkers(2))
	if err != nil {
		log.Fatal(err)
	}
	q, _ := a.Get("pin-42")
	res, err := a.Search(context.Background(), q.Vector, 3, pinrec.WithEffort(100))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].ID, res[0].Distance)

	dir, _ := os.MkdirTemp("", "ann-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pins.idx")
	if err := a.Save(path); err != nil {
		log.Fatal(err)
	}
	s, err := pinrec.Open(path, pinrec.WithMmap()) // any kind; this one is "hnsw"
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st := s.(*ann.Index).Stats()
	fmt.Println(s.Len(), st["kind"], st["codec"], st["m"])
	// Output:
	// pin-42 0
	// 2000 hnsw sq8 32
}

// Build calibrates the default search for a target recall@10 on items it holds out of the
// graph, and records what it measured.
func ExampleIndex_Calibration() {
	rng := rand.New(rand.NewPCG(3, 4))
	ix, err := pinrec.NewIndex(32)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3000; i++ {
		v := make([]float32, 32)
		for j := range v {
			v[j] = rng.Float32()
		}
		if err := ix.Add(pinrec.Item{ID: fmt.Sprintf("pin-%d", i), Vector: v}); err != nil {
			log.Fatal(err)
		}
	}
	a, err := ann.Build(context.Background(), ix, ann.WithTargetRecall(0.9), ann.WithWorkers(1))
	if err != nil {
		log.Fatal(err)
	}
	c := a.Calibration()
	// 300 items held out: 100 chose efSearch, 200 measured its recall@10.
	fmt.Println("held-out items measuring the recall:", c.Queries)
	fmt.Println("target reached:", c.Recall >= c.Target)
	fmt.Println("default search uses it:", a.Stats()["ef_search"] == fmt.Sprint(c.EfSearch))
	// Output:
	// held-out items measuring the recall: 200
	// target reached: true
	// default search uses it: true
}
