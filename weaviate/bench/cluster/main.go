// Command benchcluster compares a Weaviate cluster, through pinrec's backend, with pinrec's
// exact Index on the same synthetic embeddings, then kills a node under load. `make
// bench-cluster` runs it (bench/cluster/run.sh starts and stops the cluster).
//
// It prints the HNSW recall at 10 against the exact top 10 (at Weaviate's default ef, and a
// sweep), single-query searches per second from concurrent clients, the batched ingest rate,
// each node's resident memory, and ends with name=value lines.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pinrec"
	"pinrec/weaviate"
	"pinrec/weaviate/internal/chaos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcluster:", err)
		os.Exit(1)
	}
}

type options struct {
	data, clusterDir, script, hosts, collection   string
	n, nq, k, clients, qpsSearches, ingestClients int
	sweep                                         string
}

func run() error {
	var o options
	flag.StringVar(&o.data, "data", "", "synth_embeddings.py output folder (base.f32, queries.f32, meta.json)")
	flag.IntVar(&o.n, "n", 100000, "base vectors to use (the first n)")
	flag.IntVar(&o.nq, "nq", 200, "queries for the recall (the first nq)")
	flag.IntVar(&o.k, "k", 10, "neighbours")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients for the search rate")
	flag.IntVar(&o.qpsSearches, "searches", 1000, "single-query searches for the search rate")
	flag.IntVar(&o.ingestClients, "ingest-clients", 2, "concurrent batch writers")
	flag.StringVar(&o.sweep, "ef", "16,32,64,128,256,512", "ef values of the recall sweep")
	flag.StringVar(&o.clusterDir, "cluster", "", "tools/weaviate.sh cluster folder (node PIDs, kill/restart)")
	flag.StringVar(&o.script, "script", "tools/weaviate.sh", "path of tools/weaviate.sh")
	flag.StringVar(&o.hosts, "hosts", "", "comma-separated host:port of the nodes (WEAVIATE_HTTP)")
	flag.StringVar(&o.collection, "collection", "BenchSynth", "collection name (dropped and recreated)")
	flag.Parse()
	if o.data == "" || o.hosts == "" || o.clusterDir == "" {
		return fmt.Errorf("-data, -hosts and -cluster are required")
	}
	ctx := context.Background()
	var meta struct {
		N, NQ, D int
	}
	b, err := os.ReadFile(filepath.Join(o.data, "meta.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("meta.json: %w", err)
	}
	dim := meta.D
	o.n = min(o.n, meta.N)
	o.nq = min(o.nq, meta.NQ)
	fmt.Printf("data: %s, n=%d of %d, nq=%d, d=%d; cluster %s; load %s\n", o.data, o.n, meta.N, o.nq, dim, o.hosts, loadavg())

	queries, err := readRows(filepath.Join(o.data, "queries.f32"), dim, 0, o.nq)
	if err != nil {
		return err
	}

	// Exact answers first, then drop the Index: its vectors are not needed again.
	t0 := time.Now()
	exact, err := exactTopK(filepath.Join(o.data, "base.f32"), dim, o.n, queries, o.k)
	if err != nil {
		return err
	}
	fmt.Printf("exact: pinrec.Index top-%d of %d queries in %.1fs (load and search)\n", o.k, o.nq, time.Since(t0).Seconds())
	runtime.GC()

	url := "weaviate://" + o.hosts + "/" + o.collection
	if old, err := weaviate.Open(ctx, url); err == nil {
		if err := old.Drop(ctx); err != nil {
			return err
		}
	}
	st, err := weaviate.Open(ctx, url, weaviate.WithDim(dim), weaviate.WithReplication(3),
		weaviate.WithWriteConsistency(weaviate.Quorum), weaviate.WithReadConsistency(weaviate.One),
		weaviate.WithTimeout(60*time.Second))
	if err != nil {
		return err
	}
	defer st.Close()

	// Ingest, batched, from the file again in chunks.
	t0 = time.Now()
	if err := ingest(ctx, st, filepath.Join(o.data, "base.f32"), dim, o.n, o.ingestClients); err != nil {
		return err
	}
	ingestS := time.Since(t0).Seconds()
	ingestRate := float64(o.n) / ingestS
	if got, err := st.Count(ctx); err != nil || got != o.n {
		return fmt.Errorf("after ingest the collection holds %d items (%v), want %d", got, err, o.n)
	}
	fmt.Printf("ingest: %d vectors in %.1fs at QUORUM, batches of 200, %d writers: %.0f/s; load %s\n", o.n, ingestS, o.ingestClients, ingestRate, loadavg())
	rss := nodeRSS(o.clusterDir)
	fmt.Printf("resident memory per node after ingest: %s\n", rss)

	// Recall at the default ef, then the sweep.
	recallDefault, err := recall(ctx, st, queries, exact, o.k)
	if err != nil {
		return err
	}
	fmt.Printf("recall@%d at default ef (dynamic: 8*limit clamped to 100..500): %.4f\n", o.k, recallDefault)
	for f := range strings.SplitSeq(o.sweep, ",") {
		ef, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-ef %q: %w", o.sweep, err)
		}
		if err := st.SetEf(ctx, ef); err != nil {
			return err
		}
		time.Sleep(time.Second) // the schema change reaches every node through Raft
		r, err := recall(ctx, st, queries, exact, o.k)
		if err != nil {
			return err
		}
		qps, _, err := searchRate(ctx, st, queries, o.k, o.clients, o.qpsSearches/4)
		if err != nil {
			return err
		}
		fmt.Printf("ef=%d recall@%d=%.4f qps=%.0f\n", ef, o.k, r, qps)
	}
	if err := st.SetEf(ctx, -1); err != nil {
		return err
	}
	time.Sleep(time.Second)

	qps, p99, err := searchRate(ctx, st, queries, o.k, o.clients, o.qpsSearches)
	if err != nil {
		return err
	}
	fmt.Printf("search rate at default ef, consistency ONE, %d clients, %d searches: %.0f/s (p99 %.1f ms); load %s\n", o.clients, o.qpsSearches, qps, p99, loadavg())
	quorum, err := weaviate.Open(ctx, url, weaviate.WithReadConsistency(weaviate.Quorum))
	if err != nil {
		return err
	}
	qpsQ, _, err := searchRate(ctx, quorum, queries, o.k, o.clients, o.qpsSearches/2)
	if err != nil {
		return err
	}
	fmt.Printf("search rate at consistency QUORUM: %.0f/s\n", qpsQ)

	// A node killed under load.
	rep, err := killNode(ctx, url, o, queries, dim)
	if err != nil {
		return err
	}
	fmt.Printf("node kill: %+v\n", rep)
	fmt.Printf("resident memory per node at the end: %s\n", nodeRSS(o.clusterDir))
	fmt.Printf("load %s\n", loadavg())
	fmt.Printf("cluster_n=%d\n", o.n)
	fmt.Printf("cluster_recall_at_%d=%.4f\n", o.k, recallDefault)
	fmt.Printf("cluster_qps=%.0f\n", qps)
	fmt.Printf("cluster_ingest_per_s=%.0f\n", ingestRate)
	fmt.Printf("node_kill_failed_searches=%d\n", rep.FailedSearches)
	fmt.Printf("node_kill_lost_writes=%d\n", rep.LostItems)
	return nil
}

// readRows reads rows [from, from+n) of a float32 little-endian row-major file.
func readRows(path string, dim, from, n int) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n*dim*4)
	if _, err := f.ReadAt(buf, int64(from)*int64(dim)*4); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s rows %d..%d: %w", path, from, from+n, err)
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, dim)
		for j := range rows[i] {
			rows[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[(i*dim+j)*4:]))
		}
	}
	return rows, nil
}

func rowID(i int) string { return fmt.Sprintf("synth/%06d", i) }

func exactTopK(path string, dim, n int, queries [][]float32, k int) ([][]pinrec.Result, error) {
	ix, err := pinrec.NewIndex(dim, pinrec.WithCapacity(n))
	if err != nil {
		return nil, err
	}
	const chunk = 2000
	for start := 0; start < n; start += chunk {
		rows, err := readRows(path, dim, start, min(chunk, n-start))
		if err != nil {
			return nil, err
		}
		items := make([]pinrec.Item, len(rows))
		for i, r := range rows {
			items[i] = pinrec.Item{ID: rowID(start + i), Vector: r}
		}
		if err := ix.Add(items...); err != nil {
			return nil, err
		}
	}
	return ix.SearchBatch(context.Background(), queries, k)
}

func ingest(ctx context.Context, st *weaviate.Store, path string, dim, n, writers int) error {
	const chunk = 1000
	starts := make(chan int)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	var done atomic.Int64
	for range writers {
		wg.Go(func() {
			for start := range starts {
				rows, err := readRows(path, dim, start, min(chunk, n-start))
				if err == nil {
					items := make([]pinrec.Item, len(rows))
					for i, r := range rows {
						items[i] = pinrec.Item{ID: rowID(start + i), Vector: r, Meta: map[string]string{"shard": strconv.Itoa((start + i) % 7)}}
					}
					err = st.AddContext(ctx, items...)
				}
				if err != nil {
					errs <- err
					for range starts {
					}
					return
				}
				if d := done.Add(int64(len(rows))); d%20000 < chunk {
					fmt.Fprintf(os.Stderr, "ingested %d\n", d)
				}
			}
		})
	}
	for start := 0; start < n; start += chunk {
		starts <- start
	}
	close(starts)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func recall(ctx context.Context, st *weaviate.Store, queries [][]float32, exact [][]pinrec.Result, k int) (float64, error) {
	got, err := st.SearchBatch(ctx, queries, k, pinrec.WithWorkers(4))
	if err != nil {
		return 0, err
	}
	hits := 0
	for i := range queries {
		want := map[string]bool{}
		for _, r := range exact[i] {
			want[r.ID] = true
		}
		for _, r := range got[i] {
			if want[r.ID] {
				hits++
			}
		}
	}
	return float64(hits) / float64(len(queries)*k), nil
}

// searchRate runs total single-query searches from clients goroutines; it returns searches per
// second and the 99th percentile latency in ms.
func searchRate(ctx context.Context, st *weaviate.Store, queries [][]float32, k, clients, total int) (float64, float64, error) {
	var next atomic.Int64
	lat := make([]time.Duration, total)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				s := time.Now()
				if _, err := st.Search(ctx, queries[i%len(queries)], k); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(s)
			}
		})
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	select {
	case err := <-errs:
		return 0, 0, err
	default:
	}
	slices.Sort(lat)
	return float64(total) / el, float64(lat[total*99/100].Microseconds()) / 1000, nil
}

func killNode(ctx context.Context, url string, o options, queries [][]float32, dim int) (chaos.Report, error) {
	reader, err := weaviate.Open(ctx, url, weaviate.WithReadConsistency(weaviate.One),
		weaviate.WithTimeout(3*time.Second), weaviate.WithRetries(20, 50*time.Millisecond, time.Second))
	if err != nil {
		return chaos.Report{}, err
	}
	writer, err := weaviate.Open(ctx, url, weaviate.WithWriteConsistency(weaviate.Quorum),
		weaviate.WithTimeout(5*time.Second), weaviate.WithRetries(20, 100*time.Millisecond, 2*time.Second))
	if err != nil {
		return chaos.Report{}, err
	}
	verify, err := weaviate.Open(ctx, url, weaviate.WithConsistency(weaviate.All))
	if err != nil {
		return chaos.Report{}, err
	}
	sh := func(args ...string) error {
		out, err := exec.CommandContext(ctx, o.script, append(args, o.clusterDir)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %v: %v: %s", o.script, args, err, out)
		}
		return nil
	}
	return chaos.Run(ctx, chaos.Config{
		Reader: reader, Writer: writer, Verify: verify,
		Queries: queries, Searches: 300, K: o.k, KillAfter: 75,
		WriteBatch: 20, MaxWrites: 100, Dim: dim,
		KilledNode: "weaviate-2",
		Kill:       func() error { return sh("kill", "2") },
		Restart:    func() error { return sh("restart", "2") },
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		},
	})
}

// nodeRSS reads each node's VmRSS from /proc.
func nodeRSS(dir string) string {
	var parts []string
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node-%d", i), "pid"))
		if err != nil {
			parts = append(parts, fmt.Sprintf("node%d=?", i))
			continue
		}
		status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/status")
		rss := "?"
		if err == nil {
			for line := range strings.SplitSeq(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kb, _ := strconv.Atoi(strings.Fields(v)[0])
					rss = fmt.Sprintf("%.0fMiB", float64(kb)/1024)
				}
			}
		}
		parts = append(parts, fmt.Sprintf("node%d=%s", i, rss))
	}
	return strings.Join(parts, " ")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
