package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"pinrec"
	"pinrec/ann"
	"pinrec/internal/synth"
)

// The approximate-index phase of bench-serve (run.sh with BENCH_ANN_N, BENCH_ANN_FILE or
// BENCH_ANN_DIR): `pinrec serve` on an hnsw index file, measured from the process's start to
// its first answer, then `similar` requests from several clients.

// modelInfo is the index-level metadata `pinrec index` records for the model in dir (the keys
// of examples/cli/embedding.go's embeddingInfo), which `pinrec serve` checks against the model
// it opens. An index of synthetic vectors needs it to be served.
func modelInfo(dir string) (map[string]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mi, err := pinrec.ReadModelInfo(abs)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return map[string]string{
		"embedding":  "model",
		"model":      abs,
		"weights":    mi.Weights,
		"pretrained": strconv.FormatBool(mi.Pretrained),
		"dim":        strconv.Itoa(mi.Dim),
		"input_size": strconv.Itoa(mi.InputSize),
		"mode":       mi.Mode.String(),
		"tensorflow": mi.TensorFlowVersion,
		"keras":      mi.KerasVersion,
	}, nil
}

// prepareANN writes out, an hnsw index file stamped with the model's metadata: from a
// bench-ann folder (annDir: exact.idx and ann.idx, kept by BENCH_KEEP=1), or else n synthetic
// vectors of the model's dimension (package internal/synth, CNN-shaped, IDs s0, s1, ...)
// built with ann.Build's defaults on 2 workers. It also writes out+".ids", one ID a line.
func prepareANN(out, annDir, modelDir string, n int, seed uint64) error {
	info, err := modelInfo(modelDir)
	if err != nil {
		return err
	}
	d, _ := strconv.Atoi(info["dim"])
	var a *ann.Index
	t0 := time.Now()
	if annDir != "" {
		ix, err := pinrec.Load(filepath.Join(annDir, "exact.idx"), pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
		if err != nil {
			return err
		}
		if ix.Dim() != d {
			return fmt.Errorf("%s: dimension %d, the model's %d", annDir, ix.Dim(), d)
		}
		sec, err := os.ReadFile(filepath.Join(annDir, "ann.idx"))
		if err != nil {
			return err
		}
		if a, err = ann.Unmarshal(sec, ix); err != nil {
			return err
		}
	} else {
		if n < 1 {
			return fmt.Errorf("-ann-n %d: want at least 1", n)
		}
		s := synth.New(seed, d, 12, 40)
		ix, err := pinrec.NewIndex(d, pinrec.WithCapacity(n))
		if err != nil {
			return err
		}
		for lo := 0; lo < n; lo += 10000 {
			items := make([]pinrec.Item, 0, 10000)
			for i := lo; i < min(lo+10000, n); i++ {
				items = append(items, pinrec.Item{ID: fmt.Sprint("s", i), Vector: s.Draw()})
			}
			if err := ix.Add(items...); err != nil {
				return err
			}
		}
		if a, err = ann.Build(context.Background(), ix, ann.WithWorkers(2)); err != nil {
			return err
		}
	}
	for k, v := range info {
		a.SetInfo(k, v)
	}
	if err := a.Save(out); err != nil {
		return err
	}
	ids := a.IDs()
	f, err := os.Create(out + ".ids")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st := a.Stats()
	fmt.Printf("benchserve: %s: %d items x %d, efSearch %s (recall@10 %s measured at build), %.1f s to prepare\n",
		out, len(ids), d, st["ef_search"], st["recall_at_10"], time.Since(t0).Seconds())
	return nil
}

var listening = regexp.MustCompile(` on (http://127\.0\.0\.1:[0-9]+)/ `)

// serveANN starts `bin serve -index index` on a free loopback port, measures the time from the
// process's start to its first successful `similar` answer, then runs clients clients sending
// GET /api/similar/{id}?k=k for duration, and stops the server with SIGTERM. IDs come from
// index+".ids" (prepareANN), else the first pages of the server's item list.
func serveANN(bin, index string, clients int, duration time.Duration, k int, seed uint64) error {
	ids, _ := readLines(index + ".ids")
	t0 := time.Now()
	cmd := exec.Command(bin, "serve", "-index", index, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
			if !sent {
				fmt.Fprintln(os.Stderr, "  serve:", sc.Text())
			}
		}
		io.Copy(io.Discard, stderr)
		if !sent {
			close(addr)
		}
	}()
	var base string
	select {
	case a, ok := <-addr:
		if !ok {
			return fmt.Errorf("pinrec serve exited before listening")
		}
		base = a
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("pinrec serve did not listen within 10 minutes")
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	if len(ids) == 0 {
		if ids, err = someIDs(hc, base, 20); err != nil {
			return err
		}
	}
	similar := func(id string) (time.Duration, error) {
		t := time.Now()
		resp, err := hc.Get(fmt.Sprintf("%s/api/similar/%s?k=%d", base, url.PathEscape(id), k))
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s", resp.Status)
		}
		return time.Since(t), err
	}
	for {
		if _, err := similar(ids[0]); err == nil {
			break
		} else if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("no answer within 10 minutes: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Since(t0)
	fmt.Printf("benchserve: pinrec serve answered its first similar request %.2f s after it started (%d IDs known); %d clients for %v, k=%d\n",
		start.Seconds(), len(ids), clients, duration, k)

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	var wg sync.WaitGroup
	t1 := time.Now()
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			for ctx.Err() == nil {
				d, err := similar(ids[r.IntN(len(ids))])
				if err != nil {
					errs[c]++
					continue
				}
				lat[c] = append(lat[c], d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t1)
	var all []time.Duration
	nerr := 0
	for c := range clients {
		all = append(all, lat[c]...)
		nerr += errs[c]
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	cmd.Process.Signal(syscall.SIGTERM)
	werr := cmd.Wait()
	cmd.Process = nil
	fmt.Printf("similar: %d requests, %.1f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors; server exit after SIGTERM: %v\n",
		len(all)+nerr, float64(len(all)+nerr)/elapsed.Seconds(), pct(all, 0.5), pct(all, 0.99), pct(all, 1), nerr, werr)
	fmt.Printf("serve_ann_items=%d\nserve_ann_start_s=%.2f\nserve_ann_similar_p50_ms=%.2f\nserve_ann_similar_p99_ms=%.2f\nserve_ann_similar_rps=%.1f\nserve_ann_errors=%d\n",
		len(ids), start.Seconds(), pct(all, 0.5), pct(all, 0.99), float64(len(all))/elapsed.Seconds(), nerr)
	return nil
}

// someIDs reads up to pages pages of 500 IDs from the server's item list.
func someIDs(hc *http.Client, base string, pages int) ([]string, error) {
	return allIDsUpTo(hc, base, pages*500)
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			out = append(out, t)
		}
	}
	return out, sc.Err()
}
